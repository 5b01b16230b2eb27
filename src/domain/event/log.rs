//! The event log's vocabulary: an event as the log keeps it, what a search asks for, the
//! position a page resumes after, and the causal order of a ticket's timeline.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{Envelope, EventType};
use crate::domain::{ComplaintId, TicketId};

/// How long the log keeps an event unless configured otherwise.
pub const DEFAULT_RETENTION: TimeDelta = TimeDelta::days(90);

/// One event as the log keeps it: the envelope that reached the topic, and when it did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// The envelope as published (its id, time, typed payload and metadata).
    pub envelope: Envelope,
    /// When the topic accepted it, to the millisecond.
    pub published_at: DateTime<Utc>,
}

impl LoggedEvent {
    /// `envelope`, accepted by the topic at `published_at` (kept to the millisecond).
    pub fn new(envelope: Envelope, published_at: DateTime<Utc>) -> Self {
        let published_at = DateTime::from_timestamp_millis(published_at.timestamp_millis())
            .unwrap_or(published_at);
        Self {
            envelope,
            published_at,
        }
    }

    /// The event's id.
    pub fn event_id(&self) -> Uuid {
        self.envelope.event_id
    }

    /// When it happened.
    pub fn timestamp(&self) -> DateTime<Utc> {
        self.envelope.timestamp
    }

    /// Its type.
    pub fn event_type(&self) -> EventType {
        self.envelope.event_type()
    }

    /// The ticket it is about, if any.
    pub fn ticket_id(&self) -> Option<TicketId> {
        self.envelope.event.ticket_id()
    }

    /// The human id of the ticket it is about, if any.
    pub fn complaint_id(&self) -> Option<&ComplaintId> {
        self.envelope.event.complaint_id()
    }

    /// Who acted (a user id, or `system`).
    pub fn actor(&self) -> &str {
        &self.envelope.metadata.actor
    }

    /// The request or run it belongs to.
    pub fn correlation_id(&self) -> &str {
        &self.envelope.metadata.correlation_id
    }

    /// The event that caused it, if one did.
    pub fn causation_id(&self) -> Option<&str> {
        self.envelope.metadata.causation_id.as_deref()
    }

    /// Its position in log order (to the microsecond, as the log orders).
    pub fn position(&self) -> EventCursor {
        EventCursor {
            timestamp: to_micros(self.timestamp()),
            event_id: self.event_id(),
        }
    }

    /// Whether it passes every filter of `query` (the cursor, the window and the limit aside).
    pub fn matches(&self, query: &EventQuery) -> bool {
        (query.types.is_empty() || query.types.contains(&self.event_type()))
            && query.ticket.is_none_or(|t| self.ticket_id() == Some(t))
            && query.actor.as_deref().is_none_or(|a| self.actor() == a)
            && query
                .correlation_id
                .as_deref()
                .is_none_or(|c| self.correlation_id() == c)
    }
}

/// `t` to the microsecond: the precision the log orders and compares times at.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// A position in log order (event time, then event id): a page resumes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventCursor {
    /// The event's time.
    pub timestamp: DateTime<Utc>,
    /// The event's id, which orders events of the same time.
    pub event_id: Uuid,
}

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}",
            self.timestamp.timestamp_micros(),
            self.event_id.simple()
        )
    }
}

/// Text that is not a cursor this log handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a cursor from a previous page")]
pub struct BadCursor;

impl FromStr for EventCursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (micros, id) = s.split_once('_').ok_or(BadCursor)?;
        let micros: i64 = micros.parse().map_err(|_| BadCursor)?;
        Ok(Self {
            timestamp: DateTime::from_timestamp_micros(micros).ok_or(BadCursor)?,
            event_id: Uuid::try_parse(id).map_err(|_| BadCursor)?,
        })
    }
}

/// What a search of the log asks for. Every filter given must hold; results come in log
/// order, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Only these types (any type when empty).
    pub types: Vec<EventType>,
    /// Only events about this ticket.
    pub ticket: Option<TicketId>,
    /// Only events this user (or `system`) caused.
    pub actor: Option<String>,
    /// Only events of this request or run.
    pub correlation_id: Option<String>,
    /// Only events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only events after this position (the cursor of the previous page).
    pub after: Option<EventCursor>,
    /// Page size.
    pub limit: usize,
}

impl EventQuery {
    /// Whether `event` is inside the time window and after the cursor.
    pub fn in_range(&self, event: &LoggedEvent) -> bool {
        let at = event.position();
        self.from.is_none_or(|from| at.timestamp >= to_micros(from))
            && self.to.is_none_or(|to| at.timestamp < to_micros(to))
            && self.after.is_none_or(|after| at > after)
    }

