//! Stored answers in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::store::{Answers, StoreResult, StoredAnswer};

#[async_trait]
impl Answers for MemoryStore {
    async fn find_answer(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<StoredAnswer>> {
        Ok(self
            .lock()
            .answers
            .get(key)
            .filter(|a| a.expires_at > now)
            .cloned())
    }
}
