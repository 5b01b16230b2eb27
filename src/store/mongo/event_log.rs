//! The event log on MongoDB: one `events` document per event, its `_id` the event id (so a
//! second record of the same event is a duplicate key, ignored), a TTL index on the event's
//! time for retention, and one index per search key ordered like the log.
//!
//! Log order is one string field, `pos` (the event time in microseconds, zero-padded, then the
//! event id), so a window and a cursor are one range on one indexed field rather than an `$or`
//! the server may answer with a scan.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use mongodb::bson::{self, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DUPLICATE_KEY, bson_time, chrono_time, corrupt, map_err};
use crate::domain::{EventCursor, EventQuery, LoggedEvent};
use crate::store::StoreResult;
use crate::store::event_log::{EventLog, oldest_kept, retained};

/// The TTL index's name.
const RETENTION_INDEX: &str = "retention";

/// Server codes of an index that exists with other options (a changed retention).
const INDEX_OPTIONS_CONFLICT: [i32; 2] = [85, 86];

/// [`EventLog`] on MongoDB.
#[derive(Clone)]
pub struct MongoEventLog {
    events: Collection<LogDoc>,
    /// The same collection, read back as what a search answers.
    read: Collection<LoggedDoc>,
    retention: TimeDelta,
}

impl MongoEventLog {
    /// The log in `db`'s `events` collection, keeping events for `retention`.
    pub(super) fn new(db: &Database, retention: TimeDelta) -> Self {
        Self {
            events: db.collection("events"),
            read: db.collection("events"),
            retention,
        }
    }

    /// Creates the search indexes and the TTL index; a TTL index left by another retention is
    /// replaced.
    pub(super) async fn create_indexes(&self) -> StoreResult<()> {
        let ordered = |key: &str| {
            IndexModel::builder()
                .keys(doc! {key: 1, "pos": 1})
                .options(IndexOptions::builder().name(format!("{key}_log")).build())
                .build()
        };
        self.events
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"pos": 1})
                    .options(IndexOptions::builder().name("log".to_owned()).build())
                    .build(),
                ordered("ticketId"),
                ordered("correlationId"),
                ordered("actor"),
                ordered("eventType"),
            ])
            .await
            .map_err(map_err)?;
        let ttl = IndexModel::builder()
            .keys(doc! {"timestamp": 1})
            .options(
                IndexOptions::builder()
                    .name(RETENTION_INDEX.to_owned())
                    .expire_after(Duration::from_secs(
                        u64::try_from(self.retention.num_seconds()).unwrap_or(0),
                    ))
                    .build(),
            )
            .build();
        match self.events.create_index(ttl.clone()).await {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.kind.as_ref(), ErrorKind::Command(c) if INDEX_OPTIONS_CONFLICT.contains(&c.code)) =>
            {
                self.events
                    .drop_index(RETENTION_INDEX)
                    .await
                    .map_err(map_err)?;
                self.events.create_index(ttl).await.map_err(map_err)?;
                Ok(())
            }
            Err(err) => Err(map_err(err)),
        }
    }
}

#[async_trait]
impl EventLog for MongoEventLog {
    async fn record(&self, events: &[LoggedEvent]) -> StoreResult<usize> {
        let oldest = oldest_kept(self);
        let docs: Vec<LogDoc> = events
            .iter()
            .filter(|e| e.timestamp() >= oldest)
            .map(LogDoc::from_domain)
            .collect();
        if docs.is_empty() {
            return Ok(0);
        }
        let count = docs.len();
        match self.events.insert_many(docs).ordered(false).await {
            Ok(done) => Ok(done.inserted_ids.len()),
            Err(err) => match err.kind.as_ref() {
                ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
                    let errors = failure.write_errors.as_deref().unwrap_or_default();
                    if errors.iter().all(|e| e.code == DUPLICATE_KEY) {
                        Ok(count - errors.len())
                    } else {
                        Err(map_err(err))
                    }
                }
                _ => Err(map_err(err)),
            },
        }
    }

    async fn search(&self, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>> {
        let query = retained(self, query);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read
            .find(search_filter(&query))
            .projection(LoggedDoc::projection())
            .sort(doc! {"pos": 1})
            .limit(limit)
            .await
            .map_err(map_err)?
            .map_err(map_err)
            .and_then(|d| async move { d.into_domain() })
            .try_collect()
            .await
    }

    fn scan<'a>(
        &'a self,
        query: &EventQuery,
        batch: usize,
    ) -> BoxStream<'a, StoreResult<LoggedEvent>> {
        let query = retained(self, query);
        let find = self
            .read
            .find(search_filter(&query))
            .projection(LoggedDoc::projection())
            .sort(doc! {"pos": 1})
            .batch_size(u32::try_from(batch.max(1)).unwrap_or(u32::MAX));
        stream::once(async move { find.await.map_err(map_err) })
            .map_ok(|cursor| {
                cursor
                    .map_err(map_err)
                    .and_then(|d| async move { d.into_domain() })
            })
            .try_flatten()
            .boxed()
    }

    async fn count(&self, query: &EventQuery) -> StoreResult<u64> {
        let query = retained(self, query);
        self.events
            .count_documents(search_filter(&query))
            .await
            .map_err(map_err)
    }

    async fn find(&self, id: Uuid) -> StoreResult<Option<LoggedEvent>> {
        let oldest = time_key(oldest_kept(self));
        self.read
            .find_one(doc! {"_id": id.to_string(), "pos": {"$gte": oldest}})
            .projection(LoggedDoc::projection())
            .await
            .map_err(map_err)?
            .map(LoggedDoc::into_domain)
            .transpose()
    }

    fn retention(&self) -> TimeDelta {
        self.retention
    }
}

