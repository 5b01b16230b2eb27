//! What the SLA tests share: a High ticket with its customer and agent, on a fixed clock.

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::{
    Categories, ComplaintId, Description, EventMetadata, MessageBody, NewTicket, Principal,
    Priority, Role, SlaPolicy, Ticket, Title, UserId,
};

pub(super) fn meta() -> EventMetadata {
    EventMetadata::system("c")
}

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

pub(super) fn body(text: &str) -> MessageBody {
    MessageBody::parse("body", text).unwrap()
}

/// A High ticket (first response 1 h, next reply 2 h, resolution 8 h) opened at `t0` and
/// assigned at once; returns it with its agent and its customer.
pub(super) fn assigned_high(policy: &SlaPolicy) -> (Ticket, Principal, Principal) {
    let customer = Principal {
        id: UserId::generate(),
        role: Role::Customer,
    };
    let agent = Principal {
        id: UserId::generate(),
        role: Role::Agent,
    };
    let new = NewTicket {
        title: Title::parse("Cannot log in").unwrap(),
        description: Description::parse("Since the update").unwrap(),
        category: Categories::default()
            .parse("category", "Technical")
            .unwrap(),
        priority: Priority::High,
        terms: Default::default(),
    };
    let (mut t, _) = Ticket::open(
        new,
        ComplaintId::from_sequence(3),
        customer.id,
        policy,
        t0(),
        meta(),
    );
    t.assign(agent.id, "system", None, t0(), meta()).unwrap();
    (t, agent, customer)
}
