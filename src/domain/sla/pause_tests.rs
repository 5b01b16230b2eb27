//! Waiting on the customer: the resolution clock stops while a ticket is `Pending`, its due
//! times move by the paused time, a customer reply restarts it, and a ticket left waiting too
//! long is resolved for the customer.

use super::fixtures::{assigned_high, body, meta, t0};
use super::*;
use crate::domain::Calendar;
use crate::domain::{
    ConversationError, EventType, HistoryKind, Principal, Role, StatusChangeError, Ticket, UserId,
};

/// [`assigned_high`], its agent having answered at once (the first response is met).
fn assigned(policy: &SlaPolicy) -> (Ticket, Principal, Principal) {
    let (mut t, agent, customer) = assigned_high(policy);
    t.reply(&agent, body("Looking into it"), policy, t0(), meta())
        .unwrap();
    (t, agent, customer)
}

fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

fn pend(t: &mut Ticket, agent: &Principal, policy: &SlaPolicy, at: DateTime<Utc>) {
    t.change_status(agent, Status::Pending, None, policy, at, meta())
        .unwrap();
}

#[test]
fn a_pending_ticket_owes_no_resolution_while_it_waits_and_its_due_time_moves() {
    let policy = SlaPolicy::default();
    let (mut t, agent, customer) = assigned(&policy);
    let due = t.sla.resolution.due_at;
    assert_eq!(due, t0() + hours(8));
    pend(&mut t, &agent, &policy, t0() + hours(2));
    assert_eq!(t.sla.paused_since, Some(t0() + hours(2)));

    // Long past the old due time, nothing is owed: no warning, no breach, nothing at risk.
    let later = t0() + hours(30);
    assert!(t.due_sla_marks(later).is_empty());
    assert_eq!(t.sla_next_due(), None);
    t.plan_sla_check(&policy);
    assert_eq!(
        t.sla.check_at,
        Some(t0() + hours(2) + policy.pending_resolve_after()),
        "the only look left is the automatic resolution"
    );

    // The customer's reply restarts the clock: the 28 h it stood still move the due time.
    let events = t
        .reply(&customer, body("Here are the logs"), &policy, later, meta())
        .unwrap();
    let kinds: Vec<EventType> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        kinds,
        [EventType::TicketReplied, EventType::TicketStatusChanged]
    );
    assert_eq!(t.status, Status::InProgress);
    assert_eq!(t.sla.paused_since, None);
    assert_eq!(t.sla.paused, hours(28));
    assert_eq!(t.sla.resolution.due_at, due + hours(28));
    assert_eq!(
        t.sla.resolution.warn_at,
        t0() + hours(28) + TimeDelta::minutes(384)
    );
    let last = t.history.last().unwrap();
    assert_eq!(
        (last.kind, last.actor.as_str()),
        (HistoryKind::StatusChanged, customer.id.to_string().as_str())
    );
    // The agent answers the customer at once: only the resolution clock is left.
    t.reply(&agent, body("Thanks, checking"), &policy, later, meta())
        .unwrap();
    assert_eq!(
        t.due_sla_marks(due + hours(27)),
        [SlaMark::Warning(SlaTarget::Resolution)],
        "the warning comes at 80% of the target, counted without the pause"
    );
    assert_eq!(
        t.due_sla_marks(due + hours(28)),
        [SlaMark::Breach(SlaTarget::Resolution)]
    );
}

#[test]
fn a_priority_change_keeps_the_paused_time() {
    let policy = SlaPolicy::default();
    let (mut t, agent, _) = assigned(&policy);
    pend(&mut t, &agent, &policy, t0() + hours(1));
    t.change_status(
        &agent,
        Status::InProgress,
        None,
        &policy,
        t0() + hours(4),
        meta(),
    )
    .unwrap();
    assert_eq!(t.sla.paused, hours(3));
    t.priority = Priority::Critical;
    t.retarget_sla(&policy);
    assert_eq!(t.sla.resolution.due_at, t0() + hours(4) + hours(3));
    assert_eq!(t.sla.first_response.due_at, t0() + TimeDelta::minutes(15));
}

