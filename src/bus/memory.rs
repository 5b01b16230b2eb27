//! The in-process bus: a topic with filtered subscriptions and queues with SQS semantics.
//!
//! Time is `tokio::time`, so tests can pause and advance it instead of sleeping.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use super::{BusError, Delivery, PublishReport, Publisher, Queue};
use crate::domain::Envelope;

/// How a queue treats its messages.
#[derive(Clone)]
pub struct QueueSettings {
    /// How long a received message stays hidden.
    pub visibility_timeout: Duration,
    /// Where a message goes once received more than `max_receive_count` times.
    pub dead_letter: Option<(Arc<MemoryQueue>, u32)>,
}

struct Message {
    id: String,
    body: String,
    attributes: Vec<(String, String)>,
    receive_count: u32,
    visible_at: Instant,
    receipt: Option<String>,
}

/// An in-process queue with visibility timeout, receive count and redrive.
pub struct MemoryQueue {
    name: String,
    settings: QueueSettings,
    messages: Mutex<Vec<Message>>,
    arrived: Notify,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new(name: impl Into<String>, settings: QueueSettings) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            settings,
            messages: Mutex::new(Vec::new()),
            arrived: Notify::new(),
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Messages stored, visible or not.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the queue holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a message (as a subscription delivery or a direct send).
    pub fn push(&self, body: String, attributes: Vec<(String, String)>) {
        self.lock().push(Message {
            id: Uuid::new_v4().to_string(),
            body,
            attributes,
            receive_count: 0,
            visible_at: Instant::now(),
            receipt: None,
        });
        self.arrived.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Message>> {
        self.messages
            .lock()
            .expect("BUG: memory queue mutex poisoned")
    }

    /// Takes up to `max` visible messages, or says when the next one becomes visible.
    fn take_visible(&self, max: usize) -> (Vec<Delivery>, Option<Instant>) {
        let now = Instant::now();
        let mut dead = Vec::new();
        let mut out = Vec::new();
        let mut next_visible: Option<Instant> = None;
        let mut messages = self.lock();
        let mut i = 0;
        while i < messages.len() && out.len() < max {
            let m = &mut messages[i];
            if m.visible_at > now {
                next_visible = Some(next_visible.map_or(m.visible_at, |n| n.min(m.visible_at)));
                i += 1;
                continue;
            }
            // SQS moves a message to the dead-letter queue on the receive that would exceed
            // maxReceiveCount.
            if let Some((_, max_receives)) = &self.settings.dead_letter
                && m.receive_count >= *max_receives
            {
                dead.push(messages.remove(i));
                continue;
            }
            m.receive_count += 1;
            m.visible_at = now + self.settings.visibility_timeout;
            let receipt = Uuid::new_v4().to_string();
            m.receipt = Some(receipt.clone());
            out.push(Delivery {
                message_id: m.id.clone(),
                receipt,
                body: m.body.clone(),
                event_type: m
                    .attributes
                    .iter()
                    .find(|(k, _)| k == super::EVENT_TYPE_ATTRIBUTE)
                    .map(|(_, v)| v.clone()),
                attributes: m.attributes.clone(),
                receive_count: m.receive_count,
            });
            i += 1;
        }
        drop(messages);
        if let Some((dlq, _)) = &self.settings.dead_letter {
            for m in dead {
                dlq.push(m.body, m.attributes);
            }
        }
        (out, next_visible)
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let deadline = Instant::now() + wait;
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let (out, next_visible) = self.take_visible(max.clamp(1, 10));
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
            let wake_at = next_visible.map_or(deadline, |n| n.min(deadline));
            tokio::select! {
                () = &mut arrived => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), BusError> {
        self.lock()
            .retain(|m| !m.receipt.as_ref().is_some_and(|r| receipts.contains(r)));
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), BusError> {
        let mut messages = self.lock();
        let m = messages
            .iter_mut()
            .find(|m| m.receipt.as_deref() == Some(receipt))
            .ok_or_else(|| BusError::Rejected(format!("receipt {receipt} is not in flight")))?;
        m.visible_at = Instant::now() + timeout;
        drop(messages);
        if timeout.is_zero() {
            self.arrived.notify_waiters();
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    async fn send(&self, body: &str, attributes: &[(String, String)]) -> Result<(), BusError> {
        self.push(body.to_owned(), attributes.to_vec());
        Ok(())
    }

    async fn dead_letter_queue(&self) -> Result<Option<super::DeadLetterQueue>, BusError> {
        Ok(self
            .settings
            .dead_letter
            .as_ref()
            .map(|(queue, max)| super::DeadLetterQueue {
                queue: queue.clone(),
                max_receive_count: *max,
            }))
    }
}

struct Subscription {
    event_types: Option<HashSet<String>>,
    queue: Arc<MemoryQueue>,
}

/// An in-process topic: fans each event out to the subscribed queues whose filter matches.
#[derive(Default)]
pub struct MemoryTopic {
    subscriptions: RwLock<Vec<Subscription>>,
}

impl MemoryTopic {
    /// A topic without subscribers (publishing to it succeeds and delivers nothing, as in SNS).
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Subscribes `queue` with raw delivery; `event_types` is the filter policy on
    /// `eventType` (`None` takes everything).
    pub fn subscribe<I, S>(&self, queue: Arc<MemoryQueue>, event_types: Option<I>)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let event_types = event_types.map(|types| types.into_iter().map(Into::into).collect());
        self.subscriptions
            .write()
            .expect("BUG: topic lock poisoned")
            .push(Subscription { event_types, queue });
    }

    /// Puts every event on each queue whose filter lets it through.
    fn deliver(&self, events: &[Envelope], replayed: bool) -> PublishReport {
        let subscriptions = self.subscriptions.read().expect("BUG: topic lock poisoned");
        for event in events {
            let event_type = event.event_type().as_str();
            let mut body = None;
            for sub in subscriptions.iter() {
                if sub
                    .event_types
                    .as_ref()
                    .is_none_or(|types| types.contains(event_type))
                {
                    let body = body.get_or_insert_with(|| event.to_json());
                    let attributes = super::owned_message_attributes(event, replayed);
                    sub.queue.push(body.clone(), attributes);
                }
            }
        }
        PublishReport {
            published: events.iter().map(|e| e.event_id).collect(),
            failed: Vec::new(),
        }
    }
}

#[async_trait]
impl Publisher for MemoryTopic {
    async fn publish(&self, events: &[Envelope]) -> Result<PublishReport, BusError> {
        Ok(self.deliver(events, false))
    }

    async fn republish(&self, events: &[Envelope]) -> Result<PublishReport, BusError> {
        Ok(self.deliver(events, true))
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
}

/// The in-process twin of [`super::Topology`].
pub struct MemoryTopology {
    /// The topic.
    pub topic: Arc<MemoryTopic>,
    /// The worker queue, subscribed with the spec's filter policy.
    pub queue: Arc<MemoryQueue>,
    /// Its dead-letter queue.
    pub dead_letter_queue: Arc<MemoryQueue>,
}

impl MemoryTopology {
    /// Builds what [`super::provision`] creates on AWS, from the same spec.
    pub fn provision(spec: &super::TopologySpec) -> Self {
        let dead_letter_queue = MemoryQueue::new(
            spec.dead_letter_queue_name.clone(),
            QueueSettings {
                visibility_timeout: spec.visibility_timeout,
                dead_letter: None,
            },
        );
        let queue = MemoryQueue::new(
            spec.queue_name.clone(),
            QueueSettings {
                visibility_timeout: spec.visibility_timeout,
                dead_letter: Some((dead_letter_queue.clone(), spec.max_receive_count)),
            },
        );
        let topic = MemoryTopic::new();
        topic.subscribe(
            queue.clone(),
            Some(spec.event_types.iter().map(|t| t.as_str())),
        );
        Self {
            topic,
            queue,
            dead_letter_queue,
        }
    }
}
