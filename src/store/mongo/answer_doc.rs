//! How a stored answer is kept: an entry of the `answers` array of the document its request
//! changed.

use mongodb::bson;
use serde::{Deserialize, Serialize};

use super::{bson_time, chrono_time};
use crate::store::{StoreError, StoreResult, StoredAnswer};

/// The answers stored in a document.
#[derive(Deserialize)]
pub(super) struct AnswersDoc {
    #[serde(default)]
    pub(super) answers: Vec<AnswerDoc>,
}

/// One [`StoredAnswer`] as stored in the `answers` of the document its request changed.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AnswerDoc {
    pub(super) key: String,
    pub(super) fingerprint: String,
    pub(super) status: i32,
    pub(super) body: String,
    pub(super) expires_at: bson::DateTime,
}

impl AnswerDoc {
    pub(super) fn from_domain(a: &StoredAnswer) -> Self {
        Self {
            key: a.key.clone(),
            fingerprint: a.fingerprint.clone(),
            status: i32::from(a.status),
            body: a.body.clone(),
            expires_at: bson_time(a.expires_at),
        }
    }

    pub(super) fn into_domain(self) -> StoredAnswer {
        StoredAnswer {
            key: self.key,
            fingerprint: self.fingerprint,
            status: u16::try_from(self.status).unwrap_or(500),
            body: self.body,
            expires_at: chrono_time(self.expires_at),
        }
    }

    pub(super) fn to_bson(&self) -> StoreResult<bson::Bson> {
        bson::to_bson(self).map_err(|e| StoreError::Other(e.to_string()))
    }
}
