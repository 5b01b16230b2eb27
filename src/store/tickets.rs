//! The [`TicketStore`] port and the types it speaks in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StoreResult, StoredAnswer};
use crate::domain::{
    Category, Envelope, Priority, SlaTerms, Status, Ticket, TicketId, TicketRef, TicketSla, UserId,
};

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

/// What the compliance report needs of one ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaRecord {
    /// Its priority now.
    pub priority: Priority,
    /// Its status now.
    pub status: Status,
    /// Its SLA state.
    pub sla: TicketSla,
    /// The plan and region its SLA runs on.
    pub terms: SlaTerms,
}

/// Tickets: numbering, conditional writes with their events, and the queries the API, the worker
/// and the SLA scan run.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Takes the next complaint number from an atomic counter (1, 2, 3…).
    async fn next_complaint_number(&self) -> StoreResult<u64>;

    /// Inserts a new ticket with its events.
    async fn insert_ticket(&self, ticket: &Ticket, events: &[Envelope]) -> StoreResult<()> {
        self.insert_ticket_answering(ticket, events, None).await
    }

    /// [`TicketStore::insert_ticket`], storing `answer` in the same write.
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::store::StoreError::Conflict) with field `Idempotency-Key` when an unexpired answer has the
    /// same key.
    async fn insert_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()>;

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

    /// [`TicketStore::update_ticket`], storing `answer` in the same write.
    async fn update_ticket_answering(
        &self,
        ticket: &Ticket,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<bool>;

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
}
