//! Agents' slots on MongoDB: one conditional update of the agent's document per claim or release.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;
use tracing::instrument;

use super::user_doc::UserDoc;
use super::{MongoStore, bson_time, map_err};
use crate::domain::{Category, Presence, Role, TicketId, Tier, User, UserId};
use crate::store::{AgentSlots, StoreResult};

#[async_trait]
impl AgentSlots for MongoStore {
    #[instrument(skip_all, fields(agent_id = %agent, ticket_id = %ticket))]
    async fn take_slot(
        &self,
        agent: UserId,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut filter = claimable();
        filter.insert("_id", agent.to_string());
        filter.insert("agent.holds.ticket", doc! {"$ne": ticket.to_string()});
        self.users
            .find_one_and_update(filter, hold_update(ticket, now))
            .projection(doc! {"pendingEvents": 0})
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(UserDoc::into_domain)
            .transpose()
    }

    #[instrument(skip_all, fields(category = category.as_str(), ticket_id = %ticket))]
    async fn claim_agent(
        &self,
        category: &Category,
        tier: Option<Tier>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut filter = claimable();
        filter.insert("agent.skills", category.as_str());
        if let Some(tier) = tier {
            filter.insert("agent.tier", tier.as_str());
        }
        filter.insert("agent.holds.ticket", doc! {"$ne": ticket.to_string()});
        self.users
            .find_one_and_update(filter, hold_update(ticket, now))
            // `User::routing_key`: least loaded, longest idle (null first), oldest account.
            .sort(doc! {"agent.load": 1, "agent.lastAssignedAt": 1, "_id": 1})
            .projection(doc! {"pendingEvents": 0})
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(UserDoc::into_domain)
            .transpose()
    }

    #[instrument(skip_all, fields(agent_id = %agent, ticket_id = %ticket))]
    async fn release_slot(&self, agent: UserId, ticket: TicketId) -> StoreResult<bool> {
        let ticket = ticket.to_string();
        let result = self
            .users
            .update_one(
                doc! {"_id": agent.to_string(), "agent.holds.ticket": &ticket},
                doc! {
                    "$pull": {"agent.holds": {"ticket": &ticket}},
                    "$inc": {"agent.freeSlots": 1_i64, "agent.load": -1_i64, "revision": 1_i64},
                },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }
}

/// Agents that can take a slot now: [`AgentProfile::can_take`] as a filter (the check for
/// the ticket itself is added by each claim).
///
/// [`AgentProfile::can_take`]: crate::domain::AgentProfile::can_take
pub(super) fn claimable() -> Document {
    doc! {
        "role": Role::Agent.as_str(),
        "agent.presence": Presence::Online.as_str(),
        "agent.freeSlots": {"$gt": 0_i64},
    }
}

/// Takes one slot for `ticket`: the hold, the counter and the load move together.
pub(super) fn hold_update(ticket: TicketId, now: DateTime<Utc>) -> Document {
    doc! {
        "$inc": {"agent.freeSlots": -1_i64, "agent.load": 1_i64, "revision": 1_i64},
        "$set": {"agent.lastAssignedAt": bson_time(now)},
        "$push": {"agent.holds": {"ticket": ticket.to_string(), "since": bson_time(now)}},
    }
}