/// The start of `t`'s positions: every event at `t` or later sorts at or after it, every
/// earlier one before it.
fn time_key(t: DateTime<Utc>) -> String {
    format!("{:020}", t.timestamp_micros().max(0))
}

/// An event's position in log order, as stored.
fn pos(cursor: EventCursor) -> String {
    format!("{}_{}", time_key(cursor.timestamp), cursor.event_id)
}

/// The filter of `query`: every field given, and the window and the cursor as one range.
fn search_filter(query: &EventQuery) -> Document {
    let mut filter = Document::new();
    match query.types.as_slice() {
        [] => {}
        [only] => {
            filter.insert("eventType", only.as_str());
        }
        many => {
            let names: Vec<&str> = many.iter().map(|t| t.as_str()).collect();
            filter.insert("eventType", doc! {"$in": names});
        }
    }
    if let Some(ticket) = query.ticket {
        filter.insert("ticketId", ticket.to_string());
    }
    if let Some(actor) = &query.actor {
        filter.insert("actor", actor.as_str());
    }
    if let Some(correlation) = &query.correlation_id {
        filter.insert("correlationId", correlation.as_str());
    }
    let mut range = Document::new();
    if let Some(from) = query.from {
        range.insert("$gte", time_key(from));
    }
    if let Some(after) = query.after {
        range.insert("$gt", pos(after));
    }
    if let Some(to) = query.to {
        range.insert("$lt", time_key(to));
    }
    if !range.is_empty() {
        filter.insert("pos", range);
    }
    filter
}

/// One logged event as stored. The envelope is kept as the exact text that was published;
/// the other fields are copies for the indexes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogDoc {
    #[serde(rename = "_id")]
    id: String,
    event_type: String,
    version: i64,
    /// The event's time, for the TTL index.
    timestamp: bson::DateTime,
    /// The event's position in log order.
    pos: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complaint_id: Option<String>,
    actor: String,
    correlation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    causation_id: Option<String>,
    published_at: bson::DateTime,
    envelope: String,
}

impl LogDoc {
    fn from_domain(e: &LoggedEvent) -> Self {
        Self {
            id: e.event_id().to_string(),
            event_type: e.event_type().as_str().to_owned(),
            version: i64::from(e.event_type().version()),
            timestamp: bson_time(e.timestamp()),
            pos: pos(e.position()),
            ticket_id: e.ticket_id().map(|t| t.to_string()),
            complaint_id: e.complaint_id().map(|c| c.to_string()),
            actor: e.actor().to_owned(),
            correlation_id: e.correlation_id().to_owned(),
            causation_id: e.causation_id().map(str::to_owned),
            published_at: bson_time(e.published_at),
            envelope: e.envelope.to_json(),
        }
    }
}

/// What a search reads of a [`LogDoc`]: the envelope and its publish time, nothing the
/// indexes copy.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoggedDoc {
    published_at: bson::DateTime,
    envelope: String,
}

impl LoggedDoc {
    fn projection() -> Document {
        doc! {"_id": 0, "publishedAt": 1, "envelope": 1}
    }

    fn into_domain(self) -> StoreResult<LoggedEvent> {
        let envelope = serde_json::from_str(&self.envelope)
            .map_err(|e| corrupt("logged event", e.to_string()))?;
        Ok(LoggedEvent {
            envelope,
            published_at: chrono_time(self.published_at),
        })
    }
}
