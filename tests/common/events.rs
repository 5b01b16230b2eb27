//! Events in tests: observing what reaches a queue, and building events as a producer (or a
//! forger) puts them on the wire or as the event log stores them.

use std::time::Duration;

use quickfix::Queue;
use quickfix::domain::{Envelope, EventMetadata, EventType};
use serde_json::{Value, json};

use super::TestApp;

impl TestApp {
    /// Receives events until `want` of type `event_type` have arrived or `deadline` passes;
    /// returns those of that type (and deletes everything received).
    pub async fn collect_events(
        &self,
        event_type: EventType,
        want: usize,
        deadline: Duration,
    ) -> Vec<Envelope> {
        collect_events(self.events.as_ref(), event_type, want, deadline).await
    }
}

/// See [`TestApp::collect_events`].
pub async fn collect_events(
    queue: &dyn Queue,
    event_type: EventType,
    want: usize,
    deadline: Duration,
) -> Vec<Envelope> {
    let until = tokio::time::Instant::now() + deadline;
    let mut found = Vec::new();
    while found.len() < want && tokio::time::Instant::now() < until {
        let batch = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        for delivery in batch {
            let envelope: Envelope =
                serde_json::from_str(&delivery.body).expect("event body is an envelope");
            assert_eq!(
                delivery.event_type.as_deref(),
                Some(envelope.event_type().as_str()),
                "eventType attribute matches the body"
            );
            if envelope.event_type() == event_type {
                found.push(envelope);
            }
        }
        if !receipts.is_empty() {
            queue.delete(&receipts).await.expect("delete");
        }
    }
    found
}

/// Receives (and deletes) message bodies until `want` have arrived or `deadline` passes.
pub async fn collect_bodies(queue: &dyn Queue, want: usize, deadline: Duration) -> Vec<String> {
    let until = tokio::time::Instant::now() + deadline;
    let mut bodies = Vec::new();
    while bodies.len() < want && tokio::time::Instant::now() < until {
        let batch = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        bodies.extend(batch.into_iter().map(|d| d.body));
        if !receipts.is_empty() {
            queue.delete(&receipts).await.expect("delete");
        }
    }
    bodies
}

/// An event as any producer (or a forger) puts it on the wire: the envelope of `event_type`
/// around `data`, which must carry the fields the type requires to be handled.
pub fn wire_event(event_type: EventType, data: Value, meta: &EventMetadata) -> String {
    json!({
        "eventId": uuid::Uuid::new_v4(),
        "eventType": event_type.as_str(),
        "version": event_type.version(),
        "timestamp": chrono::Utc::now(),
        "data": data,
        "metadata": meta,
    })
    .to_string()
}

/// [`wire_event`], read back as the envelope a consumer sees.
pub fn envelope(event_type: EventType, data: Value, meta: &EventMetadata) -> Envelope {
    Envelope::from_json(&wire_event(event_type, data, meta)).expect("a complete event")
}

/// Some `ticket.requeued` event, for what needs an event but not a particular one (the cause of
/// a notification, say).
pub fn some_event() -> Envelope {
    let ticket = uuid::Uuid::now_v7().to_string();
    envelope(
        EventType::TicketRequeued,
        json!({"ticketId": ticket, "complaintId": "COMP-00001", "userId": uuid::Uuid::now_v7(),
               "title": "A ticket", "category": "General", "priority": "Low",
               "previousAssignee": null, "reason": "test"}),
        &EventMetadata::system("test"),
    )
}

/// A logged event of `kind` about `ticket`, by `actor`, in `correlation`, at `at`.
pub fn logged(
    kind: EventType,
    ticket: quickfix::domain::TicketId,
    actor: &str,
    correlation: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> quickfix::domain::LoggedEvent {
    use quickfix::domain::{
        Event, LoggedEvent, Priority, SlaAlert, SlaTarget, Status, TicketRequeued, UserId,
    };
    let complaint_id = quickfix::domain::ComplaintId::from_sequence(7);
    let requester = UserId::generate();
    let event = match kind {
        EventType::SlaWarning => Event::SlaWarning(SlaAlert {
            ticket_id: ticket,
            complaint_id,
            user_id: requester,
            title: "A ticket".into(),
            priority: Priority::High,
            status: Status::Open,
            assigned_to: None,
            target: SlaTarget::FirstResponse,
            due_at: at,
            rule: "High first response target 4h".into(),
        }),
        _ => Event::TicketRequeued(TicketRequeued {
            ticket_id: ticket,
            complaint_id,
            user_id: requester,
            title: "A ticket".into(),
            category: "General".into(),
            priority: Priority::Low,
            previous_assignee: None,
            reason: "test".into(),
        }),
    };
    LoggedEvent::new(
        Envelope::new(event, EventMetadata::requested(correlation, actor), at),
        at + chrono::TimeDelta::milliseconds(3),
    )
}
