//! The store port and its two adapters: MongoDB for production, memory for `dev` and tests.
//!
//! Both keep the same promises, checked by one contract suite (`tests/store_contract.rs`):
//! unique complaint ids and emails, conditional (revision-checked) updates, atomic slot claims,
//! and an outbox: events written in the same document write as the change they describe.

pub mod event_log;
mod memory;
mod mongo;

use async_trait::async_trait;
use uuid::Uuid;

use chrono::{DateTime, Utc};

use crate::domain::{
    Category, Envelope, Notification, Priority, Role, Status, Ticket, TicketId, TicketRef,
    TicketSla, Tier, User, UserId,
};

pub use event_log::EventLog;
pub use memory::{MemoryEventLog, MemoryStore};
pub use mongo::{MongoEventLog, MongoStore, MongoStoreOptions, SLA_CHECK_INDEX};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (the API answers 503).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A unique field already holds this value.
    #[error("{field} is already taken")]
    Duplicate {
        /// The field, as the API names it (`email`).
        field: &'static str,
    },
    /// A stored document could not be read back into the domain.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which kind of document.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other database failure.
    #[error("store operation failed: {0}")]
    Other(String),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Filters and page for listing tickets, newest first.
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    /// Only tickets opened by this user.
    pub requester: Option<UserId>,
    /// Only tickets held by this agent.
    pub assignee: Option<UserId>,
    /// Only tickets in this status.
    pub status: Option<Status>,
    /// Only tickets of this priority.
    pub priority: Option<Priority>,
    /// Only tickets of this category.
    pub category: Option<Category>,
    /// Only tickets older than this one (the cursor of the previous page).
    pub before: Option<TicketId>,
    /// Page size.
    pub limit: usize,
}

impl TicketQuery {
    /// Whether `t` passes every filter (the cursor and limit aside).
    pub fn matches(&self, t: &Ticket) -> bool {
        self.requester.is_none_or(|r| t.requester == r)
            && self.assignee.is_none_or(|a| t.assignee == Some(a))
            && self.status.is_none_or(|s| t.status == s)
            && self.priority.is_none_or(|p| t.priority == p)
            && self.category.as_ref().is_none_or(|c| &t.category == c)
    }
}

/// Filters and page for listing users, oldest account first.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only accounts made after this one (the cursor of the previous page).
    pub after: Option<UserId>,
    /// Page size.
    pub limit: usize,
}

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

/// A position in the notifications feed that a watch resumes after (opaque; the embedded
/// store's in-process feed has none).
#[derive(Debug, Clone)]
pub struct ResumeToken(pub(crate) Option<mongodb::change_stream::event::ResumeToken>);

/// New notifications as the database announces them, each with the position after it.
pub type NotificationStream =
    futures::stream::BoxStream<'static, StoreResult<(Notification, ResumeToken)>>;

/// What the compliance report needs of one ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaRecord {
    /// Its priority now.
    pub priority: Priority,
    /// Its status now.
    pub status: Status,
    /// Its SLA state.
    pub sla: TicketSla,
}

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

