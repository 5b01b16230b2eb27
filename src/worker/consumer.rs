//! The consumer: one [`Worker::step`] receives a batch, handles its messages concurrently, and
//! acknowledges; [`Worker::run`] repeats it until shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use super::Context;
use super::handlers::{HandlerError, dispatch};
use crate::bus::{BusError, Delivery, Queue};
use crate::defaults;
use crate::domain::Envelope;

/// How the consumer paces itself.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Messages per receive (1 to 10).
    pub batch_size: usize,
    /// Long-poll wait per receive.
    pub wait: Duration,
    /// Messages handled at once.
    pub concurrency: usize,
    /// The queue's visibility timeout; a running handler renews it every third of it.
    pub visibility_timeout: Duration,
    /// Retry delay after the first failure; doubles with every receive.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            batch_size: defaults::WORKER_RECEIVE_BATCH,
            wait: Duration::from_secs(defaults::WORKER_WAIT_SECONDS),
            concurrency: defaults::WORKER_CONCURRENCY,
            visibility_timeout: Duration::from_secs(defaults::WORKER_VISIBILITY_TIMEOUT_SECONDS),
            backoff_base: Duration::from_secs(defaults::WORKER_BACKOFF_SECONDS),
            backoff_max: Duration::from_secs(defaults::WORKER_BACKOFF_MAX_SECONDS),
        }
    }
}

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    /// Messages received.
    pub received: usize,
    /// Handled and deleted.
    pub handled: usize,
    /// Failed; they come back after a backoff.
    pub retried: usize,
    /// Could never succeed; moved to the dead-letter queue.
    pub dead_lettered: usize,
}

enum Outcome {
    Done,
    Retry(String),
    Poison(String),
}

/// Consumes the worker queue.
pub struct Worker {
    queue: Arc<dyn Queue>,
    dead_letters: Option<Arc<dyn Queue>>,
    ctx: Context,
    settings: ConsumerSettings,
}

impl Worker {
    /// A worker on `queue`; poison messages go to `dead_letters` (normally the queue's own
    /// dead-letter queue).
    pub fn new(
        queue: Arc<dyn Queue>,
        dead_letters: Option<Arc<dyn Queue>>,
        ctx: Context,
        settings: ConsumerSettings,
    ) -> Self {
        Self {
            queue,
            dead_letters,
            ctx,
            settings,
        }
    }

    /// Receives one batch (waiting up to the long-poll time, or until `shutdown`), handles it,
    /// and deletes what succeeded. Messages in hand are always finished, even after `shutdown`.
    ///
    /// # Errors
    /// [`BusError`] when the queue cannot be reached.
    pub async fn step(&self, shutdown: &CancellationToken) -> Result<StepReport, BusError> {
        let batch = tokio::select! {
            received = self.queue.receive(self.settings.batch_size, self.settings.wait) => received?,
            () = shutdown.cancelled() => return Ok(StepReport::default()),
        };
        Ok(self.handle_batch(batch).await)
    }

