//! Waiting on the customer (`Pending`): the assigned agent sets it, a customer cannot; the
//! resolution clock stands still and the ticket shows it; a customer reply takes the ticket
//! back to `InProgress`; and the escalation scan resolves a ticket left waiting too long, on a
//! controllable clock. Each test runs on both store adapters (the API ones on the embedded
//! backends and on MongoDB + SNS/SQS).

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use quickfix::Store;
use quickfix::domain::{
    EventType, MessageBody, Principal, Priority, Role, SlaPolicy, Status, Tier,
};
use serde_json::json;

use common::escalation::{Scene, meta, policy, t0};
use common::{TestApp, assert_error};

async fn a_ticket_left_waiting_is_resolved_by_the_scan_once(store: Arc<dyn Store>) {
    let policy = policy(Vec::new())
        .with_pending_resolve_after(TimeDelta::days(2))
        .unwrap();
    let s = Scene::new(store, policy.clone());
    let agent = s.user("waiting@x.test", Role::Agent, Tier::Agent, 1).await;
    let t = s.assign(&s.open(1, Priority::High).await, &agent).await;
    let mut pending = t.clone();
    let as_agent = Principal {
        id: agent.id,
        role: Role::Agent,
    };
    // The agent answers (the first response is met) and waits for the customer.
    let question = MessageBody::parse("body", "Which model is it?").unwrap();
    let mut events = pending
        .reply(&as_agent, question, &policy, t0(), meta())
        .unwrap();
    events.extend(
        pending
            .change_status(&as_agent, Status::Pending, None, &policy, t0(), meta())
            .unwrap(),
    );
    assert!(s.store.update_ticket(&pending, &events).await.unwrap());

    // Far past the resolution target (8 h) and just short of two days: nothing happens.
    let report = s
        .scan_at(t0() + TimeDelta::days(2) - TimeDelta::seconds(1))
        .await;
    assert_eq!(
        (report.breaches, report.warnings, report.auto_resolved),
        (0, 0, 0),
        "{report:?}"
    );
    assert_eq!(s.ticket(&t).await.status, Status::Pending);

    let report = s.scan_at(t0() + TimeDelta::days(2)).await;
    assert_eq!(report.auto_resolved, 1, "{report:?}");
    let resolved = s.ticket(&t).await;
    assert_eq!(resolved.status, Status::Resolved);
    assert_eq!(resolved.sla.check_at, None);
    assert_eq!(resolved.history.last().unwrap().actor, "system");
    let tail: Vec<EventType> = s
        .outbox(&t)
        .await
        .iter()
        .rev()
        .take(2)
        .map(|e| e.event_type())
        .collect();
    assert_eq!(
        tail,
        [EventType::TicketResolved, EventType::TicketStatusChanged]
    );
    assert_eq!(
        s.scan_at(t0() + TimeDelta::days(3)).await.auto_resolved,
        0,
        "once"
    );
}

async fn the_agent_sets_pending_and_the_customers_reply_ends_it(app: TestApp) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let t = app
        .open_ticket(&customer, "Printer jammed", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    app.assign(&admin, id, &agent.id).await.expect(200);
    let status = format!("/api/complaints/{id}/status");

    let refused = app
        .patch(&status, Some(&customer.token), json!({"status": "Pending"}))
        .await;
    assert_error(&refused, 403, "forbidden");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Pending"),
        "{}",
        refused.body
    );

    let waiting = app
        .patch(
            &status,
            Some(&agent.token),
            json!({"status": "Pending", "message": "Need the model number"}),
        )
        .await
        .expect(200);
    assert_eq!(waiting.body["status"], "Pending");
    assert!(
        waiting.body["sla"]["pausedSince"].is_string(),
        "{}",
        waiting.body
    );

    app.post(
        &format!("/api/complaints/{id}/replies"),
        Some(&customer.token),
        json!({"body": "It is an LX-200"}),
    )
    .await
    .expect(201);
    let back = app
        .get(&format!("/api/complaints/{id}"), Some(&customer.token))
        .await
        .expect(200);
    assert_eq!(back.body["status"], "InProgress");
    assert!(back.body["sla"]["pausedSince"].is_null(), "{}", back.body);
    assert!(back.body["sla"]["pausedSeconds"].as_i64().unwrap() >= 0);
    let history = app
        .get(
            &format!("/api/complaints/{id}/history"),
            Some(&customer.token),
        )
        .await
        .expect(200);
    let last = history.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("Pending"), Some("InProgress"))
    );
    assert_eq!(last["actor"], customer.id.as_str());

    // A Pending ticket keeps its agent: an admin's reply does not end the wait, the agent can.
    app.patch(&status, Some(&agent.token), json!({"status": "Pending"}))
        .await
        .expect(200);
    app.post(
        &format!("/api/complaints/{id}/replies"),
        Some(&admin.token),
        json!({"body": "Any news?"}),
    )
    .await
    .expect(201);
    let still = app
        .get(&format!("/api/complaints/{id}"), Some(&agent.token))
        .await
        .expect(200);
    assert_eq!(still.body["status"], "Pending");
    assert_eq!(still.body["assignedTo"], agent.id.as_str());
    app.patch(&status, Some(&agent.token), json!({"status": "Resolved"}))
        .await
        .expect(200);
}

on_both_stores!(a_ticket_left_waiting_is_resolved_by_the_scan_once);

mod api {
    use super::*;

    on_both_backends!(the_agent_sets_pending_and_the_customers_reply_ends_it);
}

#[test]
fn the_sla_file_sets_how_long_a_ticket_waits() {
    let policy = quickfix::sla_file::parse("pending_resolve_after = \"3days\"").unwrap();
    assert_eq!(policy.pending_resolve_after(), TimeDelta::days(3));
    assert_eq!(
        SlaPolicy::default().pending_resolve_after(),
        TimeDelta::days(7)
    );
    let err = quickfix::sla_file::parse("pending_resolve_after = \"soon\"").unwrap_err();
    assert!(err.to_string().contains("pending_resolve_after"), "{err}");
}
