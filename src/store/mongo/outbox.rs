//! The outbox on MongoDB: `pendingEvents` in each ticket and user document, leased by
//! `outboxLease`.

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::doc;
use tracing::instrument;
use uuid::Uuid;

use super::outbox_doc::LeaseProbe;
use super::outbox_doc::OutboxDoc;
use super::{MongoStore, bson_time, corrupt, map_err};
use crate::domain::{TicketId, UserId};
use crate::store::{Outbox, OutboxLease, OutboxOwner, PendingEvents, StoreResult};

#[async_trait]
impl Outbox for MongoStore {
    #[instrument(skip_all)]
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<PendingEvents>> {
        let mut out = self.pending_in(&self.tickets, limit, ticket_owner).await?;
        let users = self
            .pending_in(&self.users, limit - out.len(), user_owner)
            .await?;
        out.extend(users);
        Ok(out)
    }

    #[instrument(skip_all)]
    async fn claim_events(
        &self,
        lease: &OutboxLease,
        limit: usize,
    ) -> StoreResult<Vec<PendingEvents>> {
        // Agents first, at most half the batch: a backlog of ticket events must not starve an
        // agent's presence change (their untouched tickets wait on it), and agents are few.
        let mut out = self
            .claim_in(&self.users, lease, limit.div_ceil(2), user_owner)
            .await?;
        let tickets = self
            .claim_in(&self.tickets, lease, limit - out.len(), ticket_owner)
            .await?;
        out.extend(tickets);
        Ok(out)
    }

    #[instrument(skip_all)]
    async fn renew_leases(
        &self,
        lease: &OutboxLease,
        owners: &[OutboxOwner],
    ) -> StoreResult<Vec<OutboxOwner>> {
        let (users, tickets): (Vec<OutboxOwner>, Vec<OutboxOwner>) = owners
            .iter()
            .partition(|o| matches!(o, OutboxOwner::User(_)));
        let mut held = self
            .renew_in(&self.users, lease, &users, user_owner)
            .await?;
        held.extend(
            self.renew_in(&self.tickets, lease, &tickets, ticket_owner)
                .await?,
        );
        Ok(held)
    }

    #[instrument(skip_all)]
    async fn clear_events(&self, owner: OutboxOwner, ids: &[Uuid], relay: &str) -> StoreResult<()> {
        match owner {
            OutboxOwner::Ticket(id) => {
                self.clear_in(&self.tickets, id.to_string(), ids, relay)
                    .await
            }
            OutboxOwner::User(id) => self.clear_in(&self.users, id.to_string(), ids, relay).await,
        }
    }
}