/// Persistence for tickets, users and their outboxes.
///
/// Every write that changes state takes the events describing the change and stores them in the
/// same document write, so a crash can lose neither without the other.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// The log of published events, kept in the same database.
    fn event_log(&self) -> std::sync::Arc<dyn EventLog>;

    /// Takes the next complaint number from an atomic counter (1, 2, 3…).
    async fn next_complaint_number(&self) -> StoreResult<u64>;

    /// Inserts a new ticket with its events.
    async fn insert_ticket(&self, ticket: &Ticket, events: &[Envelope]) -> StoreResult<()> {
        self.insert_ticket_answering(ticket, events, None).await
    }

    /// [`Store::insert_ticket`], storing `answer` in the same write.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] with field `Idempotency-Key` when an unexpired answer has the
    /// same key.
    async fn insert_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()>;

    /// The unexpired answer stored under `key`, if any.
    async fn find_answer(&self, key: &str, now: DateTime<Utc>)
    -> StoreResult<Option<StoredAnswer>>;

    /// Finds a ticket by id or complaint id.
    async fn find_ticket(&self, by: TicketRef) -> StoreResult<Option<Ticket>>;

    /// Lists tickets matching `query`, newest first.
    async fn list_tickets(&self, query: &TicketQuery) -> StoreResult<Vec<Ticket>>;

    /// Replaces the ticket's state and appends `events`, only if the stored revision is still
    /// `ticket.revision`; the stored revision becomes `ticket.revision + 1`.
    /// Returns `false` (and writes nothing) when someone else changed it first.
    async fn update_ticket(&self, ticket: &Ticket, events: &[Envelope]) -> StoreResult<bool> {
        self.update_ticket_answering(ticket, events, None).await
    }

    /// [`Store::update_ticket`], storing `answer` in the same write.
    async fn update_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<bool>;

    /// Inserts a user with its events.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] with field `email` when the email is taken.
    async fn insert_user(&self, user: &User, events: &[Envelope]) -> StoreResult<()> {
        self.insert_user_answering(user, events, None).await
    }

    /// [`Store::insert_user`], storing `answer` in the same write.
    ///
    /// # Errors
    /// As [`Store::insert_user`], and [`StoreError::Duplicate`] with field `Idempotency-Key`.
    async fn insert_user_answering(
        &self,
        user: &User,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()>;

    /// Finds a user by id.
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>>;

    /// Finds a user by (normalised) email.
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    /// Like [`Store::update_ticket`], for a user. Slot counters are not written: they change only
    /// through [`Store::take_slot`] and [`Store::release_slot`].
    async fn update_user(&self, user: &User, events: &[Envelope]) -> StoreResult<bool>;

    /// Atomically takes a slot of `agent` for `ticket` if the agent is online, has a free slot
    /// and does not hold one for `ticket` already; stamps `last_assigned_at`. Returns the agent
    /// after the claim, or `None` if nothing was taken.
    async fn take_slot(
        &self,
        agent: UserId,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    /// Atomically claims a slot for `ticket` from the best agent for `category` (of `tier`,
    /// when given): online, a free slot, the skill, not holding `ticket` already; least loaded
    /// first, then longest idle (never assigned counts as idle longest). One conditional update,
    /// so any number of workers can claim at once without overbooking anyone.
    async fn claim_agent(
        &self,
        category: &Category,
        tier: Option<Tier>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    /// Gives back the slot `agent` holds for `ticket`. Returns whether there was one: releasing
    /// twice releases once.
    async fn release_slot(&self, agent: UserId, ticket: TicketId) -> StoreResult<bool>;

    /// The backlog ticket an agent with `skills` should take next: `Open`, a matching category,
    /// highest priority first, then oldest.
    async fn next_backlog_ticket(&self, skills: &[Category]) -> StoreResult<Option<Ticket>>;

    /// How many tickets wait in the backlog (`Open`).
    async fn count_open_tickets(&self) -> StoreResult<u64>;

    /// Active tickets whose SLA check time ([`TicketSla::check_at`]) is at or before `now`,
    /// earliest first, at most `limit`: the escalation scan's work. Served by an index, so the
    /// cost follows the number of due tickets, not the number of open ones.
    async fn sla_checks_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>>;

    /// Active tickets whose next unmet SLA target ([`TicketSla::next_due`]) falls after `after`
    /// (if given) and at or before `until`, soonest first, at most `limit`: the at-risk and
    /// breached lists.
    async fn tickets_due(
        &self,
        after: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>>;

    /// Tickets changed after `since`, oldest change first, at most `limit`: the live board's
    /// feed.
    async fn tickets_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>>;

    /// The priority, status and SLA state of every ticket opened in `[from, to)`, for the
    /// compliance report.
    async fn sla_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SlaRecord>>;

    /// Users with `role`, oldest account first.
    async fn list_users(&self, role: Role) -> StoreResult<Vec<User>>;

    /// A page of users matching `query`, oldest account first (ids are time-ordered).
    async fn page_users(&self, query: &UserQuery) -> StoreResult<Vec<User>>;

    /// Stores notifications; one already stored (same id) is skipped, so redelivered events
    /// notify once.
    async fn insert_notifications(&self, notifications: &[Notification]) -> StoreResult<()>;

    /// Notifications of `recipient` (of everyone when `None`: the live relay's feed), oldest
    /// first, made after `since` if given, at most `limit`.
    async fn list_notifications(
        &self,
        recipient: Option<UserId>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>>;

    /// New notifications as they are written, after `resume` if given (a MongoDB change
    /// stream, or the embedded store's in-process broadcast); `None` when the store cannot
    /// push them, and the relay polls instead.
    async fn watch_notifications(
        &self,
        _resume: Option<ResumeToken>,
    ) -> StoreResult<Option<NotificationStream>> {
        Ok(None)
    }

    /// Marks one of `user`'s notifications read; `false` if `user` has no such notification.
    async fn mark_notification_read(
        &self,
        user: UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

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

/// Stores `ticket`, just assigned to `agent` whose slot for it is already taken, with its
/// events; if the ticket changed meanwhile (or the write fails) the slot is given back.
/// Returns whether the assignment was stored. The one way QuickFix commits an assignment, so
/// a claimed slot never outlives a failed one.
///
/// # Errors
/// When the store fails; the slot is then released on a best-effort basis (the worker's sweep
/// frees it otherwise).
pub async fn commit_claimed(
    store: &dyn Store,
    ticket: &Ticket,
    agent: UserId,
    events: &[Envelope],
    answer: Option<&StoredAnswer>,
) -> StoreResult<bool> {
    match store.update_ticket_answering(ticket, events, answer).await {
        Ok(true) => Ok(true),
        Ok(false) => {
            store.release_slot(agent, ticket.id).await?;
            Ok(false)
        }
        Err(err) => {
            let _ = store.release_slot(agent, ticket.id).await;
            Err(err)
        }
    }
}
