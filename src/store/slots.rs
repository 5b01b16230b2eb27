//! The [`AgentSlots`] port and the types it speaks in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Store, StoreResult, StoredAnswer};
use crate::domain::{Category, Envelope, Ticket, TicketId, Tier, User, UserId};

/// Agents' slots: the atomic claims that keep an agent from holding more tickets than their
/// capacity.
#[async_trait]
pub trait AgentSlots: Send + Sync + 'static {
    /// Atomically takes a slot of `agent` for `ticket` if the agent is online, has a free slot
    /// and does not hold one for `ticket` already; stamps `last_assigned_at`. Returns the agent
    /// after the claim, or `None` if nothing was taken.
    async fn take_slot(
        &self,
        agent: UserId,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    /// Atomically claims a slot for `ticket` from the best agent for `category` (of `tier`,
    /// when given): online, a free slot, the skill, not holding `ticket` already; least loaded
    /// first, then longest idle (never assigned counts as idle longest). One conditional update,
    /// so any number of workers can claim at once without overbooking anyone.
    async fn claim_agent(
        &self,
        category: &Category,
        tier: Option<Tier>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    /// Gives back the slot `agent` holds for `ticket`. Returns whether there was one: releasing
    /// twice releases once.
    async fn release_slot(&self, agent: UserId, ticket: TicketId) -> StoreResult<bool>;
}

/// Stores `ticket`, just assigned to `agent` whose slot for it is already taken, with its
/// events; if the ticket changed meanwhile (or the write fails) the slot is given back.
/// Returns whether the assignment was stored. The one way QuickFix commits an assignment, so
/// a claimed slot never outlives a failed one.
///
/// # Errors
/// When the store fails; the slot is then released on a best-effort basis (the worker's sweep
/// frees it otherwise).
pub async fn commit_claimed(
    store: &dyn Store,
    ticket: &Ticket,
    agent: UserId,
    events: &[Envelope],
    answer: Option<&StoredAnswer>,
) -> StoreResult<bool> {
    match store.update_ticket_answering(ticket, events, answer).await {
        Ok(true) => Ok(true),
        Ok(false) => {
            store.release_slot(agent, ticket.id).await?;
            Ok(false)
        }
        Err(err) => {
            let _ = store.release_slot(agent, ticket.id).await;
            Err(err)
        }
    }
}
