//! Records written straight to a store, for the store contract suite (`tests/store_contract*.rs`):
//! tickets opened now, users and online agents, outbox leases and stored answers.

use chrono::Utc;
use quickfix::Store;
use quickfix::domain::{
    AgentProfile, Categories, ComplaintId, Description, Email, Envelope, EventMetadata, NewTicket,
    PasswordHash, PersonName, Presence, Priority, Role, SlaPolicy, Ticket, Tier, Title, User,
    UserId,
};

/// The metadata of every event the contract tests write.
pub fn meta() -> EventMetadata {
    EventMetadata::requested("corr", "tester")
}

/// The system clock's time.
pub fn now() -> chrono::DateTime<Utc> {
    quickfix::domain::Clock::now(&quickfix::domain::SystemClock)
}

/// Ticket number `store_seq`, opened now by `requester`, with its `ticket.created` event.
pub fn new_ticket(
    store_seq: u64,
    requester: UserId,
    category: &str,
    priority: Priority,
) -> (Ticket, Envelope) {
    let new = NewTicket {
        title: Title::parse(&format!("Ticket {store_seq}")).unwrap(),
        description: Description::parse("details").unwrap(),
        category: Categories::default().parse("category", category).unwrap(),
        priority,
        terms: Default::default(),
    };
    Ticket::open(
        new,
        ComplaintId::from_sequence(store_seq),
        requester,
        &SlaPolicy::default(),
        now(),
        meta(),
    )
}

/// Opens a ticket under the store's next complaint number and stores it with its event.
pub async fn insert_ticket(
    store: &dyn Store,
    requester: UserId,
    category: &str,
    priority: Priority,
) -> Ticket {
    let seq = store.next_complaint_number().await.unwrap();
    let (ticket, event) = new_ticket(seq, requester, category, priority);
    store.insert_ticket(&ticket, &[event]).await.unwrap();
    ticket
}

/// A user with a fake password hash; an agent (Technical, capacity 2) when `role` is agent.
pub fn user(email: &str, role: Role) -> User {
    let agent = (role == Role::Agent).then(|| {
        let skills = vec![Categories::default().parse("skills", "Technical").unwrap()];
        AgentProfile::new(skills, Tier::Agent, 2).unwrap()
    });
    User::new(
        PersonName::parse("Test Person").unwrap(),
        Email::parse(email).unwrap(),
        role,
        PasswordHash::from_phc("$argon2id$fake".into()),
        agent,
        now(),
    )
}

/// Stores an agent (see [`user`]) who is online, with the presence event.
pub async fn online_agent(store: &dyn Store, email: &str) -> User {
    let mut agent = user(email, Role::Agent);
    let event = agent.set_presence(Presence::Online, now(), meta()).unwrap();
    store.insert_user(&agent, &[event]).await.unwrap();
    agent
}

/// Stores an online agent with one skill and `capacity`, without events.
pub async fn agent(store: &dyn Store, email: &str, skill: &str, capacity: u32) -> User {
    let skills = vec![Categories::default().parse("skills", skill).unwrap()];
    let mut a = user(email, Role::Agent);
    a.agent = Some(AgentProfile::new(skills, Tier::Agent, capacity).unwrap());
    a.set_presence(Presence::Online, now(), meta());
    store.insert_user(&a, &[]).await.unwrap();
    a
}

/// A lease for `relay`, taken at `now`, for `seconds`.
pub fn lease(
    relay: &str,
    now: chrono::DateTime<chrono::Utc>,
    seconds: i64,
) -> quickfix::OutboxLease {
    quickfix::OutboxLease {
        relay: relay.to_owned(),
        now,
        until: now + chrono::TimeDelta::seconds(seconds),
    }
}

/// A stored 201 answer under `key`, kept until `expires_at`.
pub fn stored_answer(
    key: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> quickfix::StoredAnswer {
    quickfix::StoredAnswer {
        key: key.to_owned(),
        fingerprint: "f".into(),
        status: 201,
        body: r#"{"id":"x"}"#.into(),
        expires_at,
    }
}