    /// The query with its window starting no earlier than `oldest` (what retention keeps).
    #[must_use]
    pub fn retained_since(mut self, oldest: DateTime<Utc>) -> Self {
        self.from = Some(self.from.map_or(oldest, |from| from.max(oldest)));
        self
    }
}

/// Orders `events` so that every event comes after the event that caused it, and otherwise
/// by log order: a ticket's timeline reads as cause, then effect, even when the processes
/// that wrote them disagree about the time by a few milliseconds.
pub fn causal_order(mut events: Vec<LoggedEvent>) -> Vec<LoggedEvent> {
    events.sort_by_key(LoggedEvent::position);
    let index: HashMap<String, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_id().to_string(), i))
        .collect();
    // Children of each event (by position), and the events whose cause is not in the list.
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match e.causation_id().and_then(|c| index.get(c)) {
            Some(&parent) if parent != i => children.entry(parent).or_default().push(i),
            _ => roots.push(i),
        }
    }
    // Emit in log order, an event only once its cause is out: a merge of the ready events by
    // position.
    let mut ready: std::collections::BTreeSet<usize> = roots.into_iter().collect();
    let mut order = Vec::with_capacity(events.len());
    while let Some(next) = ready.pop_first() {
        order.push(next);
        if let Some(kids) = children.remove(&next) {
            ready.extend(kids);
        }
    }
    // A cycle of causes cannot happen with fresh ids; keep anything left in log order.
    let mut placed = vec![false; events.len()];
    for &i in &order {
        placed[i] = true;
    }
    order.extend((0..events.len()).filter(|&i| !placed[i]));
    let mut slots: Vec<Option<LoggedEvent>> = events.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentAvailabilityChanged, Availability, Event, Presence, Tier};
    use crate::domain::{EventMetadata, UserId};

    fn event(at_ms: i64, cause: Option<&LoggedEvent>) -> LoggedEvent {
        let metadata = match cause {
            Some(c) => EventMetadata::caused_by(&c.envelope),
            None => EventMetadata::system("test"),
        };
        let at = DateTime::from_timestamp_millis(1_800_000_000_000 + at_ms).unwrap();
        let payload = AgentAvailabilityChanged {
            agent_id: UserId::generate(),
            name: "Ada".into(),
            presence: Presence::Online,
            availability: Availability::Available,
            previous_availability: Availability::Offline,
            free_slots: 1,
            capacity: 1,
            skills: vec![],
            tier: Tier::Agent,
        };
        LoggedEvent::new(
            Envelope::new(Event::AgentAvailabilityChanged(payload), metadata, at),
            at,
        )
    }

    #[test]
    fn a_cursor_reads_back_as_itself() {
        let e = event(5, None);
        let text = e.position().to_string();
        assert_eq!(text.parse::<EventCursor>(), Ok(e.position()));
        assert_eq!("nope".parse::<EventCursor>(), Err(BadCursor));
        assert_eq!("12_nope".parse::<EventCursor>(), Err(BadCursor));
    }

    #[test]
    fn an_effect_follows_its_cause_even_when_stamped_earlier() {
        let cause = event(10, None);
        // Written by a process whose clock runs 5 ms behind.
        let effect = event(5, Some(&cause));
        let unrelated = event(7, None);
        let later = event(20, Some(&effect));
        let ordered = causal_order(vec![
            later.clone(),
            effect.clone(),
            unrelated.clone(),
            cause.clone(),
        ]);
        let ids: Vec<Uuid> = ordered.iter().map(LoggedEvent::event_id).collect();
        assert_eq!(
            ids,
            vec![
                unrelated.event_id(),
                cause.event_id(),
                effect.event_id(),
                later.event_id()
            ]
        );
    }

    #[test]
    fn events_without_causes_keep_log_order() {
        let a = event(1, None);
        let b = event(2, None);
        let c = event(3, None);
        let ordered = causal_order(vec![c.clone(), a.clone(), b.clone()]);
        assert_eq!(ordered, vec![a, b, c]);
    }

    #[test]
    fn retention_narrows_a_window_that_starts_too_early() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let oldest = now - DEFAULT_RETENTION;
        let q = EventQuery::default().retained_since(oldest);
        assert_eq!(q.from, Some(oldest));
        let later = EventQuery {
            from: Some(now),
            ..EventQuery::default()
        }
        .retained_since(oldest);
        assert_eq!(later.from, Some(now));
    }
}
