//! The embedded event log: events by id, with an ordered index per search key, pruned of what
//! the retention no longer keeps on every write.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::domain::{
    DEFAULT_RETENTION, EventCursor, EventQuery, EventType, LoggedEvent, TicketId, to_micros,
};
use crate::store::StoreResult;
use crate::store::event_log::{EventLog, oldest_kept, retained};

/// [`EventLog`] in memory.
pub struct MemoryEventLog {
    retention: TimeDelta,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    events: HashMap<Uuid, LoggedEvent>,
    by_time: BTreeSet<EventCursor>,
    by_ticket: HashMap<TicketId, BTreeSet<EventCursor>>,
    by_correlation: HashMap<String, BTreeSet<EventCursor>>,
    by_actor: HashMap<String, BTreeSet<EventCursor>>,
    by_type: HashMap<EventType, BTreeSet<EventCursor>>,
}

impl Inner {
    fn insert(&mut self, event: LoggedEvent) -> bool {
        if self.events.contains_key(&event.event_id()) {
            return false;
        }
        let at = event.position();
        self.by_time.insert(at);
        if let Some(ticket) = event.ticket_id() {
            self.by_ticket.entry(ticket).or_default().insert(at);
        }
        self.by_correlation
            .entry(event.correlation_id().to_owned())
            .or_default()
            .insert(at);
        self.by_actor
            .entry(event.actor().to_owned())
            .or_default()
            .insert(at);
        self.by_type
            .entry(event.event_type())
            .or_default()
            .insert(at);
        self.events.insert(event.event_id(), event);
        true
    }

    /// Drops every event from before `oldest`.
    fn prune(&mut self, oldest: DateTime<Utc>) {
        while let Some(&first) = self.by_time.first() {
            if first.timestamp >= oldest {
                break;
            }
            self.by_time.pop_first();
            let Some(event) = self.events.remove(&first.event_id) else {
                continue;
            };
            if let Some(ticket) = event.ticket_id() {
                unindex(&mut self.by_ticket, &ticket, first);
            }
            unindex(&mut self.by_correlation, event.correlation_id(), first);
            unindex(&mut self.by_actor, event.actor(), first);
            unindex(&mut self.by_type, &event.event_type(), first);
        }
    }

    /// The narrowest index that covers `query`.
    fn index_for(&self, query: &EventQuery) -> &BTreeSet<EventCursor> {
        static EMPTY: BTreeSet<EventCursor> = BTreeSet::new();
        fn pick(found: Option<&BTreeSet<EventCursor>>) -> &BTreeSet<EventCursor> {
            found.unwrap_or(&EMPTY)
        }
        if let Some(ticket) = query.ticket {
            return pick(self.by_ticket.get(&ticket));
        }
        if let Some(correlation) = &query.correlation_id {
            return pick(self.by_correlation.get(correlation));
        }
        if let Some(actor) = &query.actor {
            return pick(self.by_actor.get(actor));
        }
        if let [only] = query.types.as_slice() {
            return pick(self.by_type.get(only));
        }
        &self.by_time
    }

    /// The events matching `query`, in log order, its limit aside.
    fn matching<'a>(&'a self, query: &'a EventQuery) -> impl Iterator<Item = &'a LoggedEvent> + 'a {
        let index = self.index_for(query);
        let from = query.from.map(|from| EventCursor {
            timestamp: to_micros(from),
            event_id: Uuid::nil(),
        });
        let start = match (from, query.after) {
            (Some(from), Some(after)) if from > after => Bound::Included(from),
            (_, Some(after)) => Bound::Excluded(after),
            (Some(from), None) => Bound::Included(from),
            (None, None) => Bound::Unbounded,
        };
        index
            .range((start, Bound::Unbounded))
            .take_while(|at| query.to.is_none_or(|to| at.timestamp < to_micros(to)))
            .filter_map(|at| self.events.get(&at.event_id))
            .filter(|e| e.matches(query) && query.in_range(e))
    }
}

/// Removes `at` from `key`'s entry in `index`, and the entry once it is empty.
fn unindex<K, Q>(index: &mut HashMap<K, BTreeSet<EventCursor>>, key: &Q, at: EventCursor)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(set) = index.get_mut(key) {
        set.remove(&at);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

impl MemoryEventLog {
    /// An empty log keeping events for `retention`.
    pub fn new(retention: TimeDelta) -> Self {
        Self {
            retention,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves indexes no worse than a crash would.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryEventLog {
    fn default() -> Self {
        Self::new(DEFAULT_RETENTION)
    }
}

#[async_trait]
impl EventLog for MemoryEventLog {
    async fn record(&self, events: &[LoggedEvent]) -> StoreResult<usize> {
        let oldest = oldest_kept(self);
        let mut inner = self.lock();
        inner.prune(oldest);
        Ok(events
            .iter()
            .filter(|e| e.timestamp() >= oldest)
            .filter(|e| inner.insert((*e).clone()))
            .count())
    }

    async fn search(&self, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>> {
        let query = retained(self, query);
        Ok(self
            .lock()
            .matching(&query)
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn count(&self, query: &EventQuery) -> StoreResult<u64> {
        let query = retained(self, query);
        Ok(self.lock().matching(&query).count() as u64)
    }

    async fn find(&self, id: Uuid) -> StoreResult<Option<LoggedEvent>> {
        let oldest = oldest_kept(self);
        Ok(self
            .lock()
            .events
            .get(&id)
            .filter(|e| e.timestamp() >= oldest)
            .cloned())
    }

    fn retention(&self) -> TimeDelta {
        self.retention
    }
}
