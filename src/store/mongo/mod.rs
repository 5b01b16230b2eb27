//! The MongoDB store. Documents are converted to and from the domain here and nowhere else.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::Serialize;
use tracing::instrument;

mod answer_doc;
mod answers;
mod event_log;
mod inbox;
mod notification_doc;
mod organizations;
mod outbox;
mod outbox_doc;
mod sla_doc;
mod slots;
mod ticket_doc;
mod tickets;
mod user_doc;
mod users;

pub use event_log::MongoEventLog;

use self::answers::answers_unique;
use self::notification_doc::NotificationDoc;
use self::organizations::OrganizationDoc;
use self::outbox_doc::outbox_entries;
use self::ticket_doc::TicketDoc;
use self::tickets::sla_checks_due_filter;
use self::user_doc::UserDoc;
use super::{EventLog, Store, StoreError, StoreResult};
use crate::domain::{Envelope, Ticket};

/// The index the escalation scan runs on (named so a test can find it in the query plan).
pub const SLA_CHECK_INDEX: &str = "sla_check";

/// `_id` of the complaint number counter in `counters`.
const COMPLAINT_COUNTER: &str = "complaintId";

/// Connection settings beyond the URI.
#[derive(Debug, Clone)]
pub struct MongoStoreOptions {
    /// How long to wait for a reachable server before answering "unavailable".
    pub server_selection_timeout: Duration,
    /// How long the event log keeps an event.
    pub event_retention: chrono::TimeDelta,
}

impl Default for MongoStoreOptions {
    fn default() -> Self {
        Self {
            server_selection_timeout: Duration::from_secs(5),
            event_retention: crate::domain::DEFAULT_RETENTION,
        }
    }
}

/// [`Store`] on MongoDB (or a compatible server).
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    tickets: Collection<TicketDoc>,
    users: Collection<UserDoc>,
    organizations: Collection<OrganizationDoc>,
    counters: Collection<Document>,
    notifications: Collection<NotificationDoc>,
    events: Arc<MongoEventLog>,
}

impl MongoStore {
    /// Connects to `uri`, uses database `db_name` and creates the indexes QuickFix relies on.
    ///
    /// # Errors
    /// If the URI is malformed or the indexes cannot be created (which needs the server).
    pub async fn connect(
        uri: &str,
        db_name: &str,
        options: MongoStoreOptions,
    ) -> StoreResult<Self> {
        Self::connect_with(uri, db_name, options, None).await
    }

    /// [`MongoStore::connect`], reporting every command the client sends to `commands` (the
    /// driver's command monitoring): how the round-trip tests count what each operation costs.
    /// Production connects without it.
    ///
    /// # Errors
    /// As [`MongoStore::connect`].
    #[doc(hidden)]
    pub async fn connect_monitored(
        uri: &str,
        db_name: &str,
        options: MongoStoreOptions,
        commands: EventHandler<CommandEvent>,
    ) -> StoreResult<Self> {
        Self::connect_with(uri, db_name, options, Some(commands)).await
    }

    async fn connect_with(
        uri: &str,
        db_name: &str,
        options: MongoStoreOptions,
        commands: Option<EventHandler<CommandEvent>>,
    ) -> StoreResult<Self> {
        let mut client_options = ClientOptions::parse(uri).await.map_err(map_err)?;
        client_options.server_selection_timeout = Some(options.server_selection_timeout);
        client_options.connect_timeout = Some(options.server_selection_timeout);
        client_options.app_name = Some("quickfix".into());
        client_options.command_event_handler = commands;
        let client = Client::with_options(client_options).map_err(map_err)?;
        let db = client.database(db_name);
        let store = Self {
            tickets: db.collection("tickets"),
            users: db.collection("users"),
            organizations: db.collection("organizations"),
            counters: db.collection("counters"),
            notifications: db.collection("notifications"),
            events: Arc::new(MongoEventLog::new(&db, options.event_retention)),
            db,
        };
        store.create_indexes().await?;
        store.events.create_indexes().await?;
        store.create_counters().await?;
        Ok(store)
    }

