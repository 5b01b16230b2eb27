//! Events leave the API through the outbox: the envelopes that arrive on a queue subscribed to
//! the topic, and what happens when the topic is down or the process dies before relaying.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::{Backend, SwitchablePublisher, TestApp, proxy::Proxy};
use quickfix::domain::{EventType, Status, TicketRef};
use quickfix::{Publisher, SnsPublisher, aws_config};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

async fn created_and_resolved_events_carry_the_seed_payloads(app: TestApp) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let t = app
        .open_ticket(&customer, "Internet issue", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();

    let created = app.collect_events(EventType::TicketCreated, 1, WAIT).await;
    assert_eq!(created.len(), 1);
    let e = &created[0];
    assert_eq!(e.event_type().version(), 2);
    assert_eq!(e.data()["ticketId"], id);
    assert_eq!(e.data()["complaintId"], t["complaintId"]);
    assert_eq!(e.data()["userId"], customer.id.as_str());
    assert_eq!(e.data()["title"], "Internet issue");
    assert_eq!(e.data()["category"], "Technical");
    assert_eq!(e.data()["priority"], "Medium");
    assert!(e.data()["assignedTo"].is_null());
    assert_eq!(e.data()["description"], "Something is wrong");
    assert_eq!(e.metadata.actor, customer.id);
    assert!(e.metadata.causation_id.is_none());
    assert!(!e.metadata.correlation_id.is_empty());

    app.assign(&admin, id, &agent.id).await.expect(200);
    let resolve = app
        .send(
            app.client
                .patch(app.url(&format!("/api/complaints/{id}/status")))
                .bearer_auth(&agent.token)
                .header("x-request-id", "trace-me-42")
                .json(&json!({"status": "Resolved", "message": "Issue fixed!"})),
        )
        .await
        .expect(200);
    assert_eq!(resolve.headers.get("x-request-id").unwrap(), "trace-me-42");

    let resolved = app.collect_events(EventType::TicketResolved, 1, WAIT).await;
    assert_eq!(resolved.len(), 1);
    let r = &resolved[0];
    assert_eq!(r.data()["ticketId"], id);
    assert_eq!(r.data()["complaintId"], t["complaintId"]);
    assert_eq!(r.data()["agentId"], agent.id.as_str());
    assert_eq!(r.data()["resolvedBy"], agent.id.as_str());
    assert_eq!(r.data()["resolvedAt"], resolve.body["resolvedAt"]);
    assert_eq!(r.data()["userId"], customer.id.as_str());
    assert_eq!(r.data()["title"], "Internet issue");
    assert_eq!(r.data()["priority"], "Medium");
    assert_eq!(
        r.metadata.correlation_id, "trace-me-42",
        "the request id becomes the correlation id"
    );
}

async fn presence_changes_publish_availability_events(app: TestApp) {
    let agent = app.agent(2).await;
    // The demo agents came online at start.
    let seeded = app
        .collect_events(EventType::AgentAvailabilityChanged, 3, WAIT)
        .await;
    assert_eq!(seeded.len(), 3);
    app.patch(
        &format!("/api/agents/{}/presence", agent.id),
        Some(&agent.token),
        json!({"presence": "offline"}),
    )
    .await
    .expect(200);
    let changed = app
        .collect_events(EventType::AgentAvailabilityChanged, 1, WAIT)
        .await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].data()["agentId"], agent.id.as_str());
    assert_eq!(changed[0].data()["availability"], "offline");
    assert_eq!(changed[0].data()["previousAvailability"], "available");
}

on_both_backends!(
    created_and_resolved_events_carry_the_seed_payloads,
    presence_changes_publish_availability_events,
);

