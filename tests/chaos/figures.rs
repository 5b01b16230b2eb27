//! The chaos run's figures, printed at the end (run with `--nocapture` to see them): tickets
//! and retries, publishes per event inside and outside the fault windows, assignments and
//! requeues, create→assigned and event→observer latencies, time to drain, the agents' work, log
//! warnings, and the fault timeline.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use quickfix::domain::{EventType, Status};
use serde_json::Value;

use crate::analysis::{self, Publish, PublishStats, Window};
use crate::checks::TicketEvents;
use crate::cluster::Cluster;
use crate::observer::Observer;
use crate::run::{Run, Sent};
use crate::{DRAIN_WITHIN, LEASE_SECONDS, OUTBOX_DRAIN_WITHIN};

/// What the figures are computed from.
pub struct Figures<'a> {
    pub run: &'a Run,
    pub cluster: &'a Cluster,
    pub observer: &'a Observer,
    /// Every ticket in the store, as the admin lists them.
    pub tickets: &'a [Value],
    pub sent: &'a [Sent],
    pub publishes: &'a [Publish],
    pub windows: &'a [Window],
    pub stats: &'a PublishStats,
    pub events: &'a TicketEvents<'a>,
    pub requeued_in_history: usize,
    /// Notifications in every inbox.
    pub notifications: usize,
    /// From the last create until everything was resolved.
    pub drain_time: Option<Duration>,
    /// From everything resolved until the outbox was empty.
    pub outbox_drain_time: Option<Duration>,
    /// When the test started.
    pub clock: Instant,
}

impl Figures<'_> {
    /// Prints the figures to standard output.
    pub fn print(&self) {
        let Figures {
            run,
            cluster,
            observer,
            tickets,
            sent,
            publishes,
            windows,
            stats,
            events,
            requeued_in_history,
            notifications,
            drain_time,
            outbox_drain_time,
            clock,
        } = *self;
        let keys: HashSet<&str> = sent.iter().map(|s| s.key.as_str()).collect();
        let mut to_assigned: Vec<f64> = tickets
            .iter()
            .filter_map(|t| {
                let created: DateTime<Utc> = serde_json::from_value(t["createdAt"].clone()).ok()?;
                let assigned: DateTime<Utc> =
                    serde_json::from_value(t["assignedAt"].clone()).ok()?;
                Some((assigned - created).num_milliseconds() as f64 / 1000.0)
            })
            .collect();
        to_assigned.sort_by(f64::total_cmp);
        let by_api = |api: usize| sent.iter().filter(|s| s.api == api).count();
        let retried = sent.iter().filter(|s| s.attempts > 1).count();
        let replayed = sent.iter().filter(|s| s.replayed).count();
        let timeline = run.timeline.lock().unwrap().clone();
        println!();
        println!("================ chaos figures ================");
        println!(
            "tickets: {} opened (distinct keys; answered by api-1 {}, api-2 {}), {} in the store, {} resolved",
            keys.len(),
            by_api(0),
            by_api(1),
            tickets.len(),
            tickets
                .iter()
                .filter(|t| t["status"] == Status::Resolved.as_str())
                .count()
        );
        println!(
            "creates: {retried} sent more than once, {} answered with the stored answer (Idempotent-Replayed), {} sends failed over to the other API ({} creates), {} creates in flight on the API when it was killed",
            replayed,
            run.apis.failovers.load(Ordering::SeqCst),
            run.apis.keyed_failovers.load(Ordering::SeqCst),
            run.creates_in_flight_at_kill.load(Ordering::SeqCst),
        );
        println!(
            "events: {} distinct, {} messages: {:.3} publishes per event overall; outside the fault windows {} events, {:.3} per event",
            stats.events,
            stats.messages,
            stats.ratio(),
            stats.events_outside,
            stats.ratio_outside()
        );
        for d in &stats.duplicates {
            println!(
                "  published {}x: {} {} at {} (ticket {}) — {}",
                d.publishes,
                d.event_type.as_str(),
                d.event_id,
                d.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
                d.ticket_id.as_deref().unwrap_or("-"),
                d.window.as_deref().unwrap_or("OUTSIDE every fault window")
            );
        }
        println!(
            "assignments: {} ticket.assigned, {} ticket.requeued events ({} requeues in histories)",
            events.assigned.values().map(HashSet::len).sum::<usize>(),
            events.requeued.values().map(HashSet::len).sum::<usize>(),
            requeued_in_history
        );
        println!(
            "create→assigned: p50 {:.2}s, p95 {:.2}s, max {:.2}s over {} tickets",
            analysis::percentile(&to_assigned, 50.0),
            analysis::percentile(&to_assigned, 95.0),
            to_assigned.last().copied().unwrap_or(f64::NAN),
            to_assigned.len()
        );
        let lags = analysis::first_seen_lags(publishes);
        let mut all_lags: Vec<f64> = lags.iter().map(|(_, l)| *l).collect();
        all_lags.sort_by(f64::total_cmp);
        let presence_lags: Vec<String> = lags
            .iter()
            .filter(|(t, _)| *t == EventType::AgentAvailabilityChanged)
            .map(|(_, l)| format!("{l:.1}s"))
            .collect();
        println!(
            "event → observer queue: p50 {:.2}s, p95 {:.2}s, max {:.2}s; agent.availability_changed: {}",
            analysis::percentile(&all_lags, 50.0),
            analysis::percentile(&all_lags, 95.0),
            all_lags.last().copied().unwrap_or(f64::NAN),
            presence_lags.join(", ")
        );
        match outbox_drain_time {
            Some(d) => println!(
                "outbox empty {:.1}s after every ticket was resolved",
                d.as_secs_f64()
            ),
            None => {
                println!("outbox NOT empty {OUTBOX_DRAIN_WITHIN:?} after every ticket was resolved")
            }
        }
        match drain_time {
            Some(d) => println!(
                "time to drain (last create → all resolved): {:.1}s",
                d.as_secs_f64()
            ),
            None => println!("time to drain: NOT drained within {DRAIN_WITHIN:?}"),
        }
        println!(
            "agents: {} capacity samples, {} resolutions, {} status changes refused (ticket moved on); {} notifications checked",
            run.agent_samples.load(Ordering::SeqCst),
            run.resolved_by_agents.load(Ordering::SeqCst),
            run.agent_refusals.load(Ordering::SeqCst),
            notifications
        );
        println!(
            "observer: {} receive/delete errors (the emulator was frozen)",
            observer.errors.load(Ordering::SeqCst)
        );
        let warnings: Vec<String> = cluster
            .warnings()
            .into_iter()
            .map(|(name, lines)| format!("{name} {}", lines.len()))
            .collect();
        println!("warning/error log lines: {}", warnings.join(", "));
        println!(
            "outbox: {} documents taken over from relays whose lease expired",
            cluster.sum_logged(
                "took over events from a relay whose lease expired",
                "taken_over"
            )
        );
        println!("timeline:");
        for mark in &timeline {
            println!(
                "  +{:>6.1}s {} {}",
                (mark.at - run.started).num_milliseconds() as f64 / 1000.0,
                mark.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                mark.what
            );
        }
        println!("fault windows (± {LEASE_SECONDS}s lease):");
        for w in windows {
            println!(
                "  {}: {} → {}",
                w.label,
                w.from.to_rfc3339_opts(SecondsFormat::Millis, true),
                w.to.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
        }
        println!("run time: {:.1}s", clock.elapsed().as_secs_f64());
        println!("===============================================");
    }
}
