//! The embedded store: everything in one mutex-guarded map, the same semantics as MongoDB.
//!
//! One lock for all collections keeps every operation trivially atomic; the critical sections
//! are map lookups, so contention stays far below the cost of an HTTP request.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

mod answers;
mod event_log;
mod inbox;
mod organizations;
mod outbox;
mod slots;
mod tickets;
mod users;

pub use event_log::MemoryEventLog;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::{EventLog, IDEMPOTENCY_KEY, OutboxOwner, Store, StoreError, StoreResult, StoredAnswer};
use crate::domain::{
    ComplaintId, Envelope, Notification, Organization, OrganizationId, Priority, Role, Ticket,
    TicketId, User, UserId,
};

/// A document and its outbox.
struct Record<T> {
    doc: T,
    outbox: Vec<Envelope>,
    lease: Lease,
}

/// The relay holding an outbox, and until when.
type Lease = Option<(String, DateTime<Utc>)>;

#[derive(Default)]
struct Inner {
    complaint_counter: u64,
    /// Ordered by id, which is ordered by creation time.
    tickets: BTreeMap<TicketId, Record<Ticket>>,
    by_complaint: HashMap<ComplaintId, TicketId>,
    users: BTreeMap<UserId, Record<User>>,
    by_email: HashMap<String, UserId>,
    /// Ordered by id, which is ordered by creation time.
    organizations: BTreeMap<OrganizationId, Organization>,
    /// Lower-cased names.
    organization_names: HashMap<String, OrganizationId>,
    /// Documents whose outbox is not empty, oldest first.
    outbox: BTreeSet<OutboxOwner>,
    /// `Open` tickets, highest priority first, then oldest.
    backlog: BTreeSet<(Reverse<Priority>, TicketId)>,
    /// Active tickets by SLA check time.
    sla_checks: BTreeSet<(DateTime<Utc>, TicketId)>,
    /// Active tickets by their next unmet SLA due time.
    sla_due: BTreeSet<(DateTime<Utc>, TicketId)>,
    /// Every ticket by its last change.
    changed: BTreeSet<(DateTime<Utc>, TicketId)>,
    /// Every notification by creation time, for the live relay.
    feed: BTreeSet<(DateTime<Utc>, String)>,
    /// Stored answers by their scoped `Idempotency-Key`.
    answers: HashMap<String, StoredAnswer>,
    /// Notifications by id, and each recipient's ids oldest first.
    notifications: HashMap<String, Notification>,
    inboxes: HashMap<UserId, Vec<String>>,
}

/// In-memory [`Store`] for `quickfix dev` and tests.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// New notifications, pushed to the live relays of this process.
    live: broadcast::Sender<Notification>,
    /// The published events.
    events: Arc<MemoryEventLog>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            live: broadcast::channel(LIVE_BUFFER).0,
            events: Arc::default(),
        }
    }
}

/// Notifications a slow live relay may fall behind by before it re-reads the feed.
const LIVE_BUFFER: usize = 4096;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose event log keeps events for `retention`.
    pub fn with_event_retention(retention: chrono::TimeDelta) -> Self {
        Self {
            events: Arc::new(MemoryEventLog::new(retention)),
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("BUG: memory store mutex poisoned")
    }
}

impl Inner {
    /// The outbox of `owner` and its lease.
    fn outbox_of(&self, owner: OutboxOwner) -> Option<(&Vec<Envelope>, &Lease)> {
        match owner {
            OutboxOwner::Ticket(id) => self.tickets.get(&id).map(|r| (&r.outbox, &r.lease)),
            OutboxOwner::User(id) => self.users.get(&id).map(|r| (&r.outbox, &r.lease)),
        }
    }

    /// The outbox of `owner` and its lease, to change.
    fn outbox_of_mut(&mut self, owner: OutboxOwner) -> Option<(&mut Vec<Envelope>, &mut Lease)> {
        match owner {
            OutboxOwner::Ticket(id) => self
                .tickets
                .get_mut(&id)
                .map(|r| (&mut r.outbox, &mut r.lease)),
            OutboxOwner::User(id) => self
                .users
                .get_mut(&id)
                .map(|r| (&mut r.outbox, &mut r.lease)),
        }
    }

    /// Refuses an answer whose key is taken by an unexpired one.
    fn check_answer(&self, answer: Option<&StoredAnswer>, now: DateTime<Utc>) -> StoreResult<()> {
        match answer.and_then(|a| self.answers.get(&a.key)) {
            Some(held) if held.expires_at > now => Err(StoreError::Conflict {
                field: IDEMPOTENCY_KEY,
            }),
            _ => Ok(()),
        }
    }

    fn keep_answer(&mut self, answer: Option<&StoredAnswer>) {
        if let Some(a) = answer {
            self.answers.insert(a.key.clone(), a.clone());
        }
    }

    fn add_events(&mut self, owner: OutboxOwner, events: &[Envelope]) {
        if !events.is_empty() {
            self.outbox.insert(owner);
        }
    }

    /// Keeps the indexes in step with a ticket's new state (`before` is its old one).
    fn reindex(&mut self, before: Option<IndexKeys>, after: &Ticket) {
        if let Some(old) = before {
            old.backlog.map(|k| self.backlog.remove(&k));
            old.sla_check.map(|k| self.sla_checks.remove(&k));
            old.sla_due.map(|k| self.sla_due.remove(&k));
            self.changed.remove(&old.changed);
        }
        let new = IndexKeys::of(after);
        new.backlog.map(|k| self.backlog.insert(k));
        new.sla_check.map(|k| self.sla_checks.insert(k));
        new.sla_due.map(|k| self.sla_due.insert(k));
        self.changed.insert(new.changed);
    }

    fn agent_mut(&mut self, id: UserId) -> Option<&mut User> {
        self.users
            .get_mut(&id)
            .map(|r| &mut r.doc)
            .filter(|u| u.role == Role::Agent && u.agent.is_some())
    }
}

/// A ticket's entries in the secondary indexes.
struct IndexKeys {
    backlog: Option<(Reverse<Priority>, TicketId)>,
    sla_check: Option<(DateTime<Utc>, TicketId)>,
    sla_due: Option<(DateTime<Utc>, TicketId)>,
    changed: (DateTime<Utc>, TicketId),
}

impl IndexKeys {
    fn of(t: &Ticket) -> Self {
        Self {
            backlog: t.in_backlog().then(|| t.backlog_key()),
            sla_check: t.sla_check_at().map(|at| (at, t.id)),
            sla_due: t.sla_next_due().map(|at| (at, t.id)),
            changed: (t.updated_at, t.id),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    fn event_log(&self) -> Arc<dyn EventLog> {
        self.events.clone()
    }
}
