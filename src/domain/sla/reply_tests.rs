//! The targets that measure replies: the first response is the staff's first public reply
//! (not the assignment, a note or the customer's own words), and every customer reply starts a
//! next-reply wait that the staff's next public reply ends, counted in time or late.

use super::fixtures::{assigned_high, body, meta, t0};
use super::*;

fn minutes(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(n)
}

#[test]
fn the_first_response_is_the_staffs_first_public_reply() {
    let policy = SlaPolicy::default();
    let (mut t, agent, customer) = assigned_high(&policy);
    assert_eq!(t.sla.first_response.met_at, None, "assignment is no answer");
    t.add_note(&agent, body("checking the logs"), minutes(10), meta())
        .unwrap();
    t.reply(&customer, body("any news?"), &policy, minutes(20), meta())
        .unwrap();
    assert_eq!(
        t.sla.first_response.met_at, None,
        "nor a note, nor the customer"
    );
    t.reply(&agent, body("Found it"), &policy, minutes(30), meta())
        .unwrap();
    assert_eq!(t.sla.first_response.met_at, Some(minutes(30)));
    t.reply(&agent, body("Fixed"), &policy, minutes(40), meta())
        .unwrap();
    assert_eq!(
        t.sla.first_response.met_at,
        Some(minutes(30)),
        "the first one counts"
    );
    assert_eq!(
        t.sla.first_response.outcome(true, minutes(90)),
        Outcome::Met
    );
}

#[test]
fn each_customer_reply_waits_for_the_next_staff_reply() {
    let policy = SlaPolicy::default();
    let (mut t, agent, customer) = assigned_high(&policy);
    assert!(t.sla.next_reply.is_none());
    t.reply(&customer, body("first"), &policy, minutes(0), meta())
        .unwrap();
    t.reply(&customer, body("second"), &policy, minutes(50), meta())
        .unwrap();
    let cycle = t.sla.next_reply.unwrap();
    assert_eq!(
        cycle.due_at,
        minutes(120),
        "the oldest unanswered reply sets the pace"
    );
    assert_eq!(cycle.warn_at, minutes(96));

    // Unanswered: warned at 80%, breached at the due time, like any target.
    assert_eq!(
        t.due_sla_marks(minutes(96)),
        [
            SlaMark::Breach(SlaTarget::FirstResponse),
            SlaMark::Warning(SlaTarget::NextReply)
        ],
        "nobody from the staff has answered at all"
    );
    t.plan_sla_check(&policy);
    assert_eq!(
        t.sla.check_at,
        Some(minutes(15)),
        "the agent's 15 minutes to act on the ticket run out first"
    );
    assert!(
        t.due_sla_marks(minutes(120))
            .contains(&SlaMark::Breach(SlaTarget::NextReply))
    );

    // Answered late, then a new wait answered in time.
    t.reply(&agent, body("sorry"), &policy, minutes(130), meta())
        .unwrap();
    assert_eq!((t.sla.replies_met, t.sla.replies_missed), (0, 1));
    t.reply(
        &customer,
        body("still broken"),
        &policy,
        minutes(140),
        meta(),
    )
    .unwrap();
    assert_eq!(t.sla.next_reply.unwrap().due_at, minutes(260));
    t.reply(&agent, body("on it"), &policy, minutes(150), meta())
        .unwrap();
    assert_eq!((t.sla.replies_met, t.sla.replies_missed), (1, 1));
    assert_eq!(
        t.sla.next_reply_outcomes(true, minutes(151)),
        Compliance {
            met: 1,
            missed: 1,
            pending: 0
        }
    );
    // A waiting reply counts as pending, then missed once overdue.
    t.reply(&customer, body("hello?"), &policy, minutes(200), meta())
        .unwrap();
    assert_eq!(t.sla.next_reply_outcomes(true, minutes(201)).pending, 1);
    assert_eq!(t.sla.next_reply_outcomes(true, minutes(320)).missed, 2);
}

#[test]
fn the_next_reply_target_comes_from_the_sla_file_or_the_default() {
    let policy = crate::sla_file::parse(
        "[targets.High]\nfirst_response = \"1h\"\nnext_reply = \"45m\"\nresolution = \"8h\"\n",
    )
    .unwrap();
    assert_eq!(
        policy.targets(Priority::High).next_reply,
        TimeDelta::minutes(45)
    );
    assert_eq!(
        policy.targets(Priority::Low).next_reply,
        SlaPolicy::default().targets(Priority::Low).next_reply
    );
}

#[test]
fn the_requesters_reply_reopens_a_resolved_ticket_within_the_window() {
    let policy = SlaPolicy::default()
        .with_reopen_within(TimeDelta::days(2))
        .unwrap();
    let (mut t, agent, customer) = assigned_high(&policy);
    t.change_status(&agent, Status::Resolved, None, &policy, minutes(10), meta())
        .unwrap();
    let mut late = t.clone();

    // The staff may still write on a resolved ticket; that reopens nothing.
    t.reply(&agent, body("Glad it works"), &policy, minutes(20), meta())
        .unwrap();
    assert_eq!(t.status, Status::Resolved);

    let events = t
        .reply(
            &customer,
            body("It broke again"),
            &policy,
            minutes(30),
            meta(),
        )
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    use crate::domain::EventType::*;
    assert_eq!(kinds, [TicketReplied, TicketStatusChanged, TicketRequeued]);
    assert_eq!(t.status, Status::Open);
    assert_eq!(t.assignee, None);
    assert!(
        t.was_assigned_to(agent.id),
        "routing tries the agent who had it"
    );
    assert_eq!(
        t.sla.resolution.met_at, None,
        "the resolution is owed again"
    );

    let too_late = minutes(10) + TimeDelta::days(2) + TimeDelta::seconds(1);
    assert_eq!(
        late.reply(&customer, body("Hello?"), &policy, too_late, meta()),
        Err(crate::domain::ConversationError::TooLateToReopen { days: 2 })
    );
    assert_eq!(late.status, Status::Resolved);
    assert_eq!(late.messages.len(), 0, "nothing written");
}
