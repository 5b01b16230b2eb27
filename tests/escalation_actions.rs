//! What an escalation does, on a controllable clock against both store adapters: reassignment
//! to a higher tier goes through the atomic claim and respects capacity; breaches and
//! escalations notify managers and admins, once however often the event is delivered.

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use quickfix::Store;
use quickfix::domain::{
    EscalationAction, EventType, HistoryKind, Mark, NotificationKind, Priority, Role, Ticket, Tier,
    UserId,
};
use quickfix::worker::dispatch;

use common::escalation::{Scene, policy, rule, t0};

async fn reassignment_goes_up_a_tier_and_respects_capacity(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        policy(vec![rule(
            "overdue",
            Mark::ResolutionDue,
            TimeDelta::zero(),
            &[EscalationAction::ReassignHigherTier],
        )]),
    );
    let agent = s.user("agent@x.test", Role::Agent, Tier::Agent, 2).await;
    let senior = s.user("senior@x.test", Role::Agent, Tier::Senior, 1).await;
    let manager = s
        .user("manager@x.test", Role::Agent, Tier::Manager, 1)
        .await;
    // The senior's only slot is taken.
    let busy = s.open(1, Priority::Low).await;
    s.assign(&busy, &senior).await;
    let first = s.open(2, Priority::Critical).await;
    let second = s.open(3, Priority::Critical).await;
    s.assign(&first, &agent).await;
    s.assign(&second, &agent).await;

    let report = s.scan_at(t0() + TimeDelta::hours(4)).await;
    assert_eq!(
        (report.escalations, report.reassigned),
        (2, 1),
        "{report:?}"
    );

    let (first, second) = (s.ticket(&first).await, s.ticket(&second).await);
    let moved: Vec<&Ticket> = [&first, &second]
        .into_iter()
        .filter(|t| t.assignee == Some(manager.id))
        .collect();
    assert_eq!(moved.len(), 1, "the senior is full, the manager takes one");
    let stayed = if moved[0].id == first.id {
        &second
    } else {
        &first
    };
    assert_eq!(stayed.assignee, Some(agent.id));
    let note = stayed
        .history
        .iter()
        .find(|h| h.kind == HistoryKind::Escalated)
        .and_then(|h| h.note.clone())
        .unwrap();
    assert!(note.contains("no higher-tier agent free"), "{note}");
    assert_eq!(s.free_slots(&manager).await, 0);
    assert_eq!(s.free_slots(&senior).await, 0);
    assert_eq!(
        s.free_slots(&agent).await,
        1,
        "the moved ticket's slot is released"
    );
    let events: Vec<EventType> = s
        .outbox(moved[0])
        .await
        .iter()
        .map(|e| e.event_type())
        .collect();
    assert_eq!(
        &events[events.len() - 3..],
        [
            EventType::SlaBreach,
            EventType::TicketEscalated,
            EventType::TicketAssigned
        ]
    );
}

async fn breaches_and_escalations_notify_managers_and_admins(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        policy(vec![rule(
            "late",
            Mark::FirstResponseDue,
            TimeDelta::zero(),
            &[EscalationAction::NotifyManagers],
        )]),
    );
    let admin = s.user("admin@x.test", Role::Admin, Tier::Agent, 1).await;
    let manager = s.user("boss@x.test", Role::Agent, Tier::Manager, 1).await;
    let agent = s.user("agent@x.test", Role::Agent, Tier::Agent, 1).await;
    // Both agents are busy, so the ticket waits and misses its first response.
    let (a, b) = (
        s.open(1, Priority::Low).await,
        s.open(2, Priority::Low).await,
    );
    s.assign(&a, &manager).await;
    s.assign(&b, &agent).await;
    let t = s.open(3, Priority::Critical).await;
    s.scan_at(t0() + TimeDelta::minutes(15)).await;
    for event in s.outbox(&t).await {
        dispatch(&s.ctx, &event).await.unwrap();
        dispatch(&s.ctx, &event).await.unwrap(); // redelivered: nothing more
    }
    // Made at the same instant: compared without order.
    let mut expected = vec![
        NotificationKind::SlaBreached,
        NotificationKind::TicketEscalated,
    ];
    expected.sort();
    assert_eq!(inbox(&s, admin.id).await, expected);
    assert_eq!(inbox(&s, manager.id).await, expected);
    assert!(inbox(&s, agent.id).await.is_empty());
}

async fn inbox(s: &Scene, user: UserId) -> Vec<NotificationKind> {
    let mut kinds: Vec<NotificationKind> = s
        .store
        .list_notifications(Some(user), None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.kind)
        .collect();
    kinds.sort();
    kinds
}

on_both_stores!(
    reassignment_goes_up_a_tier_and_respects_capacity,
    breaches_and_escalations_notify_managers_and_admins,
);
