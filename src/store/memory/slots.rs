//! Agents' slots in memory: a claim is a check and a change under the store's one lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{Category, Role, TicketId, Tier, User, UserId};
use crate::store::{AgentSlots, StoreResult};

#[async_trait]
impl AgentSlots for MemoryStore {
    async fn take_slot(
        &self,
        agent: UserId,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut inner = self.lock();
        Ok(inner
            .agent_mut(agent)
            .and_then(|user| hold(user, ticket, now).then(|| user.clone())))
    }

    async fn claim_agent(
        &self,
        category: &Category,
        tier: Option<Tier>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut inner = self.lock();
        let best = inner
            .users
            .values()
            .map(|r| &r.doc)
            .filter(|u| u.role == Role::Agent)
            .filter(|u| {
                u.agent
                    .as_ref()
                    .is_some_and(|a| a.serves(category, tier) && a.can_take(ticket))
            })
            .min_by_key(|u| u.routing_key())
            .map(|u| u.id);
        Ok(best.and_then(|id| {
            let user = inner.agent_mut(id)?;
            hold(user, ticket, now).then(|| user.clone())
        }))
    }

    async fn release_slot(&self, agent: UserId, ticket: TicketId) -> StoreResult<bool> {
        let mut inner = self.lock();
        let Some(user) = inner.agent_mut(agent) else {
            return Ok(false);
        };
        let profile = user.agent.as_mut().expect("BUG: agent_mut returns agents");
        let released = profile.release_slot(ticket);
        if released {
            user.revision += 1;
        }
        Ok(released)
    }
}

/// Takes a slot of `user` for `ticket` if it can take one; the write bumps its revision.
fn hold(user: &mut User, ticket: TicketId, now: DateTime<Utc>) -> bool {
    let taken = user
        .agent
        .as_mut()
        .is_some_and(|profile| profile.take_slot(ticket, now));
    if taken {
        user.revision += 1;
    }
    taken
}
