//! The promises of the delivery contract, checked against what the chaos run recorded and
//! what the deployment holds at the end: one ticket per `Idempotency-Key`, every ticket's
//! events on the topic (twice only around a fault), one assignment per cycle, nothing
//! dead-lettered, no inbox holding a notification twice. Each check returns the promises it
//! found broken.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use quickfix::domain::{EventType, Status};
use quickfix::{Queue, SqsQueue};
use serde_json::Value;
use uuid::Uuid;

use crate::MAX_PUBLISHES_PER_EVENT;
use crate::analysis::{self, Publish, PublishStats};
use crate::client::Request;
use crate::observer::Observed;
use crate::run::{Person, Run, Sent};

/// Each message the observer received, as one publish of its event.
pub fn publishes(observed: &[Observed]) -> Vec<Publish> {
    observed
        .iter()
        .map(|m| Publish {
            event_id: m.envelope.event_id,
            event_type: m.envelope.event_type(),
            timestamp: m.envelope.timestamp,
            ticket_id: m.envelope.data()["ticketId"].as_str().map(str::to_owned),
            seen_at: m.received_at,
        })
        .collect()
}

/// Distinct events of one type on the topic, by ticket id.
pub type PerTicket<'a> = HashMap<&'a str, HashSet<Uuid>>;

/// Each ticket's distinct events on the topic, for the types the checks and figures count.
pub struct TicketEvents<'a> {
    pub created: PerTicket<'a>,
    pub resolved: PerTicket<'a>,
    pub assigned: PerTicket<'a>,
    pub requeued: PerTicket<'a>,
}

impl<'a> TicketEvents<'a> {
    /// Sorts the publishes of the ticket events by ticket and type.
    pub fn of(publishes: &'a [Publish]) -> Self {
        let per_type = |event_type: EventType| -> PerTicket<'a> {
            let mut map: PerTicket<'a> = HashMap::new();
            for p in publishes.iter().filter(|p| p.event_type == event_type) {
                if let Some(ticket) = &p.ticket_id {
                    map.entry(ticket.as_str()).or_default().insert(p.event_id);
                }
            }
            map
        };
        Self {
            created: per_type(EventType::TicketCreated),
            resolved: per_type(EventType::TicketResolved),
            assigned: per_type(EventType::TicketAssigned),
            requeued: per_type(EventType::TicketRequeued),
        }
    }
}

/// One ticket per `Idempotency-Key`, however often a request was retried on another replica,
/// and every ticket answered 201 in the store.
pub fn one_ticket_per_key(
    sent: &[Sent],
    tickets: &[Value],
    ticket_ids: &HashSet<String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    let keys: HashSet<&str> = sent.iter().map(|s| s.key.as_str()).collect();
    if tickets.len() != keys.len() {
        let mut per_title: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for t in tickets {
            per_title
                .entry(t["title"].as_str().unwrap())
                .or_default()
                .push(t["complaintId"].as_str().unwrap());
        }
        let doubled: Vec<String> = per_title
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(title, ids)| {
                let attempts = sent
                    .iter()
                    .find(|s| s.title == *title)
                    .map_or(0, |s| s.attempts);
                format!("{title:?} → {ids:?} (sent {attempts} time(s))")
            })
            .collect();
        failures.push(format!(
            "{} tickets exist for {} distinct Idempotency-Keys; opened more than once: {doubled:#?}",
            tickets.len(),
            keys.len()
        ));
    }
    let answered: HashSet<&str> = sent.iter().map(|s| s.ticket_id.as_str()).collect();
    let missing: Vec<&&str> = answered
        .iter()
        .filter(|id| !ticket_ids.contains(**id))
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "tickets answered 201 but not in the store: {missing:?}"
        ));
    }
    failures
}

/// Every ticket created and resolved on the topic, each by one event; outside the fault
/// windows at most [`MAX_PUBLISHES_PER_EVENT`] publishes per event.
pub fn every_ticket_published(
    ticket_ids: &HashSet<String>,
    events: &TicketEvents<'_>,
    stats: &PublishStats,
) -> Vec<String> {
    let mut failures = Vec::new();
    let without_created: Vec<&String> = ticket_ids
        .iter()
        .filter(|id| !events.created.contains_key(id.as_str()))
        .collect();
    if !without_created.is_empty() {
        failures.push(format!(
            "{} tickets never appeared as ticket.created on the topic: {without_created:?}",
            without_created.len()
        ));
    }
    let without_resolved: Vec<&String> = ticket_ids
        .iter()
        .filter(|id| !events.resolved.contains_key(id.as_str()))
        .collect();
    if !without_resolved.is_empty() {
        failures.push(format!(
            "{} tickets never appeared as ticket.resolved on the topic: {without_resolved:?}",
            without_resolved.len()
        ));
    }
    for (ticket, ids) in events.created.iter().chain(events.resolved.iter()) {
        if ids.len() > 1 {
            failures.push(format!(
                "ticket {ticket} has {} different creation or resolution events: {ids:?}",
                ids.len()
            ));
        }
    }
    if stats.ratio_outside() > MAX_PUBLISHES_PER_EVENT {
        failures.push(format!(
            "{:.3} publishes per event outside the fault windows (at most {MAX_PUBLISHES_PER_EVENT}); duplicates there: {:#?}",
            stats.ratio_outside(),
            stats.duplicates_outside()
        ));
    }
    failures
}

