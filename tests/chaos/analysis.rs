//! What the chaos run's records mean: publishes per event inside and outside the fault windows,
//! assignment cycles per ticket, latency percentiles. Plain functions over plain data, checked
//! by their own tests.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use quickfix::domain::EventType;
use uuid::Uuid;

/// A stretch of time around a fault (a kill until the replacement is ready, a frozen
/// emulator), widened by the outbox lease on both sides: an event whose publish was in flight
/// when the fault began, or whose lease was left behind by it, may legitimately go out twice.
#[derive(Debug, Clone)]
pub struct Window {
    pub label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The first window that overlaps the time an event was waiting to be published, from its
/// timestamp until its first publish arrived: a fault in that stretch can legitimately
/// publish it twice (a relay died holding it, or stalled past its lease).
pub fn window_while_pending(
    windows: &[Window],
    created: DateTime<Utc>,
    first_seen: DateTime<Utc>,
) -> Option<&Window> {
    windows
        .iter()
        .find(|w| w.from <= first_seen && created <= w.to)
}

/// One message on the observer queue (one publish of an event).
#[derive(Debug, Clone)]
pub struct Publish {
    pub event_id: Uuid,
    pub event_type: EventType,
    pub timestamp: DateTime<Utc>,
    /// `data.ticketId`, for ticket events.
    pub ticket_id: Option<String>,
    /// When the observer received it.
    pub seen_at: DateTime<Utc>,
}

/// Seconds from each event's timestamp until its first publish reached the observer, by event.
pub fn first_seen_lags(publishes: &[Publish]) -> Vec<(EventType, f64)> {
    let mut first: BTreeMap<Uuid, &Publish> = BTreeMap::new();
    for p in publishes {
        first
            .entry(p.event_id)
            .and_modify(|f| {
                if p.seen_at < f.seen_at {
                    *f = p;
                }
            })
            .or_insert(p);
    }
    first
        .values()
        .map(|p| {
            (
                p.event_type,
                (p.seen_at - p.timestamp).num_milliseconds() as f64 / 1000.0,
            )
        })
        .collect()
}

/// An event published more than once.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub event_id: Uuid,
    pub event_type: EventType,
    pub timestamp: DateTime<Utc>,
    pub ticket_id: Option<String>,
    pub publishes: usize,
    /// The fault window its timestamp falls in, if any.
    pub window: Option<String>,
}

/// Publishes per event, overall and for events outside every fault window.
#[derive(Debug, Default)]
pub struct PublishStats {
    pub events: usize,
    pub messages: usize,
    pub events_outside: usize,
    pub messages_outside: usize,
    pub duplicates: Vec<Duplicate>,
}

impl PublishStats {
    pub fn ratio(&self) -> f64 {
        ratio(self.messages, self.events)
    }

    pub fn ratio_outside(&self) -> f64 {
        ratio(self.messages_outside, self.events_outside)
    }

    pub fn duplicates_outside(&self) -> Vec<&Duplicate> {
        self.duplicates
            .iter()
            .filter(|d| d.window.is_none())
            .collect()
    }
}

fn ratio(messages: usize, events: usize) -> f64 {
    if events == 0 {
        1.0
    } else {
        messages as f64 / events as f64
    }
}

pub fn publish_stats(publishes: &[Publish], windows: &[Window]) -> PublishStats {
    // Per event: how many publishes, and the first to arrive.
    let mut by_event: BTreeMap<Uuid, (usize, &Publish)> = BTreeMap::new();
    for p in publishes {
        let entry = by_event.entry(p.event_id).or_insert((0, p));
        entry.0 += 1;
        if p.seen_at < entry.1.seen_at {
            entry.1 = p;
        }
    }
    let mut stats = PublishStats {
        events: by_event.len(),
        messages: publishes.len(),
        ..PublishStats::default()
    };
    for (count, p) in by_event.values() {
        let window = window_while_pending(windows, p.timestamp, p.seen_at).map(|w| w.label.clone());
        if window.is_none() {
            stats.events_outside += 1;
            stats.messages_outside += count;
        }
        if *count > 1 {
            stats.duplicates.push(Duplicate {
                event_id: p.event_id,
                event_type: p.event_type,
                timestamp: p.timestamp,
                ticket_id: p.ticket_id.clone(),
                publishes: *count,
                window,
            });
        }
    }
    stats.duplicates.sort_by_key(|d| d.timestamp);
    stats
}

/// Tickets given to an agent more than once in one assignment cycle (between two
/// `ticket.requeued`), with the distinct `ticket.assigned` event ids of that cycle. Duplicate
/// publishes of one event are one assignment.
pub fn double_assignments(publishes: &[Publish]) -> Vec<(String, Vec<Uuid>)> {
    let mut per_ticket: HashMap<&str, BTreeMap<Uuid, &Publish>> = HashMap::new();
    for p in publishes {
        if matches!(
            p.event_type,
            EventType::TicketAssigned | EventType::TicketRequeued
        ) && let Some(ticket) = &p.ticket_id
        {
            per_ticket
                .entry(ticket.as_str())
                .or_default()
                .insert(p.event_id, p);
        }
    }
    let mut found = Vec::new();
    for (ticket, events) in per_ticket {
        let mut ordered: Vec<&Publish> = events.into_values().collect();
        ordered.sort_by_key(|p| p.timestamp);
        let mut cycle: Vec<Uuid> = Vec::new();
        for p in ordered {
            match p.event_type {
                EventType::TicketRequeued => cycle.clear(),
                _ => {
                    cycle.push(p.event_id);
                    if cycle.len() == 2 {
                        found.push((ticket.to_owned(), cycle.clone()));
                    } else if cycle.len() > 2 {
                        found.last_mut().unwrap().1 = cycle.clone();
                    }
                }
            }
        }
    }
    found.sort();
    found
}

