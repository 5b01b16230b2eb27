//! The outbox relay: publishes the events stored with each change, then clears them.
//!
//! A write puts its events in the changed document itself, so the database write is the only
//! thing that must succeed for an event to exist. The relay wakes right after each write (a
//! [`Notify`] permit) and also sweeps on a timer, which is what publishes events left by a crash
//! or by an outage of the topic. Within one document, events go out strictly in order: each
//! round publishes only the oldest pending event of every document, and the next one only after
//! the first is accepted.
//!
//! Every API and worker process runs a relay, and every relay may publish any document's
//! events (so events a crashed process wrote still go out). To publish each event once, a relay
//! first claims the documents it is about to publish with a lease (one atomic update per claim
//! round), publishes, then clears the events and ends the lease in one write. A relay that dies
//! holding a lease delays those documents until it expires (`OUTBOX_LEASE_SECONDS`); then
//! another relay takes them over. Right before publishing a chunk the relay renews its lease on
//! those documents and publishes only the ones it still holds, so the lease covers the publish
//! and the clear however slow the claim was. A duplicate is possible only when a relay dies, or
//! stalls past its lease, between publishing and clearing; consumers absorb it.
//!
//! What the topic accepted is recorded in the event log before it is cleared, so the log
//! holds every published event once (idempotent on the event id).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::bus::{BusError, Publisher};
use crate::defaults;
use crate::domain::{Envelope, LoggedEvent};
use crate::store::{OutboxLease, OutboxOwner, PendingEvents, Store, StoreError};

/// Events published (and then cleared) together: one SNS `PublishBatch`.
const PUBLISH_CHUNK: usize = 10;

fn lease_time(settings: &RelaySettings) -> TimeDelta {
    TimeDelta::from_std(settings.lease).unwrap_or(TimeDelta::seconds(30))
}

/// Counts what a claim round took, and sets how old the oldest event this relay holds is (the
/// maximum over relays is the outbox's lag).
fn record_claims(claimed: &[PendingEvents], now: DateTime<Utc>) {
    metrics::counter!("quickfix_outbox_claimed_total").increment(claimed.len() as u64);
    let taken_over = claimed.iter().filter(|p| p.taken_over).count();
    if taken_over > 0 {
        metrics::counter!("quickfix_outbox_lease_takeovers_total").increment(taken_over as u64);
        info!(
            taken_over,
            "took over events from a relay whose lease expired"
        );
    }
    let oldest = claimed
        .iter()
        .filter_map(|p| p.events.first())
        .map(|e| e.timestamp)
        .min()
        .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
    metrics::gauge!("outbox_oldest_pending_seconds").set(oldest);
}

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Sweep at least this often, even without a wake-up.
    pub sweep_interval: Duration,
    /// Documents read per round.
    pub batch_size: usize,
    /// First wait after a failed publish; doubles up to `sweep_interval`.
    pub initial_backoff: Duration,
    /// How long a claim on a document lasts if the relay does not clear it (it died).
    pub lease: Duration,
    /// Record what was published in the event log (off only to measure what the log costs).
    pub record_events: bool,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_millis(defaults::OUTBOX_SWEEP_INTERVAL_MS),
            batch_size: defaults::OUTBOX_BATCH_SIZE,
            initial_backoff: Duration::from_millis(100),
            lease: Duration::from_secs(defaults::OUTBOX_LEASE_SECONDS),
            record_events: true,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayPass {
    /// Events accepted by the topic and cleared.
    pub published: usize,
    /// Events the topic refused; they stay pending.
    pub failed: usize,
}