/// One assignment per cycle, on the topic and in each ticket's history; each history's
/// assignments match the `ticket.assigned` events published; every ticket ends resolved.
/// Returns the broken promises and how many requeues the histories hold.
pub async fn one_assignment_per_cycle(
    run: &Run,
    admin: &Person,
    tickets: &[Value],
    publishes: &[Publish],
    events: &TicketEvents<'_>,
) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    for (ticket, assigned) in analysis::double_assignments(publishes) {
        failures.push(format!(
            "ticket {ticket} was assigned {} times in one cycle (ticket.assigned {assigned:?})",
            assigned.len()
        ));
    }
    let mut requeued_in_history = 0;
    for ticket in tickets {
        let id = ticket["id"].as_str().unwrap();
        let history = run
            .apis
            .send(
                0,
                &Request::get(format!("/api/complaints/{id}/history"), &admin.token),
            )
            .await
            .expect(200);
        let kinds: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["kind"].as_str().unwrap())
            .collect();
        requeued_in_history += kinds.iter().filter(|k| **k == "requeued").count();
        if analysis::history_assigns_twice(&kinds) {
            failures.push(format!(
                "ticket {id} ({}) was assigned twice in one cycle; history: {history}",
                ticket["complaintId"]
            ));
        }
        let assigned_in_history = kinds.iter().filter(|k| **k == "assigned").count();
        let assigned_published = events.assigned.get(id).map_or(0, HashSet::len);
        if assigned_in_history != assigned_published {
            failures.push(format!(
                "ticket {id}: {assigned_in_history} assignment(s) in its history but {assigned_published} ticket.assigned event(s) published"
            ));
        }
        if ticket["status"] != Status::Resolved.as_str() {
            failures.push(format!(
                "ticket {id} ({}) ended {} (assigned to {})",
                ticket["complaintId"], ticket["status"], ticket["assignedTo"]
            ));
        }
    }
    (failures, requeued_in_history)
}

/// Nothing in the dead-letter queue (three reads of up to ten messages).
pub async fn nothing_dead_lettered(dead_letters: &SqsQueue) -> Vec<String> {
    let mut failures = Vec::new();
    let mut dead = Vec::new();
    for _ in 0..3 {
        dead.extend(
            dead_letters
                .receive(10, Duration::from_secs(1))
                .await
                .expect("read the dead-letter queue")
                .into_iter()
                .map(|d| format!("{:?}: {}", d.attributes, d.body)),
        );
    }
    if !dead.is_empty() {
        failures.push(format!(
            "{} message(s) in the dead-letter queue: {dead:#?}",
            dead.len()
        ));
    }
    failures
}

/// Reads a user's whole inbox; returns how many notifications it holds and what is wrong with
/// it (a notification listed twice, or one event notifying the same kind twice).
pub async fn check_inbox(run: &Run, person: &Person) -> (usize, Vec<String>) {
    const PAGE: usize = 200;
    let mut problems = Vec::new();
    let mut by_id: HashMap<String, Value> = HashMap::new();
    let mut since: Option<DateTime<Utc>> = None;
    loop {
        let path = match since {
            // `since` is exclusive and the page may end in the middle of a millisecond: ask from
            // just before it and skip what the previous page already had.
            Some(t) => format!(
                "/api/notifications?limit={PAGE}&since={}",
                (t - chrono::Duration::milliseconds(1))
                    .to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
            None => format!("/api/notifications?limit={PAGE}"),
        };
        let page = run
            .apis
            .send(0, &Request::get(path, &person.token))
            .await
            .expect(200);
        let page = page.as_array().unwrap().clone();
        let mut in_page = HashSet::new();
        let mut new = 0;
        for n in &page {
            let id = n["id"].as_str().unwrap().to_owned();
            if !in_page.insert(id.clone()) {
                problems.push(format!(
                    "{}'s inbox lists notification {id} twice",
                    person.name
                ));
            }
            if by_id.insert(id, n.clone()).is_none() {
                new += 1;
            }
        }
        if page.len() < PAGE {
            break;
        }
        if new == 0 {
            problems.push(format!(
                "{}'s inbox: a page of {PAGE} notifications within one millisecond; cannot page further",
                person.name
            ));
            break;
        }
        since = Some(
            serde_json::from_value(page[page.len() - 1]["createdAt"].clone())
                .expect("a notification's createdAt is a time"),
        );
    }
    let mut per_event_kind: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (id, n) in &by_id {
        per_event_kind
            .entry((
                n["eventId"].as_str().unwrap().to_owned(),
                n["kind"].as_str().unwrap().to_owned(),
            ))
            .or_default()
            .push(id.clone());
    }
    for ((event, kind), ids) in per_event_kind {
        if ids.len() > 1 {
            problems.push(format!(
                "{}'s inbox holds {} {kind} notifications for event {event}: {ids:?}",
                person.name,
                ids.len()
            ));
        }
    }
    (by_id.len(), problems)
}