impl MongoStore {
    /// Pending events of one collection, oldest document first.
    pub(super) async fn pending_in<T: Send + Sync>(
        &self,
        collection: &Collection<T>,
        limit: usize,
        owner: fn(&str) -> StoreResult<OutboxOwner>,
    ) -> StoreResult<Vec<PendingEvents>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let docs: Vec<OutboxDoc> = collection
            .clone_with_type::<OutboxDoc>()
            .find(doc! {"outboxPending": true})
            .projection(doc! {"_id": 1, "pendingEvents": 1})
            .sort(doc! {"_id": 1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        docs.into_iter()
            .map(|d| d.into_pending(owner, false))
            .collect()
    }

    /// Claims up to `limit` documents of one collection for `lease.relay`: the candidates
    /// are read, then leased in one `updateMany` that re-checks each one's lease atomically
    /// (so two relays never both win a document), then what this round won is read back.
    pub(super) async fn claim_in<T: Send + Sync>(
        &self,
        collection: &Collection<T>,
        lease: &OutboxLease,
        limit: usize,
        owner: fn(&str) -> StoreResult<OutboxOwner>,
    ) -> StoreResult<Vec<PendingEvents>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let free = doc! {
            "outboxPending": true,
            "$or": [
                {"outboxLease": {"$exists": false}},
                {"outboxLease.until": {"$lt": bson_time(lease.now)}},
                {"outboxLease.by": &lease.relay},
            ],
        };
        let candidates: Vec<LeaseProbe> = collection
            .clone_with_type::<LeaseProbe>()
            .find(free.clone())
            .projection(doc! {"_id": 1, "outboxLease.by": 1})
            .sort(doc! {"_id": 1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
        let round = Uuid::new_v4().to_string();
        let mut contested = free;
        contested.insert("_id", doc! {"$in": &ids});
        collection
            .update_many(
                contested,
                doc! {"$set": {"outboxLease": {
                    "by": &lease.relay, "until": bson_time(lease.until), "round": &round,
                }}},
            )
            .await
            .map_err(map_err)?;
        let won: Vec<OutboxDoc> = collection
            .clone_with_type::<OutboxDoc>()
            .find(doc! {"_id": {"$in": &ids}, "outboxLease.round": &round})
            .projection(doc! {"_id": 1, "pendingEvents": 1})
            .sort(doc! {"_id": 1})
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        won.into_iter()
            .map(|d| {
                let taken_over = candidates
                    .iter()
                    .find(|c| c.id == d.id)
                    .and_then(|c| c.outbox_lease.as_ref())
                    .is_some_and(|l| l.by != lease.relay);
                d.into_pending(owner, taken_over)
            })
            .collect()
    }

    /// [`Outbox::renew_leases`] for the documents of one collection: one update tagged with a
    /// round token, then the documents that carry it.
    pub(super) async fn renew_in<T: Send + Sync>(
        &self,
        collection: &Collection<T>,
        lease: &OutboxLease,
        owners: &[OutboxOwner],
        owner: fn(&str) -> StoreResult<OutboxOwner>,
    ) -> StoreResult<Vec<OutboxOwner>> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = owners.iter().map(OutboxOwner::document_id).collect();
        let round = Uuid::new_v4().to_string();
        collection
            .update_many(
                doc! {"_id": {"$in": &ids}, "outboxLease.by": &lease.relay},
                doc! {"$set": {
                    "outboxLease.until": bson_time(lease.until), "outboxLease.round": &round,
                }},
            )
            .await
            .map_err(map_err)?;
        let renewed: Vec<LeaseProbe> = collection
            .clone_with_type::<LeaseProbe>()
            .find(doc! {"_id": {"$in": &ids}, "outboxLease.round": &round})
            .projection(doc! {"_id": 1})
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        renewed.iter().map(|d| owner(&d.id)).collect()
    }

    pub(super) async fn clear_in<T: Send + Sync>(
        &self,
        collection: &Collection<T>,
        id: String,
        ids: &[Uuid],
        relay: &str,
    ) -> StoreResult<()> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let pull = doc! {"pendingEvents": {"eventId": {"$in": &ids}}};
        // The usual case, one write: the relay still holds the lease and ends it.
        let mine = collection
            .update_one(
                doc! {"_id": &id, "outboxLease.by": relay},
                doc! {"$pull": pull.clone(), "$unset": {"outboxLease": ""}},
            )
            .await
            .map_err(map_err)?;
        if mine.matched_count == 0 {
            // Another relay took the lease over: clear what this one published, leave its
            // lease alone.
            collection
                .update_one(doc! {"_id": &id}, doc! {"$pull": pull})
                .await
                .map_err(map_err)?;
        }
        // A write that added events in between keeps the flag set: the filter sees them.
        collection
            .update_one(
                doc! {"_id": &id, "pendingEvents": {"$size": 0}},
                doc! {"$set": {"outboxPending": false}},
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

pub(super) fn ticket_owner(id: &str) -> StoreResult<OutboxOwner> {
    TicketId::parse(id)
        .map(OutboxOwner::Ticket)
        .map_err(|e| corrupt("ticket", e.to_string()))
}

pub(super) fn user_owner(id: &str) -> StoreResult<OutboxOwner> {
    UserId::parse("_id", id)
        .map(OutboxOwner::User)
        .map_err(|e| corrupt("user", e.to_string()))
}
