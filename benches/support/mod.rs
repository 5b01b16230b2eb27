//! What several benchmarks share: percentiles, event metadata, and the agents that take the
//! tickets of a run.
#![allow(dead_code)]

use chrono::Utc;
use quickfix::Store;
use quickfix::domain::{
    AgentProfile, Categories, Email, EventMetadata, PasswordHash, PersonName, Presence, Role, Tier,
    User,
};

/// The nearest-rank `p`th percentile (0–100) of `sorted`; the default value when it is empty.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Metadata of the events a benchmark writes itself.
pub fn meta() -> EventMetadata {
    EventMetadata::requested("bench", "bench")
}

/// Agents seeded by [`seed_agents`], with [`SLOTS_PER_AGENT`] slots each.
pub const AGENTS: usize = 20;
/// Slots of each seeded agent.
pub const SLOTS_PER_AGENT: u32 = 50;

/// [`AGENTS`] online agents taking `General` tickets, `agent{i}@{domain}`.
pub async fn seed_agents(store: &dyn Store, domain: &str) {
    let general = Categories::default().parse("skills", "General").unwrap();
    for i in 0..AGENTS {
        let mut agent = User::new(
            PersonName::parse(&format!("Agent {i}")).unwrap(),
            Email::parse(&format!("agent{i}@{domain}")).unwrap(),
            Role::Agent,
            PasswordHash::from_phc(String::new()),
            Some(AgentProfile::new(vec![general.clone()], Tier::Agent, SLOTS_PER_AGENT).unwrap()),
            Utc::now(),
        );
        agent.set_presence(Presence::Online, Utc::now(), meta());
        store.insert_user(&agent, &[]).await.unwrap();
    }
}