    /// Handles received messages and acknowledges them: successes deleted in one batch,
    /// failures hidden for their backoff, poison dead-lettered.
    pub async fn handle_batch(&self, batch: Vec<Delivery>) -> StepReport {
        let mut report = StepReport {
            received: batch.len(),
            ..StepReport::default()
        };
        metrics::counter!("quickfix_worker_messages_received_total").increment(batch.len() as u64);
        let outcomes: Vec<(Delivery, Outcome)> = futures::stream::iter(batch)
            .map(|d| async move {
                let outcome = self.handle(&d).await;
                (d, outcome)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;

        let mut done = Vec::new();
        for (delivery, outcome) in outcomes {
            match outcome {
                Outcome::Done => done.push(delivery.receipt),
                Outcome::Retry(reason) => {
                    report.retried += 1;
                    metrics::counter!("quickfix_worker_messages_retried_total").increment(1);
                    let delay = self.backoff(delivery.receive_count);
                    warn!(message_id = %delivery.message_id, receive_count = delivery.receive_count, retry_in = ?delay, %reason, "handler failed; the message will be retried");
                    if let Err(err) = self.queue.change_visibility(&delivery.receipt, delay).await {
                        warn!(error = %err, "could not set the retry delay; the visibility timeout applies");
                    }
                }
                Outcome::Poison(reason) => {
                    if self.dead_letter(&delivery, &reason).await {
                        report.dead_lettered += 1;
                        done.push(delivery.receipt);
                    } else {
                        report.retried += 1;
                    }
                }
            }
        }
        report.handled = done.len() - report.dead_lettered;
        if !done.is_empty()
            && let Err(err) = self.queue.delete(&done).await
        {
            // The effects are stored; the messages come back and are recognised as done.
            warn!(error = %err, count = done.len(), "could not delete handled messages");
        }
        report
    }

    /// Handles one message, renewing its visibility while the handler runs.
    async fn handle(&self, delivery: &Delivery) -> Outcome {
        let event = match parse(delivery) {
            Ok(event) => event,
            Err(reason) => return Outcome::Poison(reason),
        };
        let span = info_span!(
            "message",
            event_id = %event.event_id,
            event_type = %event.event_type(),
            correlation_id = %event.metadata.correlation_id,
            receive_count = delivery.receive_count,
            otel.name = %format_args!("handle {}", event.event_type()),
            otel.kind = "consumer",
        );
        // The handler's span, and every event it emits, continue the trace of the event.
        crate::telemetry::trace::continue_trace(&span, event.metadata.traceparent.as_deref());
        async {
            let started = Instant::now();
            let work = dispatch(&self.ctx, &event);
            tokio::pin!(work);
            let renew_every = (self.settings.visibility_timeout / 3).max(Duration::from_millis(200));
            let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
            let result = loop {
                tokio::select! {
                    result = &mut work => break result,
                    _ = heartbeat.tick() => {
                        if let Err(err) = self.queue.change_visibility(&delivery.receipt, self.settings.visibility_timeout).await {
                            warn!(error = %err, "could not extend the message's visibility");
                        }
                    }
                }
            };
            metrics::histogram!("quickfix_worker_handler_seconds", "event_type" => event.event_type().as_str())
                .record(started.elapsed().as_secs_f64());
            match result {
                Ok(()) => {
                    metrics::counter!("quickfix_worker_messages_handled_total", "event_type" => event.event_type().as_str()).increment(1);
                    Outcome::Done
                }
                Err(HandlerError::Invalid(reason)) => Outcome::Poison(reason),
                Err(err @ HandlerError::Store(_)) => Outcome::Retry(err.to_string()),
            }
        }
        .instrument(span)
        .await
    }

    /// Sends a poison message to the dead-letter queue with its reason; `false` if it could not.
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> bool {
        let Some(dlq) = &self.dead_letters else {
            error!(message_id = %delivery.message_id, %reason, "poison message and no dead-letter queue; it stays until the queue's redrive moves it");
            return false;
        };
        let mut attributes: Vec<(String, String)> = delivery
            .attributes
            .iter()
            .filter(|(k, _)| k != "reason")
            .cloned()
            .collect();
        attributes.push(("reason".into(), reason.to_owned()));
        match dlq.send(&delivery.body, &attributes).await {
            Ok(()) => {
                metrics::counter!("quickfix_worker_messages_dead_lettered_total").increment(1);
                warn!(message_id = %delivery.message_id, %reason, "poison message moved to the dead-letter queue");
                true
            }
            Err(err) => {
                warn!(error = %err, "could not dead-letter a poison message; it will be retried");
                false
            }
        }
    }

    fn backoff(&self, receive_count: u32) -> Duration {
        retry_delay(&self.settings, receive_count)
    }

    /// Steps until `shutdown`, then returns once the messages in hand are finished.
    pub async fn run(self, shutdown: CancellationToken) {
        info!(concurrency = self.settings.concurrency, "worker consuming");
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            match self.step(&shutdown).await {
                Ok(_) => failures = 0,
                Err(err) => {
                    failures += 1;
                    let delay = Duration::from_millis(200 * 2u64.pow(failures.min(6)));
                    warn!(error = %err, retry_in = ?delay, "cannot receive from the queue");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
            }
        }
        info!("worker stopped");
    }
}

/// How long a message that failed on its `receive_count`-th receive stays hidden: the base
/// delay, doubled for every receive before, at most the maximum.
pub fn retry_delay(settings: &ConsumerSettings, receive_count: u32) -> Duration {
    let exponent = receive_count.saturating_sub(1).min(16);
    (settings.backoff_base * 2u32.pow(exponent)).min(settings.backoff_max)
}

/// Reads a message body as an envelope this build understands.
fn parse(delivery: &Delivery) -> Result<Envelope, String> {
    Envelope::from_json(&delivery.body).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_with_each_receive_up_to_the_maximum() {
        let settings = ConsumerSettings::default();
        let delays: Vec<u64> = (1..=10)
            .map(|n| retry_delay(&settings, n).as_secs())
            .collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_delay(&settings, u32::MAX).as_secs(), 300);
    }

    fn delivery(body: &str) -> Delivery {
        Delivery {
            message_id: "m".into(),
            receipt: "r".into(),
            body: body.into(),
            event_type: None,
            attributes: vec![],
            receive_count: 1,
        }
    }

    #[test]
    fn bodies_that_can_never_succeed_are_recognised() {
        assert!(parse(&delivery("nope")).unwrap_err().contains("not JSON"));
        assert!(
            parse(&delivery(r#"{"eventType":"x.y","version":1}"#))
                .unwrap_err()
                .contains("unknown eventType")
        );
        assert!(
            parse(&delivery(r#"{"eventType":"ticket.created","version":9}"#))
                .unwrap_err()
                .contains("version 9")
        );
        assert!(
            parse(&delivery(r#"{"eventType":"ticket.created","version":1}"#))
                .unwrap_err()
                .contains("not an event envelope")
        );
    }
}
