//! The MongoDB store. Documents are converted to and from the domain here and nowhere else.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use uuid::Uuid;

mod event_log;
mod sla_doc;

pub use event_log::MongoEventLog;

use self::sla_doc::SlaDoc;
use super::{
    EventLog, NotificationStream, OutboxLease, OutboxOwner, PendingEvents, ResumeToken, SlaRecord,
    Store, StoreError, StoreResult, StoredAnswer, TicketQuery, UserQuery,
};
use crate::domain::{
    AgentProfile, Category, ComplaintId, Description, Email, Envelope, HistoryEntry, Notification,
    NotificationKind, PasswordHash, PersonName, Presence, Priority, Role, SlotHold, Status, Ticket,
    TicketId, TicketRef, Tier, Title, User, UserId,
};

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
        let mut client_options = ClientOptions::parse(uri).await.map_err(map_err)?;
        client_options.server_selection_timeout = Some(options.server_selection_timeout);
        client_options.connect_timeout = Some(options.server_selection_timeout);
        client_options.app_name = Some("quickfix".into());
        let client = Client::with_options(client_options).map_err(map_err)?;
        let db = client.database(db_name);
        let store = Self {
            tickets: db.collection("tickets"),
            users: db.collection("users"),
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
            Ok(_) | Err(StoreError::Duplicate { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Pending events of one collection, oldest document first.
    async fn pending_in<T: Send + Sync>(
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
            .map(|d| {
                Ok(PendingEvents {
                    owner: owner(&d.id)?,
                    events: d
                        .pending_events
                        .into_iter()
                        .map(OutboxEntry::into_envelope)
                        .collect::<StoreResult<_>>()?,
                    taken_over: false,
                })
            })
            .collect()
    }

    /// Claims up to `limit` documents of one collection for `lease.relay`: the candidates
    /// are read, then leased in one `updateMany` that re-checks each one's lease atomically
    /// (so two relays never both win a document), then what this round won is read back.
    async fn claim_in<T: Send + Sync>(
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
                Ok(PendingEvents {
                    owner: owner(&d.id)?,
                    events: d
                        .pending_events
                        .into_iter()
                        .map(OutboxEntry::into_envelope)
                        .collect::<StoreResult<_>>()?,
                    taken_over,
                })
            })
            .collect()
    }

    /// [`Store::renew_leases`] for the documents of one collection: one update tagged with a
    /// round token, then the documents that carry it.
    async fn renew_in<T: Send + Sync>(
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

    async fn clear_in<T: Send + Sync>(
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

    #[instrument(skip_all)]
    async fn next_complaint_number(&self) -> StoreResult<u64> {
        let counter = self
            .counters
            .find_one_and_update(
                doc! {"_id": COMPLAINT_COUNTER},
                doc! {"$inc": {"seq": 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .ok_or_else(|| corrupt("counter", "the complaint counter is missing".into()))?;
        let seq = match counter.get("seq") {
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Int32(n)) => i64::from(*n),
            other => {
                return Err(corrupt("counter", format!("seq is {other:?}")));
            }
        };
        u64::try_from(seq).map_err(|_| corrupt("counter", "negative sequence".into()))
    }

    #[instrument(skip_all, fields(ticket_id = %ticket.id))]
    async fn insert_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let doc = to_document(&TicketDoc::from_domain(ticket, events.to_vec()))?;
        self.insert_answering(&self.tickets, doc, answer, ticket.created_at)
            .await
    }

    #[instrument(skip_all)]
    async fn find_answer(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<StoredAnswer>> {
        Ok(self
            .answer_under(key)
            .await?
            .map(|(answer, _)| answer)
            .filter(|a| a.expires_at > now))
    }

    #[instrument(skip_all)]
    async fn find_ticket(&self, by: TicketRef) -> StoreResult<Option<Ticket>> {
        let filter = match by {
            TicketRef::Id(id) => doc! {"_id": id.to_string()},
            TicketRef::Complaint(c) => doc! {"complaintId": c.to_string()},
        };
        self.find_ticket_where(filter, None).await
    }

    #[instrument(skip_all)]
    async fn list_tickets(&self, query: &TicketQuery) -> StoreResult<Vec<Ticket>> {
        let mut filter = Document::new();
        if let Some(r) = query.requester {
            filter.insert("requester", r.to_string());
        }
        if let Some(a) = query.assignee {
            filter.insert("assignee", a.to_string());
        }
        if let Some(s) = query.status {
            filter.insert("status", s.as_str());
        }
        if let Some(p) = query.priority {
            filter.insert("priority", p.as_str());
        }
        if let Some(c) = &query.category {
            filter.insert("category", c.as_str());
        }
        if let Some(before) = query.before {
            filter.insert("_id", doc! {"$lt": before.to_string()});
        }
        self.find_tickets_where(filter, doc! {"_id": -1}, query.limit)
            .await
    }

    #[instrument(skip_all, fields(ticket_id = %ticket.id))]
    async fn update_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<bool> {
        let mut state = to_document(&TicketDoc::from_domain(ticket, Vec::new()))?;
        state.remove("_id");
        state.remove("pendingEvents");
        state.remove("outboxPending");
        state.insert("revision", rev(ticket.revision + 1));
        let mut update = with_events(state, events)?;
        if let Some(answer) = answer {
            self.make_room_for_answer(answer, ticket.updated_at).await?;
            update.insert(
                "$push",
                doc! {"answers": AnswerDoc::from_domain(answer).to_bson()?},
            );
        }
        let result = self
            .tickets
            .update_one(
                doc! {"_id": ticket.id.to_string(), "revision": rev(ticket.revision)},
                update,
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[instrument(skip_all, fields(user_id = %user.id))]
    async fn insert_user_answering(
        &self,
        user: &User,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let doc = to_document(&UserDoc::from_domain(user, events.to_vec()))?;
        self.insert_answering(&self.users, doc, answer, user.created_at)
            .await
    }

    #[instrument(skip_all)]
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.find_user_where(doc! {"_id": id.to_string()}).await
    }

    #[instrument(skip_all)]
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.find_user_where(doc! {"email": email}).await
    }

    #[instrument(skip_all)]
    async fn list_users(&self, role: Role) -> StoreResult<Vec<User>> {
        let filter = doc! {"role": role.as_str()};
        find_many(&self.users, filter, doc! {"_id": 1}, None)
            .await?
            .into_iter()
            .map(UserDoc::into_domain)
            .collect()
    }

    #[instrument(skip_all)]
    async fn page_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let mut filter = doc! {};
        if let Some(role) = query.role {
            filter.insert("role", role.as_str());
        }
        if let Some(after) = query.after {
            filter.insert("_id", doc! {"$gt": after.to_string()});
        }
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        find_many(&self.users, filter, doc! {"_id": 1}, Some(limit))
            .await?
            .into_iter()
            .map(UserDoc::into_domain)
            .collect()
    }

    #[instrument(skip_all, fields(user_id = %user.id))]
    async fn update_user(&self, user: &User, events: &[Envelope]) -> StoreResult<bool> {
        let mut state = to_document(&UserDoc::from_domain(user, Vec::new()))?;
        for key in ["_id", "pendingEvents", "outboxPending", "agent"] {
            state.remove(key);
        }
        if let Some(agent) = &user.agent {
            // Slot counters change only through take_slot/release_slot.
            state.insert("agent.skills", skills_bson(&agent.skills));
            state.insert("agent.tier", agent.tier.as_str());
            state.insert("agent.capacity", i64::from(agent.capacity));
            state.insert("agent.presence", agent.presence.as_str());
        }
        state.insert("revision", rev(user.revision + 1));
        let result = self
            .users
            .update_one(
                doc! {"_id": user.id.to_string(), "revision": rev(user.revision)},
                with_events(state, events)?,
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[instrument(skip_all, fields(agent_id = %agent, ticket_id = %ticket))]
    async fn take_slot(
        &self,
        agent: UserId,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut filter = claimable();
        filter.insert("_id", agent.to_string());
        filter.insert("agent.holds.ticket", doc! {"$ne": ticket.to_string()});
        self.users
            .find_one_and_update(filter, hold_update(ticket, now))
            .projection(doc! {"pendingEvents": 0})
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(UserDoc::into_domain)
            .transpose()
    }

    #[instrument(skip_all, fields(category = category.as_str(), ticket_id = %ticket))]
    async fn claim_agent(
        &self,
        category: &Category,
        tier: Option<Tier>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut filter = claimable();
        filter.insert("agent.skills", category.as_str());
        if let Some(tier) = tier {
            filter.insert("agent.tier", tier.as_str());
        }
        filter.insert("agent.holds.ticket", doc! {"$ne": ticket.to_string()});
        self.users
            .find_one_and_update(filter, hold_update(ticket, now))
            .sort(doc! {"agent.load": 1, "agent.lastAssignedAt": 1, "_id": 1})
            .projection(doc! {"pendingEvents": 0})
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .map(UserDoc::into_domain)
            .transpose()
    }

    #[instrument(skip_all, fields(agent_id = %agent, ticket_id = %ticket))]
    async fn release_slot(&self, agent: UserId, ticket: TicketId) -> StoreResult<bool> {
        let ticket = ticket.to_string();
        let result = self
            .users
            .update_one(
                doc! {"_id": agent.to_string(), "agent.holds.ticket": &ticket},
                doc! {
                    "$pull": {"agent.holds": {"ticket": &ticket}},
                    "$inc": {"agent.freeSlots": 1_i64, "agent.load": -1_i64, "revision": 1_i64},
                },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }

    #[instrument(skip_all)]
    async fn next_backlog_ticket(&self, skills: &[Category]) -> StoreResult<Option<Ticket>> {
        let skills: Vec<&str> = skills.iter().map(Category::as_str).collect();
        let filter = doc! {"status": Status::Open.as_str(), "category": {"$in": skills}};
        self.find_ticket_where(filter, Some(doc! {"priorityRank": -1, "_id": 1}))
            .await
    }

    #[instrument(skip_all)]
    async fn sla_checks_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        self.find_tickets_where(sla_checks_due_filter(now), doc! {"sla.checkAt": 1}, limit)
            .await
    }

    #[instrument(skip_all)]
    async fn tickets_due(
        &self,
        after: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let mut range = doc! {"$lte": bson_time(until)};
        if let Some(after) = after {
            range.insert("$gt", bson_time(after));
        }
        self.find_tickets_where(
            doc! {"sla.nextDueAt": range},
            doc! {"sla.nextDueAt": 1},
            limit,
        )
        .await
    }

    #[instrument(skip_all)]
    async fn tickets_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        self.find_tickets_where(
            doc! {"updatedAt": {"$gt": bson_time(since)}},
            doc! {"updatedAt": 1, "_id": 1},
            limit,
        )
        .await
    }

    #[instrument(skip_all)]
    async fn sla_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SlaRecord>> {
        #[derive(Deserialize)]
        struct RecordDoc {
            priority: Priority,
            status: Status,
            sla: SlaDoc,
        }
        self.tickets
            .clone_with_type::<RecordDoc>()
            .find(doc! {"createdAt": {"$gte": bson_time(from), "$lt": bson_time(to)}})
            .projection(doc! {"_id": 0, "priority": 1, "status": 1, "sla": 1})
            .await
            .map_err(map_err)?
            .map_ok(|r| SlaRecord {
                priority: r.priority,
                status: r.status,
                sla: r.sla.into_domain(),
            })
            .try_collect()
            .await
            .map_err(map_err)
    }

    #[instrument(skip_all)]
    async fn count_open_tickets(&self) -> StoreResult<u64> {
        self.tickets
            .count_documents(doc! {"status": Status::Open.as_str()})
            .await
            .map_err(map_err)
    }

    #[instrument(skip_all, fields(count = notifications.len()))]
    async fn insert_notifications(&self, notifications: &[Notification]) -> StoreResult<()> {
        for n in notifications {
            match self
                .notifications
                .insert_one(NotificationDoc::from_domain(n))
                .await
                .map_err(map_err)
            {
                Ok(_) | Err(StoreError::Duplicate { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    #[instrument(skip_all)]
    async fn list_notifications(
        &self,
        recipient: Option<UserId>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        let mut filter = Document::new();
        if let Some(user) = recipient {
            filter.insert("recipient", user.to_string());
        }
        if let Some(since) = since {
            filter.insert("createdAt", doc! {"$gt": bson_time(since)});
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        find_many(
            &self.notifications,
            filter,
            doc! {"createdAt": 1, "_id": 1},
            Some(limit),
        )
        .await?
        .into_iter()
        .map(NotificationDoc::into_domain)
        .collect()
    }

    #[instrument(skip_all)]
    async fn watch_notifications(
        &self,
        resume: Option<ResumeToken>,
    ) -> StoreResult<Option<NotificationStream>> {
        let stream = self
            .notifications
            .watch()
            .pipeline([doc! {"$match": {"operationType": "insert"}}])
            .resume_after(resume.and_then(|r| r.0))
            .await
            .map_err(map_err)?;
        let notifications = stream.map(|event| {
            let event = event.map_err(map_err)?;
            let doc = event.full_document.ok_or_else(|| {
                corrupt("notification", "insert event without its document".into())
            })?;
            Ok((doc.into_domain()?, ResumeToken(Some(event.id))))
        });
        Ok(Some(Box::pin(notifications)))
    }

    #[instrument(skip_all)]
    async fn mark_notification_read(
        &self,
        user: UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mine = doc! {"_id": id, "recipient": user.to_string()};
        let mut unread = mine.clone();
        unread.insert("readAt", Bson::Null);
        let result = self
            .notifications
            .update_one(unread, doc! {"$set": {"readAt": bson_time(now)}})
            .await
            .map_err(map_err)?;
        if result.matched_count == 1 {
            return Ok(true);
        }
        Ok(self
            .notifications
            .count_documents(mine)
            .await
            .map_err(map_err)?
            == 1)
    }

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
    /// At most `limit` tickets matching `filter`, in `sort` order, without their outboxes.
    async fn find_tickets_where(
        &self,
        filter: Document,
        sort: Document,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        find_many(&self.tickets, filter, sort, Some(limit))
            .await?
            .into_iter()
            .map(TicketDoc::into_domain)
            .collect()
    }

    /// The first ticket matching `filter` (in `sort` order), without its outbox.
    async fn find_ticket_where(
        &self,
        filter: Document,
        sort: Option<Document>,
    ) -> StoreResult<Option<Ticket>> {
        self.tickets
            .find_one(filter)
            .sort(sort.unwrap_or_default())
            .projection(doc! {"pendingEvents": 0})
            .await
            .map_err(map_err)?
            .map(TicketDoc::into_domain)
            .transpose()
    }

    /// Inserts `doc` with `answer` in its `answers`, in one write.
    async fn insert_answering<T: Send + Sync>(
        &self,
        collection: &Collection<T>,
        mut doc: Document,
        answer: Option<&StoredAnswer>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let Some(answer) = answer {
            self.make_room_for_answer(answer, now).await?;
            doc.insert("answers", vec![AnswerDoc::from_domain(answer).to_bson()?]);
        }
        collection
            .clone_with_type::<Document>()
            .insert_one(doc)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Makes room for `answer`: refuses it while an unexpired answer holds its key (the unique
    /// indexes guard each collection against a racing twin; this covers the other
    /// collection), and removes an expired one, which the unique index would still count.
    async fn make_room_for_answer(
        &self,
        answer: &StoredAnswer,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        match self.answer_under(&answer.key).await? {
            None => Ok(()),
            Some((held, _)) if held.expires_at > now => Err(StoreError::Duplicate {
                field: "Idempotency-Key",
            }),
            Some((_, collection)) => {
                let expired = doc! {"key": &answer.key, "expiresAt": {"$lte": bson_time(now)}};
                collection
                    .update_many(
                        doc! {"answers": {"$elemMatch": expired.clone()}},
                        doc! {"$pull": {"answers": expired}},
                    )
                    .await
                    .map_err(map_err)?;
                Ok(())
            }
        }
    }

    /// The answer stored under `key`, expired or not, and the collection that holds it.
    async fn answer_under(
        &self,
        key: &str,
    ) -> StoreResult<Option<(StoredAnswer, Collection<Document>)>> {
        for collection in [
            self.tickets.clone_with_type::<Document>(),
            self.users.clone_with_type::<Document>(),
        ] {
            let found = collection
                .clone_with_type::<AnswersDoc>()
                .find_one(doc! {"answers.key": key})
                .projection(doc! {"answers": 1})
                .await
                .map_err(map_err)?;
            if let Some(answer) = found
                .and_then(|doc| doc.answers.into_iter().find(|a| a.key == key))
                .map(AnswerDoc::into_domain)
            {
                return Ok(Some((answer, collection)));
            }
        }
        Ok(None)
    }

    /// The user matching `filter`, without its outbox.
    async fn find_user_where(&self, filter: Document) -> StoreResult<Option<User>> {
        self.users
            .find_one(filter)
            .projection(doc! {"pendingEvents": 0})
            .await
            .map_err(map_err)?
            .map(UserDoc::into_domain)
            .transpose()
    }
}

/// Agents that can take a slot now.
fn claimable() -> Document {
    doc! {
        "role": Role::Agent.as_str(),
        "agent.presence": Presence::Online.as_str(),
        "agent.freeSlots": {"$gt": 0_i64},
    }
}

/// The escalation scan's query: tickets whose SLA check time has come. Only active tickets
/// carry `sla.checkAt`, so the index holds exactly the tickets the scan may need.
pub fn sla_checks_due_filter(now: DateTime<Utc>) -> Document {
    doc! {"sla.checkAt": {"$lte": bson_time(now)}}
}

/// Takes one slot for `ticket`: the hold, the counter and the load move together.
fn hold_update(ticket: TicketId, now: DateTime<Utc>) -> Document {
    doc! {
        "$inc": {"agent.freeSlots": -1_i64, "agent.load": 1_i64, "revision": 1_i64},
        "$set": {"agent.lastAssignedAt": bson_time(now)},
        "$push": {"agent.holds": {"ticket": ticket.to_string(), "since": bson_time(now)}},
    }
}

/// Reads every document matching `filter`, in `sort` order, without its outbox.
async fn find_many<T>(
    collection: &Collection<T>,
    filter: Document,
    sort: Document,
    limit: Option<i64>,
) -> StoreResult<Vec<T>>
where
    T: serde::de::DeserializeOwned + Send + Sync,
{
    collection
        .find(filter)
        .projection(doc! {"pendingEvents": 0})
        .sort(sort)
        .limit(limit.unwrap_or(0))
        .await
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

fn priority_rank(p: Priority) -> i32 {
    match p {
        Priority::Low => 0,
        Priority::Medium => 1,
        Priority::High => 2,
        Priority::Critical => 3,
    }
}

fn skills_bson(skills: &[Category]) -> Vec<String> {
    skills.iter().map(|c| c.as_str().to_owned()).collect()
}

fn corrupt(what: &'static str, reason: String) -> StoreError {
    StoreError::Corrupt { what, reason }
}

/// Maps a driver error to a [`StoreError`], naming the field of a duplicate key.
fn map_err(err: mongodb::error::Error) -> StoreError {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(we)) if we.code == 11000 => {
            let field = if we.message.contains("email") {
                "email"
            } else if we.message.contains("complaintId") {
                "complaintId"
            } else if we.message.contains("answers") {
                "Idempotency-Key"
            } else {
                "id"
            };
            StoreError::Duplicate { field }
        }
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Other(err.to_string()),
    }
}

/// One pending event: its id (to clear it) and the exact JSON that will be published.
///
/// Stored as text rather than as a BSON document so the envelope round-trips byte for byte,
/// whatever the BSON serializer would make of UUIDs and timestamps.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutboxEntry {
    event_id: String,
    event_type: String,
    envelope: String,
}

impl OutboxEntry {
    fn from_envelope(e: &Envelope) -> Self {
        Self {
            event_id: e.event_id.to_string(),
            event_type: e.event_type().as_str().to_owned(),
            envelope: e.to_json(),
        }
    }

    fn into_envelope(self) -> StoreResult<Envelope> {
        serde_json::from_str(&self.envelope).map_err(|e| corrupt("outbox event", e.to_string()))
    }
}

fn outbox_entries(events: &[Envelope]) -> Vec<OutboxEntry> {
    events.iter().map(OutboxEntry::from_envelope).collect()
}

/// Each `Idempotency-Key` (scoped to its sender) answers once across the collection; documents
/// without answers are not indexed.
fn answers_unique() -> IndexModel {
    IndexModel::builder()
        .keys(doc! {"answers.key": 1})
        .options(
            IndexOptions::builder()
                .unique(true)
                .partial_filter_expression(doc! {"answers.key": {"$exists": true}})
                .name("answers_key".to_owned())
                .build(),
        )
        .build()
}

fn ticket_owner(id: &str) -> StoreResult<OutboxOwner> {
    TicketId::parse(id)
        .map(OutboxOwner::Ticket)
        .map_err(|e| corrupt("ticket", e.to_string()))
}

fn user_owner(id: &str) -> StoreResult<OutboxOwner> {
    UserId::parse("_id", id)
        .map(OutboxOwner::User)
        .map_err(|e| corrupt("user", e.to_string()))
}

/// The answers stored in a document.
#[derive(Deserialize)]
struct AnswersDoc {
    #[serde(default)]
    answers: Vec<AnswerDoc>,
}

/// One [`StoredAnswer`] as stored in the `answers` of the document its request changed.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerDoc {
    key: String,
    fingerprint: String,
    status: i32,
    body: String,
    expires_at: bson::DateTime,
}

impl AnswerDoc {
    fn from_domain(a: &StoredAnswer) -> Self {
        Self {
            key: a.key.clone(),
            fingerprint: a.fingerprint.clone(),
            status: i32::from(a.status),
            body: a.body.clone(),
            expires_at: bson_time(a.expires_at),
        }
    }

    fn into_domain(self) -> StoredAnswer {
        StoredAnswer {
            key: self.key,
            fingerprint: self.fingerprint,
            status: u16::try_from(self.status).unwrap_or(500),
            body: self.body,
            expires_at: chrono_time(self.expires_at),
        }
    }

    fn to_bson(&self) -> StoreResult<bson::Bson> {
        bson::to_bson(self).map_err(|e| StoreError::Other(e.to_string()))
    }
}

/// Who holds a document's outbox, as a claim reads it.
#[derive(Deserialize)]
struct LeaseProbe {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "outboxLease", default)]
    outbox_lease: Option<LeaseHolder>,
}

#[derive(Deserialize)]
struct LeaseHolder {
    by: String,
}

/// Just the outbox of any document.
#[derive(Deserialize)]
struct OutboxDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "pendingEvents", default)]
    pending_events: Vec<OutboxEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryDoc {
    at: bson::DateTime,
    actor: String,
    kind: crate::domain::HistoryKind,
    from: Option<String>,
    to: Option<String>,
    note: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TicketDoc {
    #[serde(rename = "_id")]
    id: String,
    complaint_id: String,
    title: String,
    description: String,
    category: String,
    priority: Priority,
    /// `priority` as a number, for sorting the backlog.
    priority_rank: i32,
    status: Status,
    requester: String,
    assignee: Option<String>,
    created_at: bson::DateTime,
    updated_at: bson::DateTime,
    assigned_at: Option<bson::DateTime>,
    resolved_at: Option<bson::DateTime>,
    history: Vec<HistoryDoc>,
    sla: SlaDoc,
    revision: i64,
    #[serde(default)]
    pending_events: Vec<OutboxEntry>,
    #[serde(default)]
    outbox_pending: bool,
}

impl TicketDoc {
    fn from_domain(t: &Ticket, pending_events: Vec<Envelope>) -> Self {
        Self {
            id: t.id.to_string(),
            complaint_id: t.complaint_id.to_string(),
            title: t.title.as_str().to_owned(),
            description: t.description.as_str().to_owned(),
            category: t.category.as_str().to_owned(),
            priority: t.priority,
            priority_rank: priority_rank(t.priority),
            status: t.status,
            requester: t.requester.to_string(),
            assignee: t.assignee.map(|a| a.to_string()),
            created_at: bson_time(t.created_at),
            updated_at: bson_time(t.updated_at),
            assigned_at: t.assigned_at.map(bson_time),
            resolved_at: t.resolved_at.map(bson_time),
            history: t
                .history
                .iter()
                .map(|h| HistoryDoc {
                    at: bson_time(h.at),
                    actor: h.actor.clone(),
                    kind: h.kind,
                    from: h.from.clone(),
                    to: h.to.clone(),
                    note: h.note.clone(),
                })
                .collect(),
            sla: SlaDoc::from_domain(t),
            revision: rev(t.revision),
            outbox_pending: !pending_events.is_empty(),
            pending_events: outbox_entries(&pending_events),
        }
    }

    fn into_domain(self) -> StoreResult<Ticket> {
        let bad = |e: crate::domain::ValidationError| corrupt("ticket", e.to_string());
        Ok(Ticket {
            id: TicketId::parse(&self.id).map_err(bad)?,
            complaint_id: ComplaintId::parse(&self.complaint_id).map_err(bad)?,
            title: Title::parse(&self.title).map_err(bad)?,
            description: Description::parse(&self.description).map_err(bad)?,
            category: Category::stored(self.category),
            priority: self.priority,
            status: self.status,
            requester: UserId::parse("requester", &self.requester).map_err(bad)?,
            assignee: self
                .assignee
                .as_deref()
                .map(|a| UserId::parse("assignee", a))
                .transpose()
                .map_err(bad)?,
            created_at: chrono_time(self.created_at),
            updated_at: chrono_time(self.updated_at),
            assigned_at: self.assigned_at.map(chrono_time),
            resolved_at: self.resolved_at.map(chrono_time),
            history: self
                .history
                .into_iter()
                .map(|h| HistoryEntry {
                    at: chrono_time(h.at),
                    actor: h.actor,
                    kind: h.kind,
                    from: h.from,
                    to: h.to,
                    note: h.note,
                })
                .collect(),
            sla: self.sla.into_domain(),
            revision: u64::try_from(self.revision)
                .map_err(|_| corrupt("ticket", "negative revision".into()))?,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentDoc {
    skills: Vec<String>,
    tier: Tier,
    capacity: i64,
    presence: Presence,
    free_slots: i64,
    /// Slots held: one per ticket.
    #[serde(default)]
    holds: Vec<HoldDoc>,
    /// `holds.len()`, for sorting least-loaded first.
    #[serde(default)]
    load: i64,
    last_assigned_at: Option<bson::DateTime>,
}

#[derive(Serialize, Deserialize)]
struct HoldDoc {
    ticket: String,
    since: bson::DateTime,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDoc {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    email: String,
    role: Role,
    password_hash: String,
    agent: Option<AgentDoc>,
    created_at: bson::DateTime,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    session_version: i64,
    revision: i64,
    #[serde(default)]
    pending_events: Vec<OutboxEntry>,
    #[serde(default)]
    outbox_pending: bool,
}

impl UserDoc {
    fn from_domain(u: &User, pending_events: Vec<Envelope>) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            role: u.role,
            password_hash: u.password_hash.as_str().to_owned(),
            agent: u.agent.as_ref().map(|a| AgentDoc {
                skills: skills_bson(&a.skills),
                tier: a.tier,
                capacity: i64::from(a.capacity),
                presence: a.presence,
                free_slots: i64::from(a.free_slots),
                holds: a
                    .holds
                    .iter()
                    .map(|h| HoldDoc {
                        ticket: h.ticket.to_string(),
                        since: bson_time(h.since),
                    })
                    .collect(),
                load: i64::try_from(a.holds.len()).unwrap_or(i64::MAX),
                last_assigned_at: a.last_assigned_at.map(bson_time),
            }),
            created_at: bson_time(u.created_at),
            disabled: u.disabled,
            session_version: i64::from(u.session_version),
            revision: rev(u.revision),
            outbox_pending: !pending_events.is_empty(),
            pending_events: outbox_entries(&pending_events),
        }
    }

    fn into_domain(self) -> StoreResult<User> {
        let bad = |e: crate::domain::ValidationError| corrupt("user", e.to_string());
        let count =
            |n: i64| u32::try_from(n).map_err(|_| corrupt("user", format!("bad slot count {n}")));
        let agent = match self.agent {
            None => None,
            Some(a) => Some(AgentProfile {
                skills: a.skills.into_iter().map(Category::stored).collect(),
                tier: a.tier,
                capacity: count(a.capacity)?,
                presence: a.presence,
                free_slots: count(a.free_slots)?,
                holds: a
                    .holds
                    .into_iter()
                    .map(|h| {
                        Ok(SlotHold {
                            ticket: TicketId::parse(&h.ticket).map_err(bad)?,
                            since: chrono_time(h.since),
                        })
                    })
                    .collect::<StoreResult<_>>()?,
                last_assigned_at: a.last_assigned_at.map(chrono_time),
            }),
        };
        Ok(User {
            id: UserId::parse("_id", &self.id).map_err(bad)?,
            name: PersonName::parse(&self.name).map_err(bad)?,
            email: Email::parse(&self.email).map_err(bad)?,
            role: self.role,
            password_hash: PasswordHash::from_phc(self.password_hash),
            agent,
            created_at: chrono_time(self.created_at),
            disabled: self.disabled,
            session_version: u32::try_from(self.session_version)
                .map_err(|_| corrupt("user", "bad session version".into()))?,
            revision: u64::try_from(self.revision)
                .map_err(|_| corrupt("user", "negative revision".into()))?,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationDoc {
    #[serde(rename = "_id")]
    id: String,
    recipient: String,
    kind: NotificationKind,
    message: String,
    /// The summary as JSON text, so it round-trips exactly.
    data: String,
    event_id: String,
    created_at: bson::DateTime,
    read_at: Option<bson::DateTime>,
}

impl NotificationDoc {
    fn from_domain(n: &Notification) -> Self {
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

    fn into_domain(self) -> StoreResult<Notification> {
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
