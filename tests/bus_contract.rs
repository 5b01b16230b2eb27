//! One contract for both bus adapters: every test runs against the in-process topic and queues
//! and against SNS + SQS on the emulator (a fresh topology per test).

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use quickfix::domain::{Envelope, EventMetadata, EventType};
use quickfix::{
    Delivery, MemoryTopology, Publisher, Queue, SnsPublisher, SqsQueue, TopologySpec, aws_config,
};
use serde_json::json;

/// A topic with the worker queue (filtered) and its dead-letter queue.
struct Bus {
    topic: Arc<dyn Publisher>,
    queue: Arc<dyn Queue>,
    dead_letters: Arc<dyn Queue>,
}

fn spec() -> TopologySpec {
    TopologySpec {
        event_types: vec![EventType::TicketCreated, EventType::TicketResolved],
        max_receive_count: 2,
        visibility_timeout: Duration::from_secs(1),
        ..common::unique_spec(vec![])
    }
}

fn memory_bus() -> Bus {
    let t = MemoryTopology::provision(&spec());
    Bus {
        topic: t.topic,
        queue: t.queue,
        dead_letters: t.dead_letter_queue,
    }
}

async fn aws_bus() -> Option<Bus> {
    let endpoint = common::aws_endpoint()?;
    let topology = common::aws_topology(&endpoint, &spec()).await;
    let config = aws_config(&common::aws_options(&endpoint)).await;
    Some(Bus {
        topic: Arc::new(SnsPublisher::new(&config, &topology.topic_arn)),
        queue: Arc::new(SqsQueue::new(&config, &topology.queue_url)),
        dead_letters: Arc::new(SqsQueue::new(&config, &topology.dead_letter_queue_url)),
    })
}

/// Event `n` of `event_type` (ticket events name ticket `n`'s number).
fn event(event_type: EventType, n: u32) -> Envelope {
    let meta = EventMetadata::requested(format!("corr-{n}"), "tester");
    let someone = uuid::Uuid::now_v7();
    let data = match event_type {
        EventType::TicketCreated => json!({
            "ticketId": uuid::Uuid::now_v7(), "complaintId": format!("COMP-{n:05}"),
            "userId": someone, "title": format!("ticket {n}"), "category": "Technical",
            "priority": "Medium", "assignedTo": null, "description": "It broke"}),
        EventType::TicketResolved => json!({
            "ticketId": uuid::Uuid::now_v7(), "complaintId": format!("COMP-{n:05}"),
            "agentId": someone, "resolvedBy": someone, "resolvedAt": Utc::now(),
            "userId": someone, "title": format!("ticket {n}"), "priority": "Medium"}),
        EventType::AgentAvailabilityChanged => json!({
            "agentId": someone, "name": format!("agent {n}"), "presence": "online",
            "availability": "available", "previousAvailability": "offline", "freeSlots": 1,
            "capacity": 1, "skills": ["Technical"], "tier": "agent"}),
        other => panic!("no sample {other} event"),
    };
    common::envelope(event_type, data, &meta)
}

/// Receives until one message arrives or `deadline` passes.
async fn receive_one(queue: &dyn Queue, deadline: Duration) -> Option<Delivery> {
    let until = tokio::time::Instant::now() + deadline;
    while tokio::time::Instant::now() < until {
        let mut got = queue.receive(1, Duration::from_secs(1)).await.unwrap();
        if let Some(d) = got.pop() {
            return Some(d);
        }
    }
    None
}

/// A W3C trace context, as a traced span would emit it.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn publishes_raw_envelopes_with_the_event_type_attribute(bus: Bus) {
    let mut sent = event(EventType::TicketCreated, 1);
    sent.metadata = sent.metadata.traced(Some(TRACEPARENT.to_owned()));
    let report = bus
        .topic
        .publish(std::slice::from_ref(&sent))
        .await
        .unwrap();
    assert_eq!(report.published, vec![sent.event_id]);
    assert!(report.failed.is_empty());

    let got = receive_one(bus.queue.as_ref(), Duration::from_secs(10))
        .await
        .expect("delivered");
    assert_eq!(got.event_type.as_deref(), Some("ticket.created"));
    assert!(
        got.attributes
            .contains(&("traceparent".to_owned(), TRACEPARENT.to_owned())),
        "a traced event carries its trace context as an attribute: {:?}",
        got.attributes
    );
    // Raw delivery: the body is the envelope itself, not an SNS notification wrapper.
    let body: Envelope = serde_json::from_str(&got.body).expect("body is the envelope");
    assert_eq!(body, sent);
    assert_eq!(got.receive_count, 1);
    bus.queue.delete(&[got.receipt]).await.unwrap();
    assert!(
        bus.queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn filter_policy_delivers_only_subscribed_event_types(bus: Bus) {
    let skipped = event(EventType::AgentAvailabilityChanged, 1);
    let wanted = event(EventType::TicketResolved, 2);
    bus.topic.publish(&[skipped, wanted.clone()]).await.unwrap();

    let mut bodies = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while bodies.is_empty() && tokio::time::Instant::now() < until {
        for d in bus.queue.receive(10, Duration::from_secs(1)).await.unwrap() {
            bus.queue
                .delete(std::slice::from_ref(&d.receipt))
                .await
                .unwrap();
            bodies.push(serde_json::from_str::<Envelope>(&d.body).unwrap());
        }
    }
    // Anything filtered wrongly would have been published first and be here by now.
    for d in bus.queue.receive(10, Duration::from_secs(1)).await.unwrap() {
        bodies.push(serde_json::from_str::<Envelope>(&d.body).unwrap());
    }
    assert_eq!(bodies, vec![wanted]);
}

async fn unacknowledged_messages_return_after_the_visibility_timeout(bus: Bus) {
    bus.topic
        .publish(&[event(EventType::TicketCreated, 1)])
        .await
        .unwrap();
    let first = receive_one(bus.queue.as_ref(), Duration::from_secs(10))
        .await
        .expect("first delivery");
    assert_eq!(first.receive_count, 1);
    // Not deleted: hidden for one second, then delivered again with a higher receive count.
    let again = receive_one(bus.queue.as_ref(), Duration::from_secs(10))
        .await
        .expect("redelivered");
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.body, first.body);
    assert_eq!(again.receive_count, 2);
    assert_ne!(again.receipt, first.receipt);
}

