//! The embedded store: everything in one mutex-guarded map, the same semantics as MongoDB.
//!
//! One lock for all collections keeps every operation trivially atomic; the critical sections
//! are map lookups, so contention stays far below the cost of an HTTP request.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

mod event_log;

pub use event_log::MemoryEventLog;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{
    EventLog, NotificationStream, OutboxLease, OutboxOwner, PendingEvents, ResumeToken, SlaRecord,
    Store, StoreError, StoreResult, StoredAnswer, TicketQuery, UserQuery,
};
use crate::domain::{
    Category, ComplaintId, Envelope, Notification, Presence, Priority, Role, SlotHold, Status,
    Ticket, TicketId, TicketRef, Tier, User, UserId,
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
            Some(held) if held.expires_at > now => Err(StoreError::Duplicate {
                field: "Idempotency-Key",
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
        let active = t.status.is_active();
        Self {
            backlog: (t.status == Status::Open).then_some((Reverse(t.priority), t.id)),
            sla_check: t.sla.check_at.filter(|_| active).map(|at| (at, t.id)),
            sla_due: t.sla.next_due().filter(|_| active).map(|at| (at, t.id)),
            changed: (t.updated_at, t.id),
        }
    }
}

/// Takes a slot of `user` for `ticket` if it can take one.
fn hold(user: &mut User, ticket: TicketId, now: DateTime<Utc>) -> bool {
    let Some(profile) = user.agent.as_mut() else {
        return false;
    };
    let can = profile.presence == Presence::Online
        && profile.free_slots > 0
        && !profile.holds.iter().any(|h| h.ticket == ticket);
    if can {
        profile.free_slots -= 1;
        profile.holds.push(SlotHold { ticket, since: now });
        profile.last_assigned_at = Some(now);
        user.revision += 1;
    }
    can
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    fn event_log(&self) -> Arc<dyn EventLog> {
        self.events.clone()
    }

    async fn next_complaint_number(&self) -> StoreResult<u64> {
        let mut inner = self.lock();
        inner.complaint_counter += 1;
        Ok(inner.complaint_counter)
    }

    async fn insert_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.check_answer(answer, ticket.created_at)?;
        if inner.by_complaint.contains_key(&ticket.complaint_id) {
            return Err(StoreError::Duplicate {
                field: "complaintId",
            });
        }
        if inner.tickets.contains_key(&ticket.id) {
            return Err(StoreError::Duplicate { field: "id" });
        }
        inner.by_complaint.insert(ticket.complaint_id, ticket.id);
        inner.keep_answer(answer);
        inner.reindex(None, ticket);
        inner.tickets.insert(
            ticket.id,
            Record {
                doc: ticket.clone(),
                outbox: events.to_vec(),
                lease: None,
            },
        );
        inner.add_events(OutboxOwner::Ticket(ticket.id), events);
        Ok(())
    }

    async fn find_ticket(&self, by: TicketRef) -> StoreResult<Option<Ticket>> {
        let inner = self.lock();
        let id = match by {
            TicketRef::Id(id) => Some(id),
            TicketRef::Complaint(c) => inner.by_complaint.get(&c).copied(),
        };
        Ok(id
            .and_then(|id| inner.tickets.get(&id))
            .map(|r| r.doc.clone()))
    }

    async fn list_tickets(&self, query: &TicketQuery) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        let range = match query.before {
            Some(before) => inner.tickets.range(..before),
            None => inner.tickets.range(..),
        };
        Ok(range
            .rev()
            .map(|(_, r)| &r.doc)
            .filter(|t| query.matches(t))
            .take(query.limit)
            .cloned()
            .collect())
    }

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

    async fn update_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        inner.check_answer(answer, ticket.updated_at)?;
        let Some(record) = inner.tickets.get_mut(&ticket.id) else {
            return Ok(false);
        };
        if record.doc.revision != ticket.revision {
            return Ok(false);
        }
        let before = IndexKeys::of(&record.doc);
        record.doc = ticket.clone();
        record.doc.revision += 1;
        record.outbox.extend_from_slice(events);
        inner.add_events(OutboxOwner::Ticket(ticket.id), events);
        inner.keep_answer(answer);
        inner.reindex(Some(before), ticket);
        Ok(true)
    }

    async fn insert_user_answering(
        &self,
        user: &User,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.check_answer(answer, user.created_at)?;
        if inner.by_email.contains_key(user.email.as_str()) {
            return Err(StoreError::Duplicate { field: "email" });
        }
        inner.keep_answer(answer);
        inner
            .by_email
            .insert(user.email.as_str().to_owned(), user.id);
        inner.users.insert(
            user.id,
            Record {
                doc: user.clone(),
                outbox: events.to_vec(),
                lease: None,
            },
        );
        inner.add_events(OutboxOwner::User(user.id), events);
        Ok(())
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).map(|r| r.doc.clone()))
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let inner = self.lock();
        Ok(inner
            .by_email
            .get(email)
            .and_then(|id| inner.users.get(id))
            .map(|r| r.doc.clone()))
    }

    async fn list_users(&self, role: Role) -> StoreResult<Vec<User>> {
        Ok(self
            .lock()
            .users
            .values()
            .filter(|r| r.doc.role == role)
            .map(|r| r.doc.clone())
            .collect())
    }

    async fn page_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let inner = self.lock();
        let mut users: Vec<User> = inner
            .users
            .values()
            .map(|r| &r.doc)
            .filter(|u| query.role.is_none_or(|r| u.role == r))
            .filter(|u| query.after.is_none_or(|after| u.id > after))
            .cloned()
            .collect();
        users.sort_by_key(|u| u.id);
        users.truncate(query.limit);
        Ok(users)
    }

    async fn update_user(&self, user: &User, events: &[Envelope]) -> StoreResult<bool> {
        let mut inner = self.lock();
        let Some(record) = inner.users.get_mut(&user.id) else {
            return Ok(false);
        };
        if record.doc.revision != user.revision {
            return Ok(false);
        }
        // Slot counters belong to take_slot/release_slot; keep the stored ones.
        let slots = record
            .doc
            .agent
            .as_ref()
            .map(|a| (a.free_slots, a.holds.clone(), a.last_assigned_at));
        record.doc = user.clone();
        record.doc.revision += 1;
        if let (Some(agent), Some((free, holds, last))) = (record.doc.agent.as_mut(), slots) {
            agent.free_slots = free;
            agent.holds = holds;
            agent.last_assigned_at = last;
        }
        record.outbox.extend_from_slice(events);
        inner.add_events(OutboxOwner::User(user.id), events);
        Ok(true)
    }

    async fn take_slot(
        &self,
        agent: UserId,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut inner = self.lock();
        Ok(inner
            .agent_mut(agent)
            .and_then(|user| hold(user, ticket, now).then(|| user.clone())))
    }

    async fn claim_agent(
        &self,
        category: &Category,
        tier: Option<Tier>,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut inner = self.lock();
        let best = inner
            .users
            .values()
            .map(|r| &r.doc)
            .filter(|u| u.role == Role::Agent)
            .filter_map(|u| u.agent.as_ref().map(|a| (u, a)))
            .filter(|(_, a)| {
                a.presence == Presence::Online
                    && a.free_slots > 0
                    && a.has_skill(category)
                    && tier.is_none_or(|t| a.tier == t)
                    && !a.holds.iter().any(|h| h.ticket == ticket)
            })
            // Least loaded, then longest idle (never assigned first), then oldest account.
            .min_by_key(|(u, a)| (a.holds.len(), a.last_assigned_at, u.id))
            .map(|(u, _)| u.id);
        Ok(best.and_then(|id| {
            let user = inner.agent_mut(id)?;
            hold(user, ticket, now).then(|| user.clone())
        }))
    }

    async fn release_slot(&self, agent: UserId, ticket: TicketId) -> StoreResult<bool> {
        let mut inner = self.lock();
        let Some(user) = inner.agent_mut(agent) else {
            return Ok(false);
        };
        let profile = user.agent.as_mut().expect("BUG: agent_mut returns agents");
        let before = profile.holds.len();
        profile.holds.retain(|h| h.ticket != ticket);
        if profile.holds.len() == before {
            return Ok(false);
        }
        profile.free_slots += 1;
        user.revision += 1;
        Ok(true)
    }

    async fn sla_checks_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .sla_checks
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .filter_map(|(_, id)| inner.tickets.get(id).map(|r| r.doc.clone()))
            .collect())
    }

    async fn tickets_due(
        &self,
        after: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .sla_due
            .iter()
            .skip_while(|(at, _)| after.is_some_and(|a| *at <= a))
            .take_while(|(at, _)| *at <= until)
            .take(limit)
            .filter_map(|(_, id)| inner.tickets.get(id).map(|r| r.doc.clone()))
            .collect())
    }

    async fn tickets_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .changed
            .iter()
            .rev()
            .take_while(|(at, _)| *at > since)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(limit)
            .filter_map(|(_, id)| inner.tickets.get(id).map(|r| r.doc.clone()))
            .collect())
    }

    async fn sla_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SlaRecord>> {
        Ok(self
            .lock()
            .tickets
            .values()
            .map(|r| &r.doc)
            .filter(|t| t.created_at >= from && t.created_at < to)
            .map(|t| SlaRecord {
                priority: t.priority,
                status: t.status,
                sla: t.sla,
            })
            .collect())
    }

    async fn next_backlog_ticket(&self, skills: &[Category]) -> StoreResult<Option<Ticket>> {
        let inner = self.lock();
        Ok(inner
            .backlog
            .iter()
            .filter_map(|(_, id)| inner.tickets.get(id))
            .map(|r| &r.doc)
            .find(|t| skills.contains(&t.category))
            .cloned())
    }

    async fn count_open_tickets(&self) -> StoreResult<u64> {
        Ok(self.lock().backlog.len() as u64)
    }

    async fn insert_notifications(&self, notifications: &[Notification]) -> StoreResult<()> {
        let mut inner = self.lock();
        for n in notifications {
            if !inner.notifications.contains_key(&n.id) {
                // No relay listening is fine: the feed keeps it.
                let _ = self.live.send(n.clone());
                inner
                    .inboxes
                    .entry(n.recipient)
                    .or_default()
                    .push(n.id.clone());
                inner.feed.insert((n.created_at, n.id.clone()));
                inner.notifications.insert(n.id.clone(), n.clone());
            }
        }
        Ok(())
    }

    async fn list_notifications(
        &self,
        recipient: Option<UserId>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        let inner = self.lock();
        let newer = |n: &&Notification| since.is_none_or(|s| n.created_at > s);
        let mut found: Vec<Notification> = match recipient {
            Some(user) => inner
                .inboxes
                .get(&user)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|id| inner.notifications.get(id))
                .filter(newer)
                .cloned()
                .collect(),
            None => {
                let from = (since.unwrap_or(DateTime::<Utc>::MIN_UTC), String::new());
                inner
                    .feed
                    .range(from..)
                    .filter_map(|(_, id)| inner.notifications.get(id))
                    .filter(newer)
                    .take(limit)
                    .cloned()
                    .collect()
            }
        };
        found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        found.truncate(limit);
        Ok(found)
    }

    async fn watch_notifications(
        &self,
        _resume: Option<ResumeToken>,
    ) -> StoreResult<Option<NotificationStream>> {
        let stream = futures::stream::unfold(self.live.subscribe(), |mut rx| async move {
            match rx.recv().await {
                Ok(n) => Some((Ok((n, ResumeToken(None))), rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some((
                    Err(StoreError::Other(format!(
                        "the live feed fell {missed} notifications behind"
                    ))),
                    rx,
                )),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        Ok(Some(Box::pin(stream)))
    }

    async fn mark_notification_read(
        &self,
        user: UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        match inner.notifications.get_mut(id) {
            Some(n) if n.recipient == user => {
                n.read_at.get_or_insert(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<PendingEvents>> {
        let inner = self.lock();
        Ok(inner
            .outbox
            .iter()
            .take(limit)
            .map(|&owner| PendingEvents {
                owner,
                events: inner
                    .outbox_of(owner)
                    .map(|(events, _)| events.clone())
                    .unwrap_or_default(),
                taken_over: false,
            })
            .collect())
    }

    async fn claim_events(
        &self,
        lease: &OutboxLease,
        limit: usize,
    ) -> StoreResult<Vec<PendingEvents>> {
        let mut inner = self.lock();
        // Agents first, at most half the batch, as the MongoDB adapter does: ticket events
        // must not starve an agent's presence change.
        let (users, tickets): (Vec<OutboxOwner>, Vec<OutboxOwner>) = inner
            .outbox
            .iter()
            .copied()
            .partition(|o| matches!(o, OutboxOwner::User(_)));
        let owners: Vec<OutboxOwner> = users
            .into_iter()
            .take(limit.div_ceil(2))
            .chain(tickets)
            .collect();
        let mut claimed = Vec::new();
        for owner in owners {
            if claimed.len() == limit {
                break;
            }
            let Some((events, held)) = inner.outbox_of_mut(owner) else {
                continue;
            };
            let taken_over = match held {
                Some((by, until)) if *by != lease.relay && *until >= lease.now => continue,
                Some((by, _)) => *by != lease.relay,
                None => false,
            };
            *held = Some((lease.relay.clone(), lease.until));
            claimed.push(PendingEvents {
                owner,
                events: events.clone(),
                taken_over,
            });
        }
        Ok(claimed)
    }

    async fn renew_leases(
        &self,
        lease: &OutboxLease,
        owners: &[OutboxOwner],
    ) -> StoreResult<Vec<OutboxOwner>> {
        let mut inner = self.lock();
        let mut held = Vec::new();
        for &owner in owners {
            if let Some((_, Some((by, until)))) = inner.outbox_of_mut(owner)
                && *by == lease.relay
            {
                *until = lease.until;
                held.push(owner);
            }
        }
        Ok(held)
    }

    async fn clear_events(&self, owner: OutboxOwner, ids: &[Uuid], relay: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        let now_empty = match inner.outbox_of_mut(owner) {
            Some((outbox, lease)) => {
                outbox.retain(|e| !ids.contains(&e.event_id));
                if lease.as_ref().is_some_and(|(by, _)| by == relay) {
                    *lease = None;
                }
                outbox.is_empty()
            }
            None => true,
        };
        if now_empty {
            inner.outbox.remove(&owner);
        }
        Ok(())
    }
}
