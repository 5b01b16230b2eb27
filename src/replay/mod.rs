//! Replay, export and tail of the event log.
//!
//! A replay walks the log in log order (time, then id; one server cursor on MongoDB, read
//! ahead of the sends) and sends each event again
//! as it was published: same event id, same body, with the `replayed` message attribute. Sent
//! to the topic, every subscription gets it; sent to one queue, only that consumer does; written
//! as JSON lines, it is an export. Consumers are idempotent, so a replay to the worker changes
//! nothing it already did. A rate limit paces the sends; a failure stops the replay with how
//! far it got and the cursor to resume after.

pub mod cli;
mod progress;

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use progress::Progress;

use crate::bus::{Publisher, Queue, owned_message_attributes};
use crate::domain::{Envelope, EventCursor, EventQuery, LoggedEvent};
use crate::store::{EventLog, StoreError};

/// Events read from the log per page.
const PAGE: usize = 500;
/// Events sent at once (one SNS `PublishBatch`).
const SEND_CHUNK: usize = 10;
/// Publishes `events` to the topic again, marked replayed; the first refusal is the error.
async fn republish(publisher: &dyn Publisher, events: &[Envelope]) -> Result<(), String> {
    let report = publisher
        .republish(events)
        .await
        .map_err(|e| e.to_string())?;
    match report.failed.first() {
        None => Ok(()),
        Some((id, reason)) => Err(format!("the topic refused event {id}: {reason}")),
    }
}

/// Where replayed events go.
pub enum ReplayTarget {
    /// The topic: every subscription receives them again.
    Topic(Arc<dyn Publisher>),
    /// One queue, bypassing the topic (a new subscriber's, or the worker's).
    Queue(Arc<dyn Queue>),
    /// One JSON envelope per line (an export).
    Lines(Box<dyn Write + Send>),
}

impl ReplayTarget {
    /// What the target is, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Topic(_) => "the topic",
            Self::Queue(_) => "the queue",
            Self::Lines(_) => "the output",
        }
    }

    async fn send(&mut self, events: &[Envelope]) -> Result<(), String> {
        match self {
            Self::Topic(publisher) => republish(publisher.as_ref(), events).await,
            Self::Queue(queue) => {
                // One at a time, in order: a queue keeps the order it is given.
                for event in events {
                    let attributes = owned_message_attributes(event, true);
                    queue
                        .send(&event.to_json(), &attributes)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Self::Lines(out) => {
                for event in events {
                    writeln!(out, "{}", event.to_json()).map_err(|e| e.to_string())?;
                }
                out.flush().map_err(|e| e.to_string())
            }
        }
    }
}

/// How a replay runs.
#[derive(Debug, Clone, Default)]
pub struct ReplaySettings {
    /// At most this many events per second (no limit when `None`).
    pub rate: Option<NonZeroU32>,
    /// Only count what would be replayed.
    pub dry_run: bool,
}

/// What a finished replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Events the filters matched.
    pub matched: u64,
    /// Events sent (0 on a dry run).
    pub sent: u64,
    /// How long it took.
    pub elapsed: Duration,
}

impl ReplayReport {
    /// Events sent per second.
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A replay that could not finish.
#[derive(Debug, thiserror::Error)]
#[error(
    "replay stopped after {sent} of {matched} events: {cause}{}",
    resume.map(|c| format!(" (resume with --after {c})")).unwrap_or_default()
)]
pub struct ReplayStopped {
    /// Events sent before it stopped.
    pub sent: u64,
    /// Events the filters matched.
    pub matched: u64,
    /// The position of the last event sent, to resume after.
    pub resume: Option<EventCursor>,
    /// Why it stopped.
    pub cause: String,
}