/// Opens 50 tickets while the topic is down, and moves one more ticket through its whole life;
/// brings the topic back and checks every event arrives exactly once, each ticket's in order.
async fn outage_then_recovery(app: &TestApp, bring_up: impl std::future::Future<Output = ()>) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let mut opened = HashSet::new();
    for i in 0..50 {
        let t = app
            .open_ticket(&customer, &format!("During outage {i}"), "General")
            .await;
        opened.insert(t["id"].as_str().unwrap().to_owned());
    }
    let life = app.open_ticket(&customer, "Whole life", "Technical").await;
    let life_id = life["id"].as_str().unwrap().to_owned();
    opened.insert(life_id.clone());
    app.assign(&admin, &life_id, &agent.id).await.expect(200);
    let path = format!("/api/complaints/{life_id}/status");
    app.patch(&path, Some(&agent.token), json!({"status": "InProgress"}))
        .await
        .expect(200);
    app.patch(&path, Some(&agent.token), json!({"status": "Resolved"}))
        .await
        .expect(200);

    // Nothing went out, and everything waits in the outbox.
    assert!(
        app.events
            .receive(10, Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
    let pending = app.store.pending_events(1000).await.unwrap();
    let ticket_outboxes = pending
        .iter()
        .filter(|p| matches!(p.owner, quickfix::OutboxOwner::Ticket(_)))
        .count();
    assert_eq!(ticket_outboxes, 51);

    bring_up.await;

    let mut created_ids = Vec::new();
    let mut life_events = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    while (created_ids.len() < 51 || life_events.len() < 5) && tokio::time::Instant::now() < until {
        let batch = app
            .events
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap();
        let receipts: Vec<_> = batch.iter().map(|d| d.receipt.clone()).collect();
        for d in batch {
            let e: quickfix::domain::Envelope = serde_json::from_str(&d.body).unwrap();
            if e.event_type() == EventType::TicketCreated {
                created_ids.push(e.data()["ticketId"].as_str().unwrap().to_owned());
            }
            if e.data()["ticketId"] == life_id.as_str() {
                life_events.push(e.event_type());
            }
        }
        if !receipts.is_empty() {
            app.events.delete(&receipts).await.unwrap();
        }
    }
    // Anything published twice would be here by now.
    for d in app
        .events
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap()
    {
        let e: quickfix::domain::Envelope = serde_json::from_str(&d.body).unwrap();
        assert_ne!(
            e.event_type(),
            EventType::TicketCreated,
            "a ticket.created arrived twice"
        );
    }
    assert_eq!(
        created_ids.len(),
        51,
        "exactly one ticket.created per ticket"
    );
    assert_eq!(created_ids.iter().cloned().collect::<HashSet<_>>(), opened);
    assert_eq!(
        life_events,
        [
            EventType::TicketCreated,
            EventType::TicketAssigned,
            EventType::TicketStatusChanged,
            EventType::TicketStatusChanged,
            EventType::TicketResolved,
        ],
        "one ticket's events arrive in the order they happened"
    );
    let rest = app.store.pending_events(1000).await.unwrap();
    assert!(
        rest.is_empty(),
        "outboxes are empty after relaying: {rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_outbox_survives_a_topic_outage() {
    let (store, topic, events, _) = common::backends(Backend::Embedded).await.unwrap();
    let switch = SwitchablePublisher::new(topic, false);
    let app = common::start(store, switch.clone(), events, 16 * 1024).await;
    outage_then_recovery(&app, async { switch.set_up(true) }).await;
}

/// SNS really unreachable: the publisher's endpoint is a local port that refuses connections
/// until a forwarder to the emulator starts listening on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_outbox_survives_an_unreachable_endpoint() {
    let Some((store, _, events, topology)) = common::backends(Backend::Real).await else {
        return;
    };
    let topology = topology.unwrap();
    let endpoint = common::aws_endpoint().unwrap();
    let mut proxy = Proxy::reserve(common::proxy::socket_addr(&endpoint));
    let config = aws_config(&common::aws_options(&proxy.url())).await;
    let publisher: Arc<dyn Publisher> = Arc::new(SnsPublisher::new(&config, &topology.topic_arn));
    assert!(publisher.ping().await.is_err(), "the endpoint is down");
    let app = common::start(store, publisher, events, 16 * 1024).await;
    outage_then_recovery(&app, proxy.start()).await;
}

/// A new ticket and its `ticket.created`, stored the way the API stores them, not relayed.
async fn stored_ticket(
    store: &dyn quickfix::Store,
    title: &str,
) -> (quickfix::domain::Ticket, quickfix::domain::Envelope) {
    let requester = quickfix::domain::UserId::generate();
    let seq = store.next_complaint_number().await.unwrap();
    let new = quickfix::domain::NewTicket {
        title: quickfix::domain::Title::parse(title).unwrap(),
        description: quickfix::domain::Description::parse("d").unwrap(),
        category: quickfix::domain::Categories::default()
            .parse("category", "Billing")
            .unwrap(),
        priority: quickfix::domain::Priority::Low,
        terms: Default::default(),
    };
    let meta = quickfix::domain::EventMetadata::requested("c", requester.to_string());
    let (ticket, event) = quickfix::domain::Ticket::open(
        new,
        quickfix::domain::ComplaintId::from_sequence(seq),
        requester,
        &quickfix::domain::SlaPolicy::default(),
        chrono::Utc::now(),
        meta,
    );
    store
        .insert_ticket(&ticket, std::slice::from_ref(&event))
        .await
        .unwrap();
    (ticket, event)
}

/// Events written just before a crash (stored, never relayed) are published by the next start.
async fn events_left_by_a_crash_go_out_after_restart(backend: Backend) {
    let Some((store, topic, events, _)) = common::backends(backend).await else {
        return;
    };
    // First life: the ticket and its event are stored, and the process dies before relaying.
    let (ticket, event) = stored_ticket(store.as_ref(), "Written before the crash").await;

    // Second life: a new server on the same store.
    let app = common::start(store, topic, events, 16 * 1024).await;
    let created = app.collect_events(EventType::TicketCreated, 1, WAIT).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].event_id, event.event_id);
    let stored = app
        .store
        .find_ticket(TicketRef::Id(ticket.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, Status::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_events_left_by_a_crash_go_out_after_restart() {
    events_left_by_a_crash_go_out_after_restart(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_events_left_by_a_crash_go_out_after_restart() {
    events_left_by_a_crash_go_out_after_restart(Backend::Real).await;
}

/// Relays sweeping every 20 ms on `store` and `topic`, until `stop`.
fn relays(
    n: usize,
    store: &Arc<dyn quickfix::Store>,
    topic: &Arc<dyn Publisher>,
    stop: &tokio_util::sync::CancellationToken,
) {
    for _ in 0..n {
        let relay = quickfix::OutboxRelay::new(
            store.clone(),
            topic.clone(),
            Arc::new(tokio::sync::Notify::new()),
            quickfix::RelaySettings {
                sweep_interval: Duration::from_millis(20),
                ..quickfix::RelaySettings::default()
            },
        );
        tokio::spawn(relay.run(stop.clone()));
    }
}

/// Every message on `queue` until none comes for a while: their event ids.
async fn drain_event_ids(queue: &dyn quickfix::Queue, want: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for body in common::collect_bodies(queue, want, WAIT).await {
        let e: quickfix::domain::Envelope = serde_json::from_str(&body).unwrap();
        ids.push(e.event_id.to_string());
    }
    // Anything beyond `want` is a duplicate; give it time to show up.
    ids.extend(
        common::collect_bodies(queue, usize::MAX, Duration::from_secs(3))
            .await
            .into_iter()
            .map(|b| {
                serde_json::from_str::<quickfix::domain::Envelope>(&b)
                    .unwrap()
                    .event_id
                    .to_string()
            }),
    );
    ids
}

/// Five relays on one store publish each of 40 events exactly once.
async fn five_relays_publish_each_event_once(backend: Backend) {
    let Some((store, topic, events, _)) = common::backends(backend).await else {
        return;
    };
    let stop = tokio_util::sync::CancellationToken::new();
    relays(5, &store, &topic, &stop);
    for n in 0..40 {
        stored_ticket(store.as_ref(), &format!("Ticket number {n}")).await;
    }
    let ids = drain_event_ids(events.as_ref(), 40).await;
    stop.cancel();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 40, "every event published");
    assert_eq!(
        ids.len(),
        40,
        "and each exactly once: {} publishes",
        ids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_five_relays_publish_each_event_once() {
    five_relays_publish_each_event_once(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_five_relays_publish_each_event_once() {
    five_relays_publish_each_event_once(Backend::Real).await;
}

/// A relay that claimed events and died: once its lease ends, another relay publishes them,
/// once.
async fn a_dead_relays_lease_is_taken_over(backend: Backend) {
    let Some((store, topic, events, _)) = common::backends(backend).await else {
        return;
    };
    let (_, event) = stored_ticket(store.as_ref(), "Claimed by a relay that died").await;
    let now = chrono::Utc::now();
    let dead = quickfix::OutboxLease {
        relay: "relay-that-died".into(),
        now,
        until: now + chrono::TimeDelta::seconds(2),
    };
    assert_eq!(store.claim_events(&dead, 10).await.unwrap().len(), 1);
    let stop = tokio_util::sync::CancellationToken::new();
    relays(2, &store, &topic, &stop);
    let ids = drain_event_ids(events.as_ref(), 1).await;
    stop.cancel();
    assert_eq!(ids, [event.event_id.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_dead_relays_lease_is_taken_over() {
    a_dead_relays_lease_is_taken_over(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_dead_relays_lease_is_taken_over() {
    a_dead_relays_lease_is_taken_over(Backend::Real).await;
}