    /// Connects without touching the server: indexes are not created. For tests of an
    /// unreachable database.
    ///
    /// # Errors
    /// If the URI is malformed.
    pub async fn connect_lazy(
        uri: &str,
        db_name: &str,
        options: MongoStoreOptions,
    ) -> StoreResult<Self> {
        let mut client_options = ClientOptions::parse(uri).await.map_err(map_err)?;
        client_options.server_selection_timeout = Some(options.server_selection_timeout);
        let client = Client::with_options(client_options).map_err(map_err)?;
        let db = client.database(db_name);
        Ok(Self {
            tickets: db.collection("tickets"),
            users: db.collection("users"),
            organizations: db.collection("organizations"),
            counters: db.collection("counters"),
            notifications: db.collection("notifications"),
            events: Arc::new(MongoEventLog::new(&db, options.event_retention)),
            db,
        })
    }

    /// Inserts many tickets, without events, in one round trip per thousand (imports and
    /// benchmarks; the API inserts one at a time with its event).
    ///
    /// # Errors
    /// When the server refuses a batch (a duplicate id stops the load there).
    pub async fn insert_tickets(&self, tickets: &[Ticket]) -> StoreResult<()> {
        for chunk in tickets.chunks(1000) {
            let docs = chunk.iter().map(|t| TicketDoc::from_domain(t, Vec::new()));
            self.tickets.insert_many(docs).await.map_err(map_err)?;
        }
        Ok(())
    }

