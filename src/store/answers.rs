//! The [`Answers`] port and the types it speaks in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// The field a conflicting `Idempotency-Key` is reported on.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The first answer to a request that carried an `Idempotency-Key`, stored in the same document
/// write as the change the request made, so a crash cannot keep one without the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The key, scoped to who sent it (`{user id}:{key}`); unique across the store.
    pub key: String,
    /// A hash of the request's method, path and body: a repeat must match it.
    pub fingerprint: String,
    /// The answer's HTTP status.
    pub status: u16,
    /// The answer's JSON body.
    pub body: String,
    /// After this the key may be used again.
    pub expires_at: DateTime<Utc>,
}

/// Stored answers to requests that carried an `Idempotency-Key`.
#[async_trait]
pub trait Answers: Send + Sync + 'static {
    /// The unexpired answer stored under `key`, if any.
    async fn find_answer(&self, key: &str, now: DateTime<Utc>)
    -> StoreResult<Option<StoredAnswer>>;
}
