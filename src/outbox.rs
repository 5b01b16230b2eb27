//! The outbox relay: publishes the events stored with each change, then clears them.
//!
//! A write puts its events in the changed document itself, so the database write is the only
//! thing that must succeed for an event to exist. The relay wakes right after each write (a
//! [`Notify`] permit) and also sweeps on a timer, which is what publishes events left by a crash
//! or by an outage of the topic. Within one document, events go out strictly in order: each
//! round publishes only the oldest pending event of every document, and the next one only after
//! the first is accepted.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::bus::{BusError, Publisher};
use crate::domain::Envelope;
use crate::store::{OutboxOwner, Store, StoreError};

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Sweep at least this often, even without a wake-up.
    pub sweep_interval: Duration,
    /// Documents read per round.
    pub batch_size: usize,
    /// First wait after a failed publish; doubles up to `sweep_interval`.
    pub initial_backoff: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_secs(2),
            batch_size: 100,
            initial_backoff: Duration::from_millis(100),
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
            store,
            publisher,
            wake,
            settings,
        }
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
            let pending = self.store.pending_events(self.settings.batch_size).await?;
            let heads: Vec<(OutboxOwner, &Envelope)> = pending
                .iter()
                .filter_map(|p| p.events.first().map(|e| (p.owner, e)))
                .collect();
            if heads.is_empty() {
                return Ok(pass);
            }
            let events: Vec<Envelope> = heads.iter().map(|(_, e)| (*e).clone()).collect();
            let report = self.publisher.publish(&events).await?;
            for (owner, event) in &heads {
                if report.published.contains(&event.event_id) {
                    self.store.clear_events(*owner, &[event.event_id]).await?;
                    metrics::counter!("quickfix_events_published_total", "event_type" => event.event_type.as_str()).increment(1);
                }
            }
            pass.published += report.published.len();
            if !report.failed.is_empty() {
                pass.failed += report.failed.len();
                metrics::counter!("quickfix_outbox_publish_failures_total")
                    .increment(report.failed.len() as u64);
                warn!(failed = report.failed.len(), first_reason = %report.failed[0].1, "topic refused events; they stay in the outbox");
                return Ok(pass);
            }
        }
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
