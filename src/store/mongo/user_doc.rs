//! How an account is stored: one `users` document, an agent's profile and slot holds inside it.

use mongodb::bson;
use serde::{Deserialize, Serialize};

use super::outbox_doc::OutboxEntry;
use super::outbox_doc::outbox_entries;
use super::{bson_time, chrono_time, corrupt, rev};
use crate::domain::{
    AgentProfile, Category, Email, Envelope, OrganizationId, PasswordHash, PersonName, Presence,
    Role, SlotHold, TicketId, Tier, User, UserId,
};
use crate::store::StoreResult;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentDoc {
    pub(super) skills: Vec<String>,
    pub(super) tier: Tier,
    pub(super) capacity: i64,
    pub(super) presence: Presence,
    pub(super) free_slots: i64,
    /// Slots held: one per ticket.
    #[serde(default)]
    pub(super) holds: Vec<HoldDoc>,
    /// [`AgentProfile::load`], for sorting least-loaded first.
    #[serde(default)]
    pub(super) load: i64,
    pub(super) last_assigned_at: Option<bson::DateTime>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct HoldDoc {
    pub(super) ticket: String,
    pub(super) since: bson::DateTime,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) role: Role,
    pub(super) password_hash: String,
    pub(super) agent: Option<AgentDoc>,
    pub(super) created_at: bson::DateTime,
    #[serde(default)]
    pub(super) disabled: bool,
    #[serde(default)]
    pub(super) session_version: i64,
    /// Always written (`null` when none), so an update clears it.
    #[serde(default)]
    pub(super) organization: Option<String>,
    pub(super) revision: i64,
    #[serde(default)]
    pub(super) pending_events: Vec<OutboxEntry>,
    #[serde(default)]
    pub(super) outbox_pending: bool,
}

impl UserDoc {
    pub(super) fn from_domain(u: &User, pending_events: Vec<Envelope>) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            role: u.role,
            password_hash: u.password_hash.as_str().to_owned(),
            agent: u.agent.as_ref().map(|a| AgentDoc {
                skills: skills_bson(&a.skills),
                tier: a.tier,
                capacity: i64::from(a.capacity),
                presence: a.presence,
                free_slots: i64::from(a.free_slots),
                holds: a
                    .holds
                    .iter()
                    .map(|h| HoldDoc {
                        ticket: h.ticket.to_string(),
                        since: bson_time(h.since),
                    })
                    .collect(),
                load: i64::try_from(a.load()).unwrap_or(i64::MAX),
                last_assigned_at: a.last_assigned_at.map(bson_time),
            }),
            created_at: bson_time(u.created_at),
            disabled: u.disabled,
            session_version: i64::from(u.session_version),
            organization: u.organization.map(|o| o.to_string()),
            revision: rev(u.revision),
            outbox_pending: !pending_events.is_empty(),
            pending_events: outbox_entries(&pending_events),
        }
    }

    pub(super) fn into_domain(self) -> StoreResult<User> {
        let bad = |e: crate::domain::ValidationError| corrupt("user", e.to_string());
        let count =
            |n: i64| u32::try_from(n).map_err(|_| corrupt("user", format!("bad slot count {n}")));
        let agent = match self.agent {
            None => None,
            Some(a) => Some(AgentProfile {
                skills: a.skills.into_iter().map(Category::stored).collect(),
                tier: a.tier,
                capacity: count(a.capacity)?,
                presence: a.presence,
                free_slots: count(a.free_slots)?,
                holds: a
                    .holds
                    .into_iter()
                    .map(|h| {
                        Ok(SlotHold {
                            ticket: TicketId::parse(&h.ticket).map_err(bad)?,
                            since: chrono_time(h.since),
                        })
                    })
                    .collect::<StoreResult<_>>()?,
                last_assigned_at: a.last_assigned_at.map(chrono_time),
            }),
        };
        Ok(User {
            id: UserId::parse("_id", &self.id).map_err(bad)?,
            name: PersonName::parse(&self.name).map_err(bad)?,
            email: Email::parse(&self.email).map_err(bad)?,
            role: self.role,
            password_hash: PasswordHash::from_phc(self.password_hash),
            agent,
            created_at: chrono_time(self.created_at),
            disabled: self.disabled,
            session_version: u32::try_from(self.session_version)
                .map_err(|_| corrupt("user", "bad session version".into()))?,
            organization: self
                .organization
                .as_deref()
                .map(|o| OrganizationId::parse("organization", o))
                .transpose()
                .map_err(bad)?,
            revision: u64::try_from(self.revision)
                .map_err(|_| corrupt("user", "negative revision".into()))?,
        })
    }
}

pub(super) fn skills_bson(skills: &[Category]) -> Vec<String> {
    skills.iter().map(|c| c.as_str().to_owned()).collect()
}
