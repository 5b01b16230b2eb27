//! Acknowledging a missed SLA target: agents and admins do it once per breach, it publishes
//! `sla.breach_acknowledged`, and the escalation rules measured from that target stop (the
//! scan on a controllable clock, on both store adapters; the API on the embedded backends and
//! on MongoDB + SNS/SQS).

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use quickfix::Store;
use quickfix::domain::{
    EscalationAction, EventType, HistoryKind, Mark, MessageBody, Principal, Priority, Role,
    SlaTarget, TicketId, TicketRef,
};
use serde_json::json;

use common::escalation::{Scene, meta, policy, rule, t0};
use common::{TestApp, assert_error};

async fn an_acknowledged_breach_escalates_no_further(store: Arc<dyn Store>) {
    let ladder = vec![
        rule(
            "overdue",
            Mark::ResolutionDue,
            TimeDelta::zero(),
            &[EscalationAction::NotifyManagers],
        ),
        rule(
            "long-overdue",
            Mark::ResolutionDue,
            TimeDelta::hours(4),
            &[EscalationAction::NotifyManagers],
        ),
    ];
    let s = Scene::new(store, policy(ladder));
    let admin = Principal {
        id: quickfix::domain::UserId::generate(),
        role: Role::Admin,
    };
    let acknowledged = s.open(1, Priority::High).await;
    let control = s.open(2, Priority::High).await;
    // Both are answered at once (no first-response breach): only the resolution is missed.
    for t in [&acknowledged, &control] {
        let mut answered = s.ticket(t).await;
        let body = MessageBody::parse("body", "We are on it").unwrap();
        let events = answered
            .reply(&admin, body, &s.ctx.sla, t0(), meta())
            .unwrap();
        assert!(s.store.update_ticket(&answered, &events).await.unwrap());
    }
    let due = acknowledged.sla.resolution.due_at;
    let report = s.scan_at(due).await;
    assert_eq!((report.breaches, report.escalations), (2, 2), "{report:?}");

    let mut t = s.ticket(&acknowledged).await;
    let event = t
        .acknowledge_breach(&admin, SlaTarget::Resolution, &s.ctx.sla, due, meta())
        .unwrap();
    assert_eq!(event.event_type(), EventType::SlaBreachAcknowledged);
    assert!(s.store.update_ticket(&t, &[event]).await.unwrap());

    // Four hours on, the unacknowledged ticket climbs the ladder; the acknowledged one stays.
    let report = s.scan_at(due + TimeDelta::hours(4)).await;
    assert_eq!(report.escalations, 1, "{report:?}");
    assert_eq!(s.ticket(&control).await.sla.escalation_level, 2);
    let t = s.ticket(&acknowledged).await;
    assert_eq!(t.sla.escalation_level, 1);
    assert_eq!(t.sla.resolution.acknowledged_at, Some(due));
    assert_eq!(t.history.last().unwrap().kind, HistoryKind::SlaAcknowledged);
    let last = s.outbox(&acknowledged).await.last().unwrap().event_type();
    assert_eq!(last, EventType::SlaBreachAcknowledged);
}

/// Marks the stored ticket's resolution target as missed, as the scan would have.
async fn breach(app: &TestApp, id: &str) {
    let id = TicketId::parse(id).unwrap();
    let mut t = app
        .store
        .find_ticket(TicketRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    t.sla.resolution.breached_at = Some(t.sla.resolution.due_at);
    assert!(app.store.update_ticket(&t, &[]).await.unwrap());
}

async fn only_staff_acknowledge_a_missed_target_once(app: TestApp) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let t = app
        .open_ticket(&customer, "Payments failing", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    app.assign(&admin, id, &agent.id).await.expect(200);
    let path = format!("/api/complaints/{id}/sla/acknowledge");

    let not_missed = app
        .post(&path, Some(&agent.token), json!({"target": "resolution"}))
        .await;
    assert_error(&not_missed, 409, "conflict");
    assert_eq!(not_missed.field(), "target");
    let unknown = app
        .post(&path, Some(&agent.token), json!({"target": "lunch"}))
        .await;
    assert_error(&unknown, 422, "validation_failed");
    assert_eq!(unknown.field(), "target");

    breach(&app, id).await;
    let refused = app
        .post(
            &path,
            Some(&customer.token),
            json!({"target": "resolution"}),
        )
        .await;
    assert_error(&refused, 403, "forbidden");
    let done = app
        .post(&path, Some(&agent.token), json!({"target": "resolution"}))
        .await
        .expect(200);
    assert!(
        done.body["sla"]["resolution"]["acknowledgedAt"].is_string(),
        "{}",
        done.body
    );
    assert!(done.body["sla"]["firstResponse"]["acknowledgedAt"].is_null());
    let again = app
        .post(&path, Some(&admin.token), json!({"target": "resolution"}))
        .await;
    assert_error(&again, 409, "conflict");
}

on_both_stores!(an_acknowledged_breach_escalates_no_further);

mod api {
    use super::*;

    on_both_backends!(only_staff_acknowledge_a_missed_target_once);
}
