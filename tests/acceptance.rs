//! Acceptance timeout on a controllable clock, on both store adapters: an assigned ticket
//! nobody acted on goes to another eligible agent when its priority's time runs out (the first
//! agent's slot is freed, `ticket.reassigned` says why), round the agents until the policy's
//! number of reassignments, then it escalates once; an agent's reply in time keeps it.

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use quickfix::Store;
use quickfix::domain::{EventType, MessageBody, Principal, Priority, Role, SlaPolicy, Tier, User};

use common::escalation::{Scene, meta, policy, t0};

fn acceptance_policy() -> SlaPolicy {
    // High: 15 minutes to act; two reassignments, then escalate.
    policy(Vec::new())
        .with_acceptance(|_| TimeDelta::minutes(15), 2)
        .unwrap()
}

fn as_agent(u: &User) -> Principal {
    Principal {
        id: u.id,
        role: Role::Agent,
    }
}

async fn an_unaccepted_ticket_goes_round_the_agents_then_escalates(store: Arc<dyn Store>) {
    let s = Scene::new(store, acceptance_policy());
    let ana = s.user("ana@x.test", Role::Agent, Tier::Agent, 1).await;
    let ben = s.user("ben@x.test", Role::Agent, Tier::Agent, 1).await;
    let t = s.assign(&s.open(1, Priority::High).await, &ana).await;
    let minute = |m: i64| t0() + TimeDelta::minutes(m);

    assert_eq!(
        s.scan_at(minute(15) - TimeDelta::milliseconds(1))
            .await
            .unaccepted,
        0
    );
    assert_eq!(s.scan_at(minute(15)).await.unaccepted, 1);
    let moved = s.ticket(&t).await;
    assert_eq!(moved.assignee, Some(ben.id), "another eligible agent");
    assert_eq!(
        (s.free_slots(&ana).await, s.free_slots(&ben).await),
        (1, 0),
        "Ana's slot freed"
    );
    let events: Vec<EventType> = s.outbox(&t).await.iter().map(|e| e.event_type()).collect();
    assert!(
        events.ends_with(&[EventType::TicketAssigned, EventType::TicketReassigned]),
        "{events:?}"
    );
    let reassigned = s.outbox(&t).await.pop().unwrap();
    let data = reassigned.event.payload_json();
    assert_eq!(data["reason"], "not accepted within 15m");
    assert_eq!(data["from"], ana.id.to_string());
    assert_eq!(data["reassignments"], 1);

    // Ben does not act either: back to Ana (free again), then no more rounds: escalate, once.
    assert_eq!(s.scan_at(minute(30)).await.unaccepted, 1);
    assert_eq!(s.ticket(&t).await.assignee, Some(ana.id));
    let report = s.scan_at(minute(45)).await;
    assert_eq!(report.unaccepted, 0);
    let escalated = s.ticket(&t).await;
    assert!(escalated.sla.acceptance_escalated);
    assert_eq!(escalated.assignee, Some(ana.id), "it stays with its agent");
    let last = s.outbox(&t).await.pop().unwrap();
    assert_eq!(last.event_type(), EventType::TicketEscalated);
    assert_eq!(last.event.payload_json()["rule"], "not-accepted");
    let escalations = async || {
        s.outbox(&t)
            .await
            .iter()
            .filter(|e| e.event_type() == EventType::TicketEscalated)
            .count()
    };
    assert_eq!(escalations().await, 1);
    s.scan_at(minute(120)).await;
    assert_eq!(escalations().await, 1, "escalated once");
}

async fn an_agent_who_replies_in_time_keeps_the_ticket(store: Arc<dyn Store>) {
    let s = Scene::new(store, acceptance_policy());
    let ana = s.user("ana@x.test", Role::Agent, Tier::Agent, 1).await;
    let _ben = s.user("ben@x.test", Role::Agent, Tier::Agent, 1).await;
    let t = s.assign(&s.open(1, Priority::High).await, &ana).await;
    let mut answered = s.ticket(&t).await;
    let body = MessageBody::parse("body", "Looking at it").unwrap();
    let events = answered
        .reply(
            &as_agent(&ana),
            body,
            &s.ctx.sla,
            t0() + TimeDelta::minutes(10),
            meta(),
        )
        .unwrap();
    assert!(s.store.update_ticket(&answered, &events).await.unwrap());
    assert_eq!(s.scan_at(t0() + TimeDelta::hours(2)).await.unaccepted, 0);
    assert_eq!(s.ticket(&t).await.assignee, Some(ana.id));
}

async fn with_nobody_else_free_the_ticket_stays(store: Arc<dyn Store>) {
    let s = Scene::new(store, acceptance_policy());
    let ana = s.user("ana@x.test", Role::Agent, Tier::Agent, 1).await;
    let t = s.assign(&s.open(1, Priority::High).await, &ana).await;
    assert_eq!(s.scan_at(t0() + TimeDelta::minutes(20)).await.unaccepted, 0);
    let kept = s.ticket(&t).await;
    assert_eq!(kept.assignee, Some(ana.id));
    assert_eq!(kept.sla.reassignments, 0);
    // A second agent comes online: the next scan hands it over.
    let ben = s.user("ben@x.test", Role::Agent, Tier::Agent, 1).await;
    assert_eq!(s.scan_at(t0() + TimeDelta::minutes(21)).await.unaccepted, 1);
    assert_eq!(s.ticket(&t).await.assignee, Some(ben.id));
}

on_both_stores!(
    an_unaccepted_ticket_goes_round_the_agents_then_escalates,
    an_agent_who_replies_in_time_keeps_the_ticket,
    with_nobody_else_free_the_ticket_stays,
);