#[test]
fn business_hours_count_only_the_working_time_paused() {
    let hours_9_to_17 = crate::domain::BusinessHours::parse(
        "UTC",
        &[
            ("mon", "09:00-17:00"),
            ("tue", "09:00-17:00"),
            ("wed", "09:00-17:00"),
        ],
    )
    .unwrap();
    let d = SlaPolicy::default();
    let policy = SlaPolicy::new(
        |p| d.targets(p),
        0.8,
        Calendar::Business(hours_9_to_17),
        Vec::new(),
    )
    .unwrap();
    // Monday 10:00; paused from 12:00 to Tuesday 10:00 = 5 h + 1 h of working time.
    let (mut t, agent, _) = assigned(&policy);
    pend(&mut t, &agent, &policy, t0() + hours(2));
    t.change_status(
        &agent,
        Status::InProgress,
        None,
        &policy,
        t0() + hours(24),
        meta(),
    )
    .unwrap();
    assert_eq!(t.sla.paused, hours(6));
}

#[test]
fn only_staff_set_pending_and_a_ticket_waits_only_with_an_agent() {
    let policy = SlaPolicy::default();
    let (mut t, agent, customer) = assigned(&policy);
    let err = t
        .change_status(&customer, Status::Pending, None, &policy, t0(), meta())
        .unwrap_err();
    assert!(
        matches!(err, StatusChangeError::Forbidden(why) if why.contains("Pending")),
        "the refusal names the rule"
    );
    assert_eq!(t.status, Status::Assigned);
    pend(&mut t, &agent, &policy, t0());
    assert_eq!(t.status, Status::Pending);

    let (mut open, _, _) = assigned(&policy);
    open.assignee = None;
    open.status = Status::Open;
    let admin = Principal {
        id: UserId::generate(),
        role: Role::Admin,
    };
    assert!(matches!(
        open.change_status(&admin, Status::Pending, None, &policy, t0(), meta()),
        Err(StatusChangeError::IllegalTransition { .. })
    ));
}

#[test]
fn a_ticket_left_waiting_is_resolved_for_the_customer_once() {
    let policy = SlaPolicy::default()
        .with_pending_resolve_after(TimeDelta::days(3))
        .unwrap();
    let (mut t, agent, _) = assigned(&policy);
    pend(&mut t, &agent, &policy, t0());
    let due = t0() + TimeDelta::days(3);
    assert_eq!(t.pending_resolves_at(&policy), Some(due));
    assert!(
        t.resolve_unanswered(&policy, due - TimeDelta::seconds(1), meta())
            .is_none()
    );

    let events = t.resolve_unanswered(&policy, due, meta()).unwrap();
    let kinds: Vec<EventType> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        kinds,
        [EventType::TicketStatusChanged, EventType::TicketResolved]
    );
    assert_eq!(t.status, Status::Resolved);
    assert_eq!(t.sla.resolution.met_at, Some(due));
    let last = t.history.last().unwrap();
    assert_eq!(last.actor, "system");
    assert!(last.note.as_deref().unwrap().contains("3 days"), "{last:?}");
    assert!(
        t.resolve_unanswered(&policy, due + hours(1), meta())
            .is_none(),
        "once"
    );
}

#[test]
fn a_closed_ticket_takes_no_reply_and_a_note_is_for_staff() {
    let policy = SlaPolicy::default();
    let (mut t, agent, customer) = assigned(&policy);
    assert!(matches!(
        t.add_note(&customer, body("let me see"), t0(), meta()),
        Err(ConversationError::Forbidden(_))
    ));
    let updated = t.updated_at;
    t.add_note(&agent, body("check the firmware"), t0() + hours(1), meta())
        .unwrap();
    assert_eq!(
        t.updated_at, updated,
        "a note is no change the customer sees"
    );
    assert_eq!(
        t.thread_for(Role::Customer).count(),
        1,
        "the agent's reply only"
    );
    assert_eq!(t.thread_for(Role::Agent).count(), 2);
    t.status = Status::Closed;
    assert_eq!(
        t.reply(&customer, body("hello?"), &policy, t0(), meta()),
        Err(ConversationError::Closed)
    );
    assert_eq!(t.messages.len(), 2, "nothing added");
}