    /// The server's winning plan for the escalation scan's query (`explain`), to check that it
    /// runs on the [`SLA_CHECK_INDEX`] index rather than a collection scan.
    ///
    /// # Errors
    /// When the server refuses the command.
    pub async fn explain_sla_scan(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Document> {
        let find = doc! {
            "find": self.tickets.name(),
            "filter": sla_checks_due_filter(now),
            "sort": {"sla.checkAt": 1},
            "limit": limit,
        };
        let answer = self
            .db
            .run_command(doc! {"explain": find, "verbosity": "queryPlanner"})
            .await
            .map_err(map_err)?;
        answer
            .get_document("queryPlanner")
            .and_then(|p| p.get_document("winningPlan"))
            .cloned()
            .map_err(|e| StoreError::Other(format!("unexpected explain answer: {e}")))
    }

    async fn create_indexes(&self) -> StoreResult<()> {
        let unique = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .name(name.to_owned())
                        .build(),
                )
                .build()
        };
        let plain = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build()
        };
        self.tickets
            .create_indexes([
                unique(doc! {"complaintId": 1}, "complaintId_unique"),
                plain(doc! {"requester": 1, "_id": -1}, "requester_newest"),
                plain(doc! {"assignee": 1, "_id": -1}, "assignee_newest"),
                plain(doc! {"status": 1, "_id": -1}, "status_newest"),
                plain(doc! {"outboxPending": 1, "_id": 1}, "outbox_pending"),
                plain(
                    doc! {"status": 1, "category": 1, "priorityRank": -1, "_id": 1},
                    "backlog",
                ),
                plain(doc! {"sla.checkAt": 1}, SLA_CHECK_INDEX),
                plain(doc! {"sla.nextDueAt": 1}, "sla_due"),
                plain(doc! {"createdAt": 1}, "created"),
                plain(doc! {"updatedAt": 1, "_id": 1}, "changed"),
                answers_unique(),
            ])
            .await
            .map_err(map_err)?;
        self.notifications
            .create_indexes([
                plain(doc! {"recipient": 1, "createdAt": 1, "_id": 1}, "inbox"),
                plain(doc! {"createdAt": 1, "_id": 1}, "feed"),
            ])
            .await
            .map_err(map_err)?;
        self.users
            .create_indexes([
                unique(doc! {"email": 1}, "email_unique"),
                plain(doc! {"role": 1, "_id": 1}, "role"),
                plain(
                    doc! {"role": 1, "agent.presence": 1, "agent.skills": 1, "agent.load": 1, "agent.lastAssignedAt": 1},
                    "routing",
                ),
                plain(doc! {"outboxPending": 1, "_id": 1}, "outbox_pending"),
                answers_unique(),
            ])
            .await
            .map_err(map_err)?;
        self.organizations
            .create_indexes([unique(doc! {"nameKey": 1}, "name_unique")])
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Creates the complaint counter if it does not exist. Done once here rather than with an
    /// upsert on every increment: concurrent upserts of a missing document race.
    async fn create_counters(&self) -> StoreResult<()> {
        match self
            .counters
            .insert_one(doc! {"_id": COMPLAINT_COUNTER, "seq": 0_i64})
            .await
            .map_err(map_err)
        {
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

#[async_trait]
impl Store for MongoStore {
    #[instrument(skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        self.db
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    fn event_log(&self) -> Arc<dyn EventLog> {
        self.events.clone()
    }
}

/// The largest `batchSize` the driver sends: a signed 32-bit integer, to which it adds one when
/// it equals the limit (so the server closes the cursor at once).
const LARGEST_BATCH: u32 = i32::MAX as u32 - 1;

/// Reads every document matching `filter` (at most `limit`), in `sort` order, without its
/// outbox. A bounded read asks for all of it in the first batch, so a page is one round trip:
/// by default the server sends 101 documents and the rest on `getMore` (a batch still ends at
/// 16 MiB, the server's limit).
async fn find_many<T>(
    collection: &Collection<T>,
    filter: Document,
    sort: Document,
    limit: Option<i64>,
) -> StoreResult<Vec<T>>
where
    T: serde::de::DeserializeOwned + Send + Sync,
{
    let limit = limit.unwrap_or(0);
    let mut find = collection
        .find(filter)
        .projection(doc! {"pendingEvents": 0})
        .sort(sort)
        .limit(limit);
    if limit > 0 {
        find =
            find.batch_size(u32::try_from(limit).map_or(LARGEST_BATCH, |n| n.min(LARGEST_BATCH)));
    }
    find.await
        .map_err(map_err)?
        .try_collect()
        .await
        .map_err(map_err)
}

/// Builds `{$set: state}` plus, when there are events, the outbox push.
fn with_events(state: Document, events: &[Envelope]) -> StoreResult<Document> {
    let mut update = doc! {"$set": state};
    if !events.is_empty() {
        let events = outbox_entries(events)
            .iter()
            .map(|e| bson::to_bson(e).map_err(|err| StoreError::Other(err.to_string())))
            .collect::<StoreResult<Vec<_>>>()?;
        update
            .get_document_mut("$set")
            .expect("BUG: $set was just inserted")
            .insert("outboxPending", true);
        update.insert("$push", doc! {"pendingEvents": {"$each": events}});
    }
    Ok(update)
}

fn to_document<T: Serialize>(value: &T) -> StoreResult<Document> {
    bson::to_document(value).map_err(|e| StoreError::Other(format!("cannot encode document: {e}")))
}

fn rev(n: u64) -> i64 {
    i64::try_from(n).expect("BUG: revision beyond i64")
}

fn bson_time(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

fn chrono_time(t: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
}

fn corrupt(what: &'static str, reason: String) -> StoreError {
    StoreError::Corrupt { what, reason }
}

/// The server's code for a duplicate key.
const DUPLICATE_KEY: i32 = 11000;

/// Whether the server refused `err`'s write because a unique index already holds the value.
fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// Maps a driver error to a [`StoreError`]. A duplicate key is a conflict on `_id`: an
/// operation that writes another unique field names it with [`conflict_on`].
fn map_err(err: mongodb::error::Error) -> StoreError {
    match err.kind.as_ref() {
        _ if is_duplicate_key(&err) => StoreError::Conflict { field: "id" },
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Other(err.to_string()),
    }
}

/// [`map_err`], naming `field` when the server refused a duplicate key.
fn conflict_on(field: &'static str) -> impl Fn(mongodb::error::Error) -> StoreError {
    move |err| {
        if is_duplicate_key(&err) {
            StoreError::Conflict { field }
        } else {
            map_err(err)
        }
    }
}
