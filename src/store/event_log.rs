//! The event log port: every event that reached the topic, kept for the retention and searched
//! by type, ticket, actor, correlation and time. Both adapters keep the same promises, checked
//! by the contract suite (`tests/event_log.rs`): recording is idempotent on the event id,
//! results come in log order, and an event older than the retention is never answered (the
//! MongoDB adapter also lets a TTL index delete it).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
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

    /// Every event matching `query` (its limit ignored) that the retention keeps, oldest
    /// first, read `batch` at a time: what a replay or an export walks. By default page after
    /// page of [`EventLog::search`]; an adapter with server cursors reads one cursor instead.
    fn scan<'a>(
        &'a self,
        query: &EventQuery,
        batch: usize,
    ) -> BoxStream<'a, StoreResult<LoggedEvent>> {
        paged_scan(self, query.clone(), batch)
    }

    /// How many events match `query` (its cursor and window included, its limit ignored).
    async fn count(&self, query: &EventQuery) -> StoreResult<u64>;

    /// The event `id`, if it is kept.
    async fn find(&self, id: Uuid) -> StoreResult<Option<LoggedEvent>>;

    /// How long an event is kept.
    fn retention(&self) -> TimeDelta;
}

/// [`EventLog::scan`] as pages of `batch` events, each starting after the last one read.
fn paged_scan<L: EventLog + ?Sized>(
    log: &L,
    query: EventQuery,
    batch: usize,
) -> BoxStream<'_, StoreResult<LoggedEvent>> {
    let first = EventQuery {
        limit: batch.max(1),
        ..query
    };
    stream::try_unfold(Some(first), move |next| async move {
        let Some(query) = next else { return Ok(None) };
        let page = log.search(&query).await?;
        let after = (page.len() == query.limit).then(|| page.last().map(LoggedEvent::position));
        let next = after.map(|after| EventQuery { after, ..query });
        Ok(Some((stream::iter(page.into_iter().map(Ok)), next)))
    })
    .try_flatten()
    .boxed()
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
