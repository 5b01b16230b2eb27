//! How a notification is stored: one `notifications` document.

use mongodb::bson;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{bson_time, chrono_time, corrupt};
use crate::domain::{Notification, NotificationKind, UserId};
use crate::store::StoreResult;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NotificationDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) recipient: String,
    pub(super) kind: NotificationKind,
    pub(super) message: String,
    /// The summary as JSON text, so it round-trips exactly.
    pub(super) data: String,
    pub(super) event_id: String,
    pub(super) created_at: bson::DateTime,
    pub(super) read_at: Option<bson::DateTime>,
}

impl NotificationDoc {
    pub(super) fn from_domain(n: &Notification) -> Self {
        Self {
            id: n.id.clone(),
            recipient: n.recipient.to_string(),
            kind: n.kind,
            message: n.message.clone(),
            data: n.data.to_string(),
            event_id: n.event_id.to_string(),
            created_at: bson_time(n.created_at),
            read_at: n.read_at.map(bson_time),
        }
    }

    pub(super) fn into_domain(self) -> StoreResult<Notification> {
        let bad = |reason: String| corrupt("notification", reason);
        Ok(Notification {
            recipient: UserId::parse("recipient", &self.recipient)
                .map_err(|e| bad(e.to_string()))?,
            kind: self.kind,
            message: self.message,
            data: serde_json::from_str(&self.data).map_err(|e| bad(e.to_string()))?,
            event_id: Uuid::parse_str(&self.event_id).map_err(|e| bad(e.to_string()))?,
            created_at: chrono_time(self.created_at),
            read_at: self.read_at.map(chrono_time),
            id: self.id,
        })
    }
}
