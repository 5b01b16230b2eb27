//! Agents' slots on MongoDB: one conditional update of the agent's document per claim or release.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::action::Action;
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
        let mut filter = claimable(ticket);
        filter.insert("_id", agent.to_string());
        self.hold(filter, None, ticket, now).await
    }

    #[instrument(skip_all, fields(category = category.as_str(), ticket_id = %ticket))]
    async fn claim_agent(
        &self,
        category: &Category,
        tier: Option<Tier>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut filter = claimable(ticket);
        filter.insert("agent.skills", category.as_str());
        if let Some(tier) = tier {
            filter.insert("agent.tier", tier.as_str());
        }
        // `User::routing_key`: least loaded, longest idle (null first), oldest account.
        let order = doc! {"agent.load": 1, "agent.lastAssignedAt": 1, "_id": 1};
        self.hold(filter, Some(order), ticket, now).await
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

impl MongoStore {
    /// Takes a slot for `ticket` from the first agent `filter` matches in `order`, in one
    /// conditional update; the agent as it is after, or `None` when none matched.
    async fn hold(
        &self,
        filter: Document,
        order: Option<Document>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        self.users
            .find_one_and_update(filter, hold_update(ticket, now))
            .optional(order, |claim, order| claim.sort(order))
            .projection(doc! {"pendingEvents": 0})
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(UserDoc::into_domain)
            .transpose()
    }
}

/// Agents that can take a slot for `ticket` now: [`AgentProfile::can_take`] as a filter.
///
/// [`AgentProfile::can_take`]: crate::domain::AgentProfile::can_take
pub(super) fn claimable(ticket: TicketId) -> Document {
    doc! {
        "role": Role::Agent.as_str(),
        "agent.presence": Presence::Online.as_str(),
        "agent.freeSlots": {"$gt": 0_i64},
        "agent.holds.ticket": {"$ne": ticket.to_string()},
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