async fn visibility_can_be_released_at_once(bus: Bus) {
    bus.topic
        .publish(&[event(EventType::TicketCreated, 1)])
        .await
        .unwrap();
    let first = receive_one(bus.queue.as_ref(), Duration::from_secs(10))
        .await
        .expect("delivered");
    bus.queue
        .change_visibility(&first.receipt, Duration::ZERO)
        .await
        .unwrap();
    let again = bus
        .queue
        .receive(1, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(
        again.len(),
        1,
        "visible again without waiting for the timeout"
    );
    assert_eq!(again[0].message_id, first.message_id);
}

async fn messages_move_to_the_dead_letter_queue_after_max_receive_count(bus: Bus) {
    let poison = event(EventType::TicketCreated, 9);
    bus.topic
        .publish(std::slice::from_ref(&poison))
        .await
        .unwrap();
    // maxReceiveCount is 2: two receives without a delete, then the next receive moves it.
    for expected in 1..=2 {
        let d = receive_one(bus.queue.as_ref(), Duration::from_secs(10))
            .await
            .expect("delivered");
        assert_eq!(d.receive_count, expected);
    }
    let dead = common::eventually(Duration::from_secs(15), || async {
        // Receiving from the worker queue is what triggers the move.
        let _ = bus
            .queue
            .receive(1, Duration::from_millis(500))
            .await
            .unwrap();
        bus.dead_letters
            .receive(1, Duration::from_millis(200))
            .await
            .unwrap()
            .pop()
    })
    .await
    .expect("the message reached the dead-letter queue");
    let body: Envelope = serde_json::from_str(&dead.body).unwrap();
    assert_eq!(body.event_id, poison.event_id);
    assert!(
        bus.queue
            .receive(1, Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn batches_of_more_than_ten_are_all_delivered(bus: Bus) {
    let events: Vec<_> = (0..23)
        .map(|n| event(EventType::TicketCreated, n))
        .collect();
    let report = bus.topic.publish(&events).await.unwrap();
    assert_eq!(report.published.len(), 23);
    let mut seen = std::collections::HashSet::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    while seen.len() < 23 && tokio::time::Instant::now() < until {
        let batch = bus.queue.receive(10, Duration::from_secs(1)).await.unwrap();
        let receipts: Vec<_> = batch.iter().map(|d| d.receipt.clone()).collect();
        for d in batch {
            seen.insert(serde_json::from_str::<Envelope>(&d.body).unwrap().event_id);
        }
        if !receipts.is_empty() {
            bus.queue.delete(&receipts).await.unwrap();
        }
    }
    assert_eq!(seen, events.iter().map(|e| e.event_id).collect());
}

async fn a_waiting_receive_wakes_when_a_message_arrives(bus: Bus) {
    let queue = bus.queue.clone();
    // Long poll for 20 s; the message is published while the receive is waiting.
    let waiting =
        tokio::spawn(async move { queue.receive(10, Duration::from_secs(20)).await.unwrap() });
    tokio::task::yield_now().await;
    let sent = event(EventType::TicketCreated, 5);
    bus.topic
        .publish(std::slice::from_ref(&sent))
        .await
        .unwrap();
    // Well before the 20 s wait runs out, the receive has returned with the message (the
    // receive may also have started after the publish; either way it must not sit out its wait).
    let got = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the long poll returned before its wait ran out")
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        serde_json::from_str::<Envelope>(&got[0].body)
            .unwrap()
            .event_id,
        sent.event_id
    );
}

macro_rules! bus_contract {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::memory_bus()).await;
                }
            )+
        }
        mod sns_sqs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(bus) = super::aws_bus().await else { return };
                    super::$name(bus).await;
                }
            )+
        }
    };
}

bus_contract!(
    publishes_raw_envelopes_with_the_event_type_attribute,
    filter_policy_delivers_only_subscribed_event_types,
    unacknowledged_messages_return_after_the_visibility_timeout,
    visibility_can_be_released_at_once,
    messages_move_to_the_dead_letter_queue_after_max_receive_count,
    batches_of_more_than_ten_are_all_delivered,
    a_waiting_receive_wakes_when_a_message_arrives,
);
