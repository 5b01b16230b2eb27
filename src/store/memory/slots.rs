//! Agents' slots in memory: a claim is a check and a change under the store's one lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{Category, Presence, Role, SlotHold, TicketId, Tier, User, UserId};
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
            .filter_map(|u| u.agent.as_ref().map(|a| (u, a)))
            .filter(|(_, a)| {
                a.presence == Presence::Online
                    && a.free_slots > 0
                    && a.has_skill(category)
                    && tier.is_none_or(|t| a.tier == t)
                    && !a.holds.iter().any(|h| h.ticket == ticket)
            })
            // Least loaded, then longest idle (never assigned first), then oldest account.
            .min_by_key(|(u, a)| (a.holds.len(), a.last_assigned_at, u.id))
            .map(|(u, _)| u.id);
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
        let before = profile.holds.len();
        profile.holds.retain(|h| h.ticket != ticket);
        if profile.holds.len() == before {
            return Ok(false);
        }
        profile.free_slots += 1;
        user.revision += 1;
        Ok(true)
    }
}

/// Takes a slot of `user` for `ticket` if it can take one.
fn hold(user: &mut User, ticket: TicketId, now: DateTime<Utc>) -> bool {
    let Some(profile) = user.agent.as_mut() else {
        return false;
    };
    let can = profile.presence == Presence::Online
        && profile.free_slots > 0
        && !profile.holds.iter().any(|h| h.ticket == ticket);
    if can {
        profile.free_slots -= 1;
        profile.holds.push(SlotHold { ticket, since: now });
        profile.last_assigned_at = Some(now);
        user.revision += 1;
    }
    can
}
