//! How a document's outbox is stored: its pending events as text, and the lease on them.

use serde::{Deserialize, Serialize};

use super::corrupt;
use crate::domain::Envelope;
use crate::store::{OutboxOwner, PendingEvents, StoreResult};

/// One pending event: its id (to clear it) and the exact JSON that will be published.
///
/// Stored as text rather than as a BSON document so the envelope round-trips byte for byte,
/// whatever the BSON serializer would make of UUIDs and timestamps.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutboxEntry {
    pub(super) event_id: String,
    pub(super) event_type: String,
    pub(super) envelope: String,
}

impl OutboxEntry {
    pub(super) fn from_envelope(e: &Envelope) -> Self {
        Self {
            event_id: e.event_id.to_string(),
            event_type: e.event_type().as_str().to_owned(),
            envelope: e.to_json(),
        }
    }

    pub(super) fn into_envelope(self) -> StoreResult<Envelope> {
        serde_json::from_str(&self.envelope).map_err(|e| corrupt("outbox event", e.to_string()))
    }
}

pub(super) fn outbox_entries(events: &[Envelope]) -> Vec<OutboxEntry> {
    events.iter().map(OutboxEntry::from_envelope).collect()
}

/// Who holds a document's outbox, as a claim reads it.
#[derive(Deserialize)]
pub(super) struct LeaseProbe {
    #[serde(rename = "_id")]
    pub(super) id: String,
    #[serde(rename = "outboxLease", default)]
    pub(super) outbox_lease: Option<LeaseHolder>,
}

#[derive(Deserialize)]
pub(super) struct LeaseHolder {
    pub(super) by: String,
}

/// Just the outbox of any document.
#[derive(Deserialize)]
pub(super) struct OutboxDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    #[serde(rename = "pendingEvents", default)]
    pub(super) pending_events: Vec<OutboxEntry>,
}

impl OutboxDoc {
    /// The pending events of the document, owned as `owner` reads its id.
    pub(super) fn into_pending(
        self,
        owner: fn(&str) -> StoreResult<OutboxOwner>,
        taken_over: bool,
    ) -> StoreResult<PendingEvents> {
        Ok(PendingEvents {
            owner: owner(&self.id)?,
            events: self
                .pending_events
                .into_iter()
                .map(OutboxEntry::into_envelope)
                .collect::<StoreResult<_>>()?,
            taken_over,
        })
    }
}
