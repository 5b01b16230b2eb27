//! The [`Outbox`] port and the types it speaks in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::{Envelope, TicketId, UserId};

/// The document whose outbox holds pending events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutboxOwner {
    /// A ticket document.
    Ticket(TicketId),
    /// A user (agent) document.
    User(UserId),
}

impl OutboxOwner {
    /// The document's id, as stored.
    pub fn document_id(&self) -> String {
        match self {
            Self::Ticket(id) => id.to_string(),
            Self::User(id) => id.to_string(),
        }
    }
}

/// The unpublished events of one document, in the order they were written.
#[derive(Debug, Clone)]
pub struct PendingEvents {
    /// Which document.
    pub owner: OutboxOwner,
    /// Its events, oldest first.
    pub events: Vec<Envelope>,
    /// Claimed from another relay whose lease had expired (it died, or stalled).
    pub taken_over: bool,
}

/// A relay's claim on documents with unpublished events: while it lasts, no other relay
/// publishes them, so each event goes out once however many relays run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxLease {
    /// The relay's id, unique per relay instance.
    pub relay: String,
    /// Now: a lease that ended before this is free to take.
    pub now: DateTime<Utc>,
    /// When the claim ends unless the relay clears the events first.
    pub until: DateTime<Utc>,
}

/// The outbox: events stored with the change they describe, claimed by one relay at a time under a
/// lease, cleared once published.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Documents with unpublished events, oldest document first, at most `limit`, whoever
    /// holds them (a read-only view).
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<PendingEvents>>;

    /// Claims for `lease.relay`, until `lease.until`, at most `limit` documents with
    /// unpublished events that no other relay holds (a lease that ended before `lease.now` is
    /// free; the relay's own leases are renewed), oldest document first, and returns their
    /// events. Each document goes to one relay, however many claim at once.
    async fn claim_events(
        &self,
        lease: &OutboxLease,
        limit: usize,
    ) -> StoreResult<Vec<PendingEvents>>;

    /// Extends `lease.relay`'s leases on `owners` until `lease.until` and returns the owners it
    /// still holds: a document whose lease ran out and was claimed by another relay is not
    /// renewed (and must not be published). A relay renews right before publishing, so its
    /// lease covers the publish and the clear however long the claim took.
    async fn renew_leases(
        &self,
        lease: &OutboxLease,
        owners: &[OutboxOwner],
    ) -> StoreResult<Vec<OutboxOwner>>;

    /// Removes the published events `ids` from `owner`'s outbox and ends `relay`'s lease on
    /// it (a lease another relay has taken since is left alone).
    async fn clear_events(&self, owner: OutboxOwner, ids: &[Uuid], relay: &str) -> StoreResult<()>;
}