/// Whether a ticket's history (its entries' kinds, oldest first) assigns it twice without a
/// requeue in between.
pub fn history_assigns_twice(kinds: &[&str]) -> bool {
    let mut assigned_in_cycle = 0;
    for kind in kinds {
        match *kind {
            "requeued" => assigned_in_cycle = 0,
            "assigned" => {
                assigned_in_cycle += 1;
                if assigned_in_cycle > 1 {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// The `p`th percentile (0 to 100, nearest rank) of `sorted`, which must be sorted.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, second).unwrap()
    }

    fn publish(id: u128, event_type: EventType, second: u32, ticket: &str) -> Publish {
        Publish {
            event_id: Uuid::from_u128(id),
            event_type,
            timestamp: at(second),
            ticket_id: Some(ticket.to_owned()),
            seen_at: at(second + 1),
        }
    }

    #[test]
    fn the_lag_of_an_event_is_until_its_first_publish_arrived() {
        let mut later = publish(1, EventType::TicketCreated, 10, "a");
        later.seen_at = at(30);
        let publishes = [
            later,
            publish(1, EventType::TicketCreated, 10, "a"),
            publish(2, EventType::TicketResolved, 20, "a"),
        ];
        assert_eq!(
            first_seen_lags(&publishes),
            vec![
                (EventType::TicketCreated, 1.0),
                (EventType::TicketResolved, 1.0)
            ]
        );
    }

    #[test]
    fn a_duplicate_inside_a_window_is_allowed_and_outside_is_counted() {
        let windows = [Window {
            label: "worker kill".into(),
            from: at(10),
            to: at(20),
        }];
        let publishes = [
            publish(1, EventType::TicketCreated, 5, "a"),
            publish(2, EventType::TicketCreated, 15, "b"),
            publish(2, EventType::TicketCreated, 15, "b"),
            publish(3, EventType::TicketCreated, 25, "c"),
            publish(3, EventType::TicketCreated, 25, "c"),
        ];
        let stats = publish_stats(&publishes, &windows);
        assert_eq!((stats.events, stats.messages), (3, 5));
        assert_eq!((stats.events_outside, stats.messages_outside), (2, 3));
        assert!((stats.ratio_outside() - 1.5).abs() < 1e-9);
        assert_eq!(stats.duplicates.len(), 2);
        assert_eq!(stats.duplicates[0].window.as_deref(), Some("worker kill"));
        let outside = stats.duplicates_outside();
        assert_eq!(outside.len(), 1);
        assert_eq!(outside[0].event_id, Uuid::from_u128(3));
    }

    #[test]
    fn an_event_still_pending_when_a_fault_began_is_inside_its_window() {
        let windows = [Window {
            label: "api kill".into(),
            from: at(20),
            to: at(30),
        }];
        // Created before the fault, first published after it began: it was waiting.
        let mut waiting = publish(1, EventType::TicketCreated, 10, "a");
        waiting.seen_at = at(22);
        // Created and published before the fault.
        let before = publish(2, EventType::TicketCreated, 10, "b");
        let publishes = [waiting.clone(), waiting, before.clone(), before];
        let stats = publish_stats(&publishes, &windows);
        assert_eq!(stats.duplicates.len(), 2);
        let outside = stats.duplicates_outside();
        assert_eq!(outside.len(), 1);
        assert_eq!(outside[0].event_id, Uuid::from_u128(2));
    }

    #[test]
    fn a_requeue_starts_a_new_assignment_cycle() {
        let fine = [
            publish(1, EventType::TicketAssigned, 1, "t"),
            // The same assignment published twice is one assignment.
            publish(1, EventType::TicketAssigned, 1, "t"),
            publish(2, EventType::TicketRequeued, 2, "t"),
            publish(3, EventType::TicketAssigned, 3, "t"),
            publish(4, EventType::TicketAssigned, 1, "u"),
        ];
        assert!(double_assignments(&fine).is_empty());

        let twice = [
            publish(1, EventType::TicketAssigned, 1, "t"),
            publish(2, EventType::TicketAssigned, 2, "t"),
            publish(3, EventType::TicketAssigned, 3, "t"),
        ];
        assert_eq!(
            double_assignments(&twice),
            vec![(
                "t".to_owned(),
                vec![Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)]
            )]
        );
    }

    #[test]
    fn history_with_two_assignments_in_a_cycle_is_found() {
        assert!(!history_assigns_twice(&[
            "created",
            "assigned",
            "requeued",
            "assigned",
            "status_changed"
        ]));
        assert!(history_assigns_twice(&[
            "created",
            "assigned",
            "status_changed",
            "assigned"
        ]));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
