//! A queue subscribed to every event type on the deployment's topic, read in the background for
//! the whole run: every message is kept with its SQS message id (a message redelivered by the
//! queue keeps its id; a second publish of the same event gets a new one) and deleted.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use quickfix::domain::Envelope;
use quickfix::{Queue, SqsQueue};

/// One message (one publish) as the observer received it.
#[derive(Debug, Clone)]
pub struct Observed {
    pub envelope: Envelope,
    pub received_at: DateTime<Utc>,
}

#[derive(Default)]
struct Seen {
    messages: Vec<Observed>,
    message_ids: HashSet<String>,
    /// Bodies that are not envelopes, or whose `eventType` attribute disagrees with the body.
    malformed: Vec<String>,
    last_message: Option<Instant>,
}

/// The background reader.
pub struct Observer {
    queue: Arc<SqsQueue>,
    seen: Mutex<Seen>,
    stop: AtomicBool,
    /// Receives or deletes that failed (while the emulator was frozen, for example).
    pub errors: AtomicUsize,
}

impl Observer {
    /// Starts reading `queue`.
    pub fn spawn(queue: SqsQueue) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let observer = Arc::new(Self {
            queue: Arc::new(queue),
            seen: Mutex::new(Seen::default()),
            stop: AtomicBool::new(false),
            errors: AtomicUsize::new(0),
        });
        let task = tokio::spawn(observer.clone().run());
        (observer, task)
    }

    async fn run(self: Arc<Self>) {
        while !self.stop.load(Ordering::SeqCst) {
            let batch = match self.queue.receive(10, Duration::from_secs(1)).await {
                Ok(batch) => batch,
                Err(_) => {
                    self.errors.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
            {
                let mut seen = self.seen.lock().unwrap();
                if !batch.is_empty() {
                    seen.last_message = Some(Instant::now());
                }
                for delivery in batch {
                    if !seen.message_ids.insert(delivery.message_id.clone()) {
                        // The queue delivered it again (a delete that did not arrive): the
                        // same publish, already counted.
                        continue;
                    }
                    match serde_json::from_str::<Envelope>(&delivery.body) {
                        Ok(envelope)
                            if delivery.event_type.as_deref()
                                == Some(envelope.event_type().as_str()) =>
                        {
                            seen.messages.push(Observed {
                                envelope,
                                received_at: Utc::now(),
                            });
                        }
                        _ => seen.malformed.push(format!(
                            "eventType attribute {:?}, body {}",
                            delivery.event_type, delivery.body
                        )),
                    }
                }
            }
            if !receipts.is_empty() && self.queue.delete(&receipts).await.is_err() {
                self.errors.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Observed> {
        self.seen.lock().unwrap().messages.clone()
    }

    pub fn malformed(&self) -> Vec<String> {
        self.seen.lock().unwrap().malformed.clone()
    }

    /// Time since the last message arrived or `start`, whichever is later.
    pub fn quiet_for(&self, start: Instant) -> Duration {
        let last = self.seen.lock().unwrap().last_message;
        last.map_or(start, |l| l.max(start)).elapsed()
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