/// Sends every event of `log` matching `query` (its limit ignored) to `target`, in log order.
///
/// # Errors
/// [`ReplayStopped`] when the log cannot be read or the target refuses an event.
pub async fn replay(
    log: &dyn EventLog,
    query: &EventQuery,
    target: &mut ReplayTarget,
    settings: &ReplaySettings,
    progress: &mut Progress,
) -> Result<ReplayReport, ReplayStopped> {
    let started = Instant::now();
    let unreadable = |e: StoreError| format!("cannot read the event log: {e}");
    if settings.dry_run {
        let matched = log.count(query).await.map_err(|e| ReplayStopped {
            sent: 0,
            matched: 0,
            resume: query.after,
            cause: unreadable(e),
        })?;
        return Ok(ReplayReport {
            matched,
            sent: 0,
            elapsed: started.elapsed(),
        });
    }
    progress.start();
    // The count for the progress runs beside the replay rather than before it.
    let (counted, mut total) = tokio::sync::oneshot::channel();
    let count = async {
        let matched = log.count(query).await;
        if let Ok(n) = &matched {
            let _ = counted.send(*n);
        }
        matched
    };
    // The log is read ahead while events are sent: up to one batch waits in the channel. A
    // rate-limited replay reads smaller batches, so the log's cursor is never idle for more
    // than about a minute (MongoDB closes a cursor idle for ten).
    let batch = settings
        .rate
        .map_or(PAGE, |r| PAGE.min(r.get() as usize * 60));
    let (ahead, queued) = tokio::sync::mpsc::channel(batch);
    let read = async move {
        let mut events = log.scan(query, batch);
        while let Some(event) = events.next().await {
            let failed = event.is_err();
            if ahead.send(event).await.is_err() || failed {
                break;
            }
        }
    };
    let limiter = settings
        .rate
        .map(|r| RateLimiter::direct(Quota::per_second(r)));
    // How far the sends got: events sent and the position of the last one (where a stopped
    // replay resumes).
    let mut sent = 0_u64;
    let mut resume = query.after;
    let send = async {
        // Owned here, so a send that stops closes the channel and the read stops too.
        let mut queued = queued;
        let mut chunk = Vec::with_capacity(SEND_CHUNK);
        loop {
            let mut read_error = None;
            while chunk.len() < SEND_CHUNK {
                match queued.recv().await {
                    Some(Ok(event)) => chunk.push(event),
                    Some(Err(e)) => {
                        read_error = Some(unreadable(e));
                        break;
                    }
                    None => break,
                }
            }
            if let Ok(n) = total.try_recv() {
                progress.set_total(n);
            }
            let full = chunk.len() == SEND_CHUNK;
            if let Some(last) = chunk.last().map(LoggedEvent::position) {
                let envelopes: Vec<Envelope> = chunk.drain(..).map(|e| e.envelope).collect();
                pace(limiter.as_ref(), envelopes.len()).await;
                target
                    .send(&envelopes)
                    .await
                    .map_err(|cause| format!("cannot send to {}: {cause}", target.describe()))?;
                sent += envelopes.len() as u64;
                resume = Some(last);
                progress.advance(envelopes.len() as u64);
            }
            if let Some(cause) = read_error {
                return Err(cause);
            }
            if !full {
                return Ok(());
            }
        }
    };
    let (matched, (), sending) = tokio::join!(count, read, send);
    let stopped = |matched, cause| ReplayStopped {
        sent,
        matched,
        resume,
        cause,
    };
    let matched = matched.map_err(|e| stopped(sent, unreadable(e)))?;
    sending.map_err(|cause| stopped(matched.max(sent), cause))?;
    progress.set_total(matched);
    progress.finish();
    Ok(ReplayReport {
        matched,
        sent,
        elapsed: started.elapsed(),
    })
}

/// Waits until the rate limit lets `n` more events go.
async fn pace(limiter: Option<&DefaultDirectRateLimiter>, n: usize) {
    let Some(limiter) = limiter else { return };
    for _ in 0..n {
        limiter.until_ready().await;
    }
}

/// How far back each tail poll looks: an event logged up to this long after it happened (a
/// relay that waited out a short topic outage) is still seen.
pub const TAIL_LOOKBACK: TimeDelta = TimeDelta::minutes(2);

/// Writes every event matching `query` (from `query.from`, or now) to `out` as JSON lines,
/// then follows new ones, polling every `poll`, until `shutdown`. Returns how many it wrote.
///
/// # Errors
/// When `out` cannot be written; a failed read of the log is retried at the next poll.
pub async fn tail(
    log: &dyn EventLog,
    query: &EventQuery,
    out: &mut (dyn Write + Send),
    poll: Duration,
    shutdown: CancellationToken,
) -> std::io::Result<u64> {
    let since = query.from.unwrap_or_else(Utc::now);
    let mut watermark = since;
    let mut seen: std::collections::HashMap<Uuid, DateTime<Utc>> = Default::default();
    let mut written = 0;
    loop {
        let mut page_query = EventQuery {
            from: Some((watermark - TAIL_LOOKBACK).max(since)),
            after: None,
            limit: PAGE,
            ..query.clone()
        };
        loop {
            let page = match log.search(&page_query).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the event log; trying again");
                    break;
                }
            };
            for event in &page {
                if seen.insert(event.event_id(), event.timestamp()).is_none() {
                    writeln!(out, "{}", event.envelope.to_json())?;
                    written += 1;
                    watermark = watermark.max(event.timestamp());
                }
            }
            out.flush()?;
            if page.len() < PAGE {
                break;
            }
            page_query.after = page.last().map(LoggedEvent::position);
        }
        let horizon = watermark - TAIL_LOOKBACK - TimeDelta::seconds(1);
        seen.retain(|_, at| *at >= horizon);
        tokio::select! {
            () = shutdown.cancelled() => return Ok(written),
            () = tokio::time::sleep(poll) => {}
        }
    }
}
