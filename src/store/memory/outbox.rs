//! The outbox in memory: each document's pending events and the relay holding them.

use async_trait::async_trait;
use uuid::Uuid;

use super::MemoryStore;
use crate::store::{Outbox, OutboxLease, OutboxOwner, PendingEvents, StoreResult};

#[async_trait]
impl Outbox for MemoryStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<PendingEvents>> {
        let inner = self.lock();
        Ok(inner
            .outbox
            .iter()
            .take(limit)
            .map(|&owner| PendingEvents {
                owner,
                events: inner
                    .outbox_of(owner)
                    .map(|(events, _)| events.clone())
                    .unwrap_or_default(),
                taken_over: false,
            })
            .collect())
    }

    async fn claim_events(
        &self,
        lease: &OutboxLease,
        limit: usize,
    ) -> StoreResult<Vec<PendingEvents>> {
        let mut inner = self.lock();
        // Agents first, at most half the batch, as the MongoDB adapter does: ticket events
        // must not starve an agent's presence change.
        let (users, tickets): (Vec<OutboxOwner>, Vec<OutboxOwner>) = inner
            .outbox
            .iter()
            .copied()
            .partition(|o| matches!(o, OutboxOwner::User(_)));
        let owners: Vec<OutboxOwner> = users
            .into_iter()
            .take(limit.div_ceil(2))
            .chain(tickets)
            .collect();
        let mut claimed = Vec::new();
        for owner in owners {
            if claimed.len() == limit {
                break;
            }
            let Some((events, held)) = inner.outbox_of_mut(owner) else {
                continue;
            };
            let taken_over = match held {
                Some((by, until)) if *by != lease.relay && *until >= lease.now => continue,
                Some((by, _)) => *by != lease.relay,
                None => false,
            };
            *held = Some((lease.relay.clone(), lease.until));
            claimed.push(PendingEvents {
                owner,
                events: events.clone(),
                taken_over,
            });
        }
        Ok(claimed)
    }

    async fn renew_leases(
        &self,
        lease: &OutboxLease,
        owners: &[OutboxOwner],
    ) -> StoreResult<Vec<OutboxOwner>> {
        let mut inner = self.lock();
        let mut held = Vec::new();
        for &owner in owners {
            if let Some((_, Some((by, until)))) = inner.outbox_of_mut(owner)
                && *by == lease.relay
            {
                *until = lease.until;
                held.push(owner);
            }
        }
        Ok(held)
    }

    async fn clear_events(&self, owner: OutboxOwner, ids: &[Uuid], relay: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        let now_empty = match inner.outbox_of_mut(owner) {
            Some((outbox, lease)) => {
                outbox.retain(|e| !ids.contains(&e.event_id));
                if lease.as_ref().is_some_and(|(by, _)| by == relay) {
                    *lease = None;
                }
                outbox.is_empty()
            }
            None => true,
        };
        if now_empty {
            inner.outbox.remove(&owner);
        }
        Ok(())
    }
}
