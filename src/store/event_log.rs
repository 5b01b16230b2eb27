//! The event log port: every event that reached the topic, kept for the retention and searched
//! by type, ticket, actor, correlation and time. Both adapters keep the same promises, checked
//! by the contract suite (`tests/store_contract.rs`): recording is idempotent on the event id,
//! results come in log order, and an event older than the retention is never answered (the
//! MongoDB adapter also lets a TTL index delete it).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{Store, StoreResult};
use crate::domain::{EventQuery, LoggedEvent, TicketId, TicketRef, causal_order};

/// The most events one ticket's timeline reads.
pub const TIMELINE_LIMIT: usize = 5_000;

/// The retained, searchable record of published events.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Records `events`; one already recorded (the same event id) is left as it is. Returns
    /// how many were new.
    async fn record(&self, events: &[LoggedEvent]) -> StoreResult<usize>;

    /// The events matching `query` that the retention still keeps, oldest first, at most
    /// `query.limit`.
    async fn search(&self, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>>;

    /// How many events match `query` (its cursor and window included, its limit ignored).
    async fn count(&self, query: &EventQuery) -> StoreResult<u64>;

    /// The event `id`, if it is kept.
    async fn find(&self, id: Uuid) -> StoreResult<Option<LoggedEvent>>;

    /// How long an event is kept.
    fn retention(&self) -> TimeDelta;
}

/// The time of the oldest event `log` keeps now: anything older is neither recorded nor
/// answered.
pub fn oldest_kept(log: &dyn EventLog) -> DateTime<Utc> {
    Utc::now() - log.retention()
}

/// `query` narrowed to what `log`'s retention keeps now.
pub fn retained(log: &dyn EventLog, query: &EventQuery) -> EventQuery {
    query.clone().retained_since(oldest_kept(log))
}

/// The id the log keys `by`'s events on: an id as it is, a COMP-number looked up in `store`
/// (`None` when it names no ticket).
///
/// # Errors
/// When the store cannot be read.
pub async fn ticket_key(store: &dyn Store, by: TicketRef) -> StoreResult<Option<TicketId>> {
    match by {
        TicketRef::Id(id) => Ok(Some(id)),
        TicketRef::Complaint(_) => Ok(store.find_ticket(by).await?.map(|t| t.id)),
    }
}

/// The events of `ticket`, causes before their effects (at most [`TIMELINE_LIMIT`]).
///
/// # Errors
/// When the log cannot be read.
pub async fn ticket_timeline(
    log: &dyn EventLog,
    ticket: TicketId,
) -> StoreResult<Vec<LoggedEvent>> {
    let query = EventQuery {
        ticket: Some(ticket),
        limit: TIMELINE_LIMIT,
        ..EventQuery::default()
    };
    Ok(causal_order(log.search(&query).await?))
}
