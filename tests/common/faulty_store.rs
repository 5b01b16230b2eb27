//! A store that freezes on its first ticket update, as a worker killed in the middle of a
//! handler would: the slot is claimed, the ticket is never written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quickfix::domain::{
    Category, Envelope, Notification, Organization, OrganizationId, Role, Ticket, TicketId,
    TicketRef, Tier, User, UserId,
};
use quickfix::{
    AgentSlots, Answers, Inbox, Organizations, Outbox, OutboxOwner, PendingEvents, SlaRecord,
    Store, StoreResult, StoredAnswer, TicketQuery, TicketStore, UserStore,
};
use tokio::sync::Notify;
use uuid::Uuid;

/// Delegates to `inner`, except that the first `update_ticket` never returns (or, when built
/// with [`FaultyStore::failing`], every `update_ticket` fails as if the database were down;
/// built with [`FaultyStore::counting`], it only counts pings; built with
/// [`FaultyStore::holding_insert`], the first `insert_ticket` waits for `release`).
pub struct FaultyStore {
    pub inner: Arc<dyn Store>,
    pub hung: Arc<Notify>,
    /// Lets a held `insert_ticket` go on.
    pub release: Arc<Notify>,
    hold_insert: AtomicBool,
    /// How many times `ping` was called.
    pub pings: AtomicUsize,
    tripped: AtomicBool,
    fail: bool,
}

impl FaultyStore {
    fn build(inner: Arc<dyn Store>, fail: bool, hang: bool) -> Arc<Self> {
        Arc::new(Self {
            inner,
            hung: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
            hold_insert: AtomicBool::new(false),
            pings: AtomicUsize::new(0),
            tripped: AtomicBool::new(!hang),
            fail,
        })
    }

    pub fn hanging(inner: Arc<dyn Store>) -> Arc<Self> {
        Self::build(inner, false, true)
    }

    pub fn failing(inner: Arc<dyn Store>) -> Arc<Self> {
        Self::build(inner, true, true)
    }

    pub fn counting(inner: Arc<dyn Store>) -> Arc<Self> {
        Self::build(inner, false, false)
    }

    /// The first `insert_ticket` notifies `hung`, then waits for `release` before it writes.
    pub fn holding_insert(inner: Arc<dyn Store>) -> Arc<Self> {
        let store = Self::build(inner, false, false);
        store.hold_insert.store(true, Ordering::SeqCst);
        store
    }
}

#[async_trait]
impl TicketStore for FaultyStore {
    async fn next_complaint_number(&self) -> StoreResult<u64> {
        self.inner.next_complaint_number().await
    }
    async fn insert_ticket_answering(
        &self,
        t: &Ticket,
        e: &[Envelope],
        a: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        if self.hold_insert.swap(false, Ordering::SeqCst) {
            self.hung.notify_one();
            self.release.notified().await;
        }
        self.inner.insert_ticket_answering(t, e, a).await
    }
    async fn find_ticket(&self, by: TicketRef) -> StoreResult<Option<Ticket>> {
        self.inner.find_ticket(by).await
    }
    async fn list_tickets(&self, q: &TicketQuery) -> StoreResult<Vec<Ticket>> {
        self.inner.list_tickets(q).await
    }
    async fn update_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<bool> {
        if self.fail {
            return Err(quickfix::StoreError::Unavailable("injected failure".into()));
        }
        if !self.tripped.swap(true, Ordering::SeqCst) {
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner
            .update_ticket_answering(ticket, events, answer)
            .await
    }
    async fn next_backlog_ticket(&self, skills: &[Category]) -> StoreResult<Option<Ticket>> {
        self.inner.next_backlog_ticket(skills).await
    }
    async fn count_open_tickets(&self) -> StoreResult<u64> {
        self.inner.count_open_tickets().await
    }
    async fn sla_checks_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Ticket>> {
        self.inner.sla_checks_due(now, limit).await
    }
    async fn tickets_due(
        &self,
        after: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        self.inner.tickets_due(after, until, limit).await
    }
    async fn tickets_changed_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Ticket>> {
        self.inner.tickets_changed_since(since, limit).await
    }
    async fn sla_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<SlaRecord>> {
        self.inner.sla_records(from, to).await
    }
}

#[async_trait]
impl UserStore for FaultyStore {
    async fn insert_user_answering(
        &self,
        u: &User,
        e: &[Envelope],
        a: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        self.inner.insert_user_answering(u, e, a).await
    }
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.find_user(id).await
    }
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_email(email).await
    }
    async fn update_user(&self, u: &User, e: &[Envelope]) -> StoreResult<bool> {
        self.inner.update_user(u, e).await
    }
    async fn list_users(&self, role: Role) -> StoreResult<Vec<User>> {
        self.inner.list_users(role).await
    }
    async fn page_users(&self, q: &quickfix::UserQuery) -> StoreResult<Vec<User>> {
        self.inner.page_users(q).await
    }
}

#[async_trait]
impl Organizations for FaultyStore {
    async fn insert_organization(&self, o: &Organization) -> StoreResult<()> {
        self.inner.insert_organization(o).await
    }
    async fn find_organization(&self, id: OrganizationId) -> StoreResult<Option<Organization>> {
        self.inner.find_organization(id).await
    }
    async fn page_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: usize,
    ) -> StoreResult<Vec<Organization>> {
        self.inner.page_organizations(after, limit).await
    }
}

#[async_trait]
impl AgentSlots for FaultyStore {
    async fn take_slot(
        &self,
        a: UserId,
        t: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        self.inner.take_slot(a, t, now).await
    }
    async fn claim_agent(
        &self,
        c: &Category,
        tier: Option<Tier>,
        t: TicketId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        self.inner.claim_agent(c, tier, t, now).await
    }
    async fn release_slot(&self, a: UserId, t: TicketId) -> StoreResult<bool> {
        self.inner.release_slot(a, t).await
    }
}

#[async_trait]
impl Inbox for FaultyStore {
    async fn insert_notifications(&self, n: &[Notification]) -> StoreResult<()> {
        self.inner.insert_notifications(n).await
    }
    async fn list_notifications(
        &self,
        u: Option<UserId>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        self.inner.list_notifications(u, since, limit).await
    }
    async fn mark_notification_read(
        &self,
        u: UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner.mark_notification_read(u, id, now).await
    }
}

#[async_trait]
impl Outbox for FaultyStore {
    async fn pending_events(&self, limit: usize) -> StoreResult<Vec<PendingEvents>> {
        self.inner.pending_events(limit).await
    }
    async fn claim_events(
        &self,
        lease: &quickfix::OutboxLease,
        limit: usize,
    ) -> StoreResult<Vec<PendingEvents>> {
        self.inner.claim_events(lease, limit).await
    }
    async fn renew_leases(
        &self,
        lease: &quickfix::OutboxLease,
        owners: &[OutboxOwner],
    ) -> StoreResult<Vec<OutboxOwner>> {
        self.inner.renew_leases(lease, owners).await
    }
    async fn clear_events(&self, owner: OutboxOwner, ids: &[Uuid], relay: &str) -> StoreResult<()> {
        self.inner.clear_events(owner, ids, relay).await
    }
}

#[async_trait]
impl Answers for FaultyStore {
    async fn find_answer(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<StoredAnswer>> {
        self.inner.find_answer(key, now).await
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn ping(&self) -> StoreResult<()> {
        self.pings.fetch_add(1, Ordering::SeqCst);
        self.inner.ping().await
    }
    fn event_log(&self) -> Arc<dyn quickfix::EventLog> {
        self.inner.event_log()
    }
}