/// Why a pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or clearing the outbox failed.
    #[error("outbox store: {0}")]
    Store(#[from] StoreError),
    /// The topic could not be reached.
    #[error("outbox publish: {0}")]
    Bus(#[from] BusError),
}

/// Moves events from the store's outboxes to the publisher.
#[derive(Clone)]
pub struct OutboxRelay {
    /// Unique per relay: the name its leases carry.
    id: String,
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    wake: Arc<Notify>,
    settings: RelaySettings,
}

impl OutboxRelay {
    /// A relay woken by `wake` (signalled by every write that stores events).
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn Publisher>,
        wake: Arc<Notify>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            id: format!("relay-{}", uuid::Uuid::new_v4().simple()),
            store,
            publisher,
            wake,
            settings,
        }
    }

    /// The name this relay's leases carry.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Publishes everything pending, round by round, until the outboxes are empty or the
    /// topic refuses something (then the rest waits for the next pass).
    ///
    /// # Errors
    /// [`RelayError`] when the store or the topic cannot be reached; what was published before
    /// is cleared.
    pub async fn run_once(&self) -> Result<RelayPass, RelayError> {
        let mut pass = RelayPass::default();
        loop {
            // Wall-clock time: leases are compared across processes.
            let now = Utc::now();
            let lease = OutboxLease {
                relay: self.id.clone(),
                now,
                until: now + lease_time(&self.settings),
            };
            let pending = self
                .store
                .claim_events(&lease, self.settings.batch_size)
                .await?;
            let heads: Vec<(OutboxOwner, &Envelope)> = pending
                .iter()
                .filter_map(|p| p.events.first().map(|e| (p.owner, e)))
                .collect();
            record_claims(&pending, now);
            if heads.is_empty() {
                return Ok(pass);
            }
            metrics::histogram!("quickfix_outbox_claim_seconds")
                .record((Utc::now() - now).num_milliseconds().max(0) as f64 / 1000.0);
            for chunk in heads.chunks(PUBLISH_CHUNK) {
                let published = self.publish_chunk(chunk).await?;
                pass.published += published.published;
                if published.failed > 0 {
                    pass.failed += published.failed;
                    return Ok(pass);
                }
            }
        }
    }

    /// Renews the lease on `chunk`'s documents (one event each), publishes the events of those
    /// still held, and clears what the topic accepted, every document at once. Renewing right
    /// before publishing makes the lease cover the publish and the clear however long the claim
    /// or earlier chunks took; a document another relay took over meanwhile is left to it.
    async fn publish_chunk(
        &self,
        chunk: &[(OutboxOwner, &Envelope)],
    ) -> Result<RelayPass, RelayError> {
        let now = Utc::now();
        let lease = OutboxLease {
            relay: self.id.clone(),
            now,
            until: now + lease_time(&self.settings),
        };
        let owners: Vec<OutboxOwner> = chunk.iter().map(|(owner, _)| *owner).collect();
        let held = self.store.renew_leases(&lease, &owners).await?;
        let lost = chunk.len() - held.len();
        if lost > 0 {
            metrics::counter!("quickfix_outbox_leases_lost_total").increment(lost as u64);
            debug!(
                lost,
                "another relay took over documents before they were published"
            );
        }
        let chunk: Vec<&(OutboxOwner, &Envelope)> = chunk
            .iter()
            .filter(|(owner, _)| held.contains(owner))
            .collect();
        if chunk.is_empty() {
            return Ok(RelayPass::default());
        }
        let events: Vec<Envelope> = chunk.iter().map(|(_, e)| (*e).clone()).collect();
        let report = self.publisher.publish(&events).await?;
        // Logged before the clear: a crash between the two publishes the event again, and
        // the log keeps it once.
        if self.settings.record_events {
            let published_at = Utc::now();
            let logged: Vec<LoggedEvent> = events
                .into_iter()
                .filter(|e| report.published.contains(&e.event_id))
                .map(|envelope| LoggedEvent::new(envelope, published_at))
                .collect();
            self.store.event_log().record(&logged).await?;
        }
        let clears = chunk
            .iter()
            .filter(|(_, event)| report.published.contains(&event.event_id))
            .map(|(owner, event)| async move {
                self.store
                    .clear_events(*owner, &[event.event_id], &self.id)
                    .await?;
                metrics::counter!("quickfix_events_published_total", "event_type" => event.event_type().as_str()).increment(1);
                Ok::<_, StoreError>(())
            });
        futures::future::try_join_all(clears).await?;
        if !report.failed.is_empty() {
            metrics::counter!("quickfix_outbox_publish_failures_total")
                .increment(report.failed.len() as u64);
            warn!(failed = report.failed.len(), first_reason = %report.failed[0].1, "topic refused events; they stay in the outbox");
        }
        Ok(RelayPass {
            published: report.published.len(),
            failed: report.failed.len(),
        })
    }

    /// Runs passes until `shutdown`: after every wake-up, on every sweep, and with a growing
    /// backoff while the topic is unreachable. A last pass runs at shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff: Option<Duration> = None;
        loop {
            let healthy = match self.run_once().await {
                Ok(pass) => {
                    if pass.published > 0 {
                        debug!(published = pass.published, "outbox relayed");
                    }
                    pass.failed == 0
                }
                Err(err) => {
                    warn!(error = %err, "outbox pass failed; will retry");
                    false
                }
            };
            backoff = if healthy {
                if backoff.is_some() {
                    info!("outbox relay recovered");
                }
                None
            } else {
                let next = backoff.map_or(self.settings.initial_backoff, |b| b * 2);
                Some(next.min(self.settings.sweep_interval))
            };
            let wait = async {
                match backoff {
                    // While failing, only the timer wakes the relay: writes must not turn
                    // into a retry storm against a topic that is down.
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => {
                        tokio::select! {
                            () = self.wake.notified() => {}
                            () = tokio::time::sleep(self.settings.sweep_interval) => {}
                        }
                    }
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wait => {}
            }
        }
        if let Err(err) = self.run_once().await {
            warn!(error = %err, "final outbox pass failed; events stay stored for the next start");
        }
    }
}
