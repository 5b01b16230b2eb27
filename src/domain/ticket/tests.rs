use super::lifecycle::is_legal_transition;
use super::*;
use crate::domain::{EventType, SlaPolicy};
use proptest::prelude::*;

fn meta() -> EventMetadata {
    EventMetadata::requested("c", "a")
}

fn principal(role: Role) -> Principal {
    Principal {
        id: UserId::generate(),
        role,
    }
}

fn open_ticket(requester: UserId) -> Ticket {
    let new = NewTicket {
        title: Title::parse("Printer on fire").unwrap(),
        description: Description::parse("It smokes").unwrap(),
        category: Categories::default()
            .parse("category", "technical")
            .unwrap(),
        priority: Priority::Medium,
        terms: Default::default(),
    };
    Ticket::open(
        new,
        ComplaintId::from_sequence(7),
        requester,
        &SlaPolicy::default(),
        Utc::now(),
        meta(),
    )
    .0
}

#[test]
fn complaint_ids_format_and_parse() {
    let id = ComplaintId::from_sequence(42);
    assert_eq!(id.to_string(), "COMP-00042");
    assert_eq!(ComplaintId::parse("comp-00042").unwrap(), id);
    assert_eq!(
        ComplaintId::parse("COMP-1234567").unwrap().to_string(),
        "COMP-1234567"
    );
    for bad in ["COMP-", "COMP-12a", "42", "", "CMP-00001"] {
        assert!(ComplaintId::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn created_event_carries_the_seed_fields() {
    let user = UserId::generate();
    let new = NewTicket {
        title: Title::parse("Internet issue").unwrap(),
        description: Description::parse("down").unwrap(),
        category: Categories::default()
            .parse("category", "Technical")
            .unwrap(),
        priority: Priority::High,
        terms: Default::default(),
    };
    let (t, e) = Ticket::open(
        new,
        ComplaintId::from_sequence(12345),
        user,
        &SlaPolicy::default(),
        Utc::now(),
        meta(),
    );
    assert_eq!(e.event_type(), EventType::TicketCreated);
    assert_eq!(e.data()["ticketId"], t.id.to_string());
    assert_eq!(e.data()["complaintId"], "COMP-12345");
    assert_eq!(e.data()["userId"], user.to_string());
    assert_eq!(e.data()["title"], "Internet issue");
    assert_eq!(e.data()["category"], "Technical");
    assert_eq!(e.data()["priority"], "High");
    assert!(e.data()["assignedTo"].is_null());
}

#[test]
fn assigned_agent_resolves_and_the_resolved_event_follows() {
    let customer = principal(Role::Customer);
    let agent = principal(Role::Agent);
    let mut t = open_ticket(customer.id);
    t.assign(agent.id, "system", None, Utc::now(), meta())
        .unwrap();
    let events = t
        .change_status(
            &agent,
            Status::Resolved,
            Some("fixed".into()),
            &SlaPolicy::default(),
            Utc::now(),
            meta(),
        )
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        kinds,
        [EventType::TicketStatusChanged, EventType::TicketResolved]
    );
    assert_eq!(events[1].data()["agentId"], agent.id.to_string());
    assert_eq!(events[1].data()["resolvedBy"], agent.id.to_string());
    assert!(t.resolved_at.is_some());
    assert_eq!(t.history.last().unwrap().note.as_deref(), Some("fixed"));
}

#[test]
fn another_agent_may_not_resolve() {
    let mut t = open_ticket(UserId::generate());
    t.assign(UserId::generate(), "system", None, Utc::now(), meta())
        .unwrap();
    let err = t
        .change_status(
            &principal(Role::Agent),
            Status::Resolved,
            None,
            &SlaPolicy::default(),
            Utc::now(),
            meta(),
        )
        .unwrap_err();
    assert!(matches!(err, StatusChangeError::Forbidden(_)));
    assert_eq!(t.status, Status::Assigned);
}

#[test]
fn open_ticket_cannot_be_resolved_or_started() {
    let admin = principal(Role::Admin);
    for to in [
        Status::Resolved,
        Status::InProgress,
        Status::Assigned,
        Status::Open,
    ] {
        let mut t = open_ticket(UserId::generate());
        let err = t
            .change_status(&admin, to, None, &SlaPolicy::default(), Utc::now(), meta())
            .unwrap_err();
        assert!(
            matches!(err, StatusChangeError::IllegalTransition { .. }),
            "{to}"
        );
    }
}

proptest! {
    #[test]
    fn titles_are_bounded(s in "\\PC{0,300}") {
        match Title::parse(&s) {
            Ok(t) => {
                let n = t.as_str().chars().count();
                prop_assert!((3..=Title::MAX_CHARS).contains(&n));
                prop_assert_eq!(t.as_str(), s.trim());
            }
            Err(e) => prop_assert_eq!(e.field, "title"),
        }
    }

    #[test]
    fn any_path_segment_parses_or_errors_without_panicking(s in "\\PC{0,40}") {
        let _ = TicketRef::parse(&s);
    }

    #[test]
    fn only_legal_transitions_change_the_status(from_i in 0usize..5, to_i in 0usize..5) {
        let (from, to) = (Status::ALL[from_i], Status::ALL[to_i]);
        let admin = principal(Role::Admin);
        let mut t = open_ticket(UserId::generate());
        t.status = from;
        t.assignee = Some(UserId::generate());
        let result = t.change_status(&admin, to, None, &SlaPolicy::default(), Utc::now(), meta());
        prop_assert_eq!(result.is_ok(), is_legal_transition(from, to));
        prop_assert_eq!(t.status, if result.is_ok() { to } else { from });
    }
}
