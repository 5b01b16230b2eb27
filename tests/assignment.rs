//! The assignment rules (`src/domain/assignment.rs`) as both store adapters apply them: for
//! the same random agents and tickets, the memory and the MongoDB adapter claim the same agents
//! in the same order, offer the same backlog ticket, and put the same tickets in the SLA scan.

mod common;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use quickfix::domain::{
    AgentProfile, Categories, Category, ComplaintId, Description, Email, EventMetadata, NewTicket,
    PasswordHash, PersonName, Presence, Priority, Role, SlaPolicy, Status, Ticket, TicketId, Tier,
    Title, User,
};
use quickfix::{MemoryStore, Store};

/// Random cases per property: each one builds a fresh MongoDB database.
const CASES: u32 = 24;

const CATEGORIES: [&str; 2] = ["Technical", "Billing"];

fn category(i: usize) -> Category {
    Categories::default()
        .parse("category", CATEGORIES[i % CATEGORIES.len()])
        .unwrap()
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

fn minute(n: u32) -> DateTime<Utc> {
    base() + TimeDelta::minutes(i64::from(n))
}

fn meta() -> EventMetadata {
    EventMetadata::system("assignment-test")
}

/// One generated agent.
#[derive(Debug, Clone)]
struct AgentSpec {
    online: bool,
    /// Bit 0: Technical, bit 1: Billing (at least one).
    skills: u8,
    tier: usize,
    capacity: u32,
    held: u32,
    last_assigned: Option<u32>,
}

fn agent_spec() -> impl Strategy<Value = AgentSpec> {
    (
        any::<bool>(),
        1_u8..=3,
        0_usize..3,
        1_u32..=3,
        0_u32..=3,
        proptest::option::of(0_u32..4),
    )
        .prop_map(
            |(online, skills, tier, capacity, held, last_assigned)| AgentSpec {
                online,
                skills,
                tier,
                capacity,
                held: held.min(capacity),
                last_assigned,
            },
        )
}

fn agent(spec: &AgentSpec, n: usize) -> User {
    let skills = (0..CATEGORIES.len())
        .filter(|i| spec.skills & (1 << i) != 0)
        .map(category)
        .collect();
    let tier = [Tier::Agent, Tier::Senior, Tier::Manager][spec.tier];
    let mut profile = AgentProfile::new(skills, tier, spec.capacity).unwrap();
    profile.presence = Presence::Online;
    for _ in 0..spec.held {
        assert!(profile.take_slot(TicketId::generate(), base()));
    }
    profile.last_assigned_at = spec.last_assigned.map(minute);
    if !spec.online {
        profile.presence = Presence::Offline;
    }
    User::new(
        PersonName::parse("Agent").unwrap(),
        Email::parse(&format!("agent{n}@example.com")).unwrap(),
        Role::Agent,
        PasswordHash::from_phc("$argon2id$fake".into()),
        Some(profile),
        base(),
    )
}

/// The same users in a memory store and a fresh MongoDB database.
async fn both(users: &[User], tickets: &[Ticket]) -> Option<[Box<dyn Store>; 2]> {
    let mongo = common::mongo_store().await?;
    let stores: [Box<dyn Store>; 2] = [Box::new(MemoryStore::new()), Box::new(mongo)];
    for store in &stores {
        for user in users {
            store.insert_user(user, &[]).await.unwrap();
        }
        for ticket in tickets {
            store.insert_ticket(ticket, &[]).await.unwrap();
        }
    }
    Some(stores)
}

/// Runs `property` on `CASES` inputs from `strategy`, the same inputs on every run.
fn check<S: Strategy>(strategy: S, property: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    TestRunner::new_with_rng(config, rng)
        .run(&strategy, property)
        .unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Claims for a run of tickets go to the same agents, one after another, until nobody can take
/// one: eligibility (presence, free slots, skill, tier), least loaded then longest idle then
/// oldest account, and the slot counts each claim leaves behind.
#[test]
fn both_adapters_claim_the_same_agents_in_the_same_order() {
    if common::mongo_uri().is_none() {
        return;
    }
    let rt = runtime();
    let claims = prop::collection::vec((0_usize..2, proptest::option::of(0_usize..3)), 1..8);
    check(
        (prop::collection::vec(agent_spec(), 1..7), claims),
        |(specs, claims)| {
            let users: Vec<User> = specs.iter().enumerate().map(|(n, s)| agent(s, n)).collect();
            rt.block_on(async {
                let stores = both(&users, &[]).await.unwrap();
                for (k, (cat, tier)) in claims.iter().enumerate() {
                    let tier = tier.map(|t| [Tier::Agent, Tier::Senior, Tier::Manager][t]);
                    let ticket = TicketId::generate();
                    let now = minute(10 + k as u32);
                    let mut chosen = Vec::new();
                    for store in &stores {
                        let got = store
                            .claim_agent(&category(*cat), tier, ticket, now)
                            .await
                            .unwrap();
                        chosen.push(got.map(|u| (u.id, u.agent.unwrap().free_slots)));
                    }
                    prop_assert_eq!(&chosen[0], &chosen[1], "claim {} of {:?}", k, claims);
                }
                Ok(())
            })
        },
    );
}

/// One generated ticket: its priority, category, whether it is still open, and its age.
fn ticket(priority: usize, cat: usize, open: bool, age: u32, seq: u64) -> Ticket {
    let new = NewTicket {
        title: Title::parse(&format!("Ticket {seq}")).unwrap(),
        description: Description::parse("details").unwrap(),
        category: category(cat),
        priority: Priority::ALL[priority],
        terms: Default::default(),
    };
    let (mut t, _) = Ticket::open(
        new,
        ComplaintId::from_sequence(seq),
        quickfix::domain::UserId::generate(),
        &SlaPolicy::default(),
        minute(age),
        meta(),
    );
    if !open {
        t.status = Status::Closed;
    }
    t
}

/// The backlog offers the same ticket for any set of skills: open tickets only, highest
/// priority first, then the oldest.
#[test]
fn both_adapters_offer_the_same_backlog_ticket() {
    if common::mongo_uri().is_none() {
        return;
    }
    let rt = runtime();
    let tickets = prop::collection::vec((0_usize..4, 0_usize..2, any::<bool>(), 0_u32..30), 1..12);
    check((tickets, 1_u8..=3), |(specs, skills)| {
        // Ticket ids are time-ordered: make them in age order, as the API does.
        let mut specs = specs;
        specs.sort_by_key(|s| s.3);
        let tickets: Vec<Ticket> = specs
            .iter()
            .enumerate()
            .map(|(n, &(p, c, open, age))| ticket(p, c, open, age, n as u64 + 1))
            .collect();
        let skills: Vec<Category> = (0..CATEGORIES.len())
            .filter(|i| skills & (1 << i) != 0)
            .map(category)
            .collect();
        rt.block_on(async {
            let stores = both(&[], &tickets).await.unwrap();
            let mut offered = Vec::new();
            for store in &stores {
                let next = store.next_backlog_ticket(&skills).await.unwrap();
                let open = store.count_open_tickets().await.unwrap();
                offered.push((next.map(|t| t.id), open));
            }
            prop_assert_eq!(&offered[0], &offered[1]);
            Ok(())
        })
    });
}

/// The SLA scan and the due lists hold the same tickets in the same order: active tickets
/// only, by their check and due times.
#[test]
fn both_adapters_watch_the_same_tickets_for_the_sla() {
    if common::mongo_uri().is_none() {
        return;
    }
    let rt = runtime();
    // Distinct ages, so no two tickets share a check time.
    let tickets = prop::collection::btree_map(0_u32..600, (0_usize..4, any::<bool>()), 1..12);
    check((tickets, 0_u32..1_200), |(specs, now)| {
        let tickets: Vec<Ticket> = specs
            .iter()
            .enumerate()
            .map(|(n, (&age, &(p, open)))| ticket(p, 0, open, age, n as u64 + 1))
            .collect();
        let now = minute(now);
        rt.block_on(async {
            let stores = both(&[], &tickets).await.unwrap();
            let mut watched = Vec::new();
            for store in &stores {
                let due: Vec<TicketId> = store
                    .sla_checks_due(now, 100)
                    .await
                    .unwrap()
                    .iter()
                    .map(|t| t.id)
                    .collect();
                let soon: Vec<TicketId> = store
                    .tickets_due(None, now + TimeDelta::hours(8), 100)
                    .await
                    .unwrap()
                    .iter()
                    .map(|t| t.id)
                    .collect();
                watched.push((due, soon));
            }
            prop_assert_eq!(&watched[0], &watched[1]);
            Ok(())
        })
    });
}
