//! The event bus ports and adapters: SNS + SQS in production, an in-process twin for `dev` and
//! tests. Both pass one contract suite (`tests/bus_contract.rs`): raw delivery with the
//! `eventType` attribute, filter policies, visibility timeouts, and redrive to a dead-letter
//! queue after `maxReceiveCount` receives.

mod aws;
mod memory;
mod provision;
mod sns;
mod sqs;

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::Envelope;

pub use aws::{AwsOptions, aws_config};
pub use memory::{MemoryQueue, MemoryTopic, MemoryTopology, QueueSettings};
pub use provision::{Topology, TopologySpec, provision};
pub use sns::SnsPublisher;
pub use sqs::SqsQueue;

/// Why a bus call failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The service cannot be reached or refused the call.
    #[error("the event bus is unavailable: {0}")]
    Unavailable(String),
    /// The call was made but rejected.
    #[error("event bus call failed: {0}")]
    Rejected(String),
}

/// What happened to each event of a publish call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// Accepted by the topic.
    pub published: Vec<Uuid>,
    /// Refused, with the reason; to be tried again.
    pub failed: Vec<(Uuid, String)>,
}

/// Publishes events to the topic, each with its `eventType` message attribute.
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes `events`, in order where the transport allows; reports per event.
    ///
    /// # Errors
    /// [`BusError`] when nothing could be published at all.
    async fn publish(&self, events: &[Envelope]) -> Result<PublishReport, BusError>;

    /// Publishes `events` again, as they were (same event ids), each marked with the
    /// [`REPLAYED_ATTRIBUTE`] message attribute.
    ///
    /// # Errors
    /// [`BusError`] when nothing could be published at all.
    async fn republish(&self, events: &[Envelope]) -> Result<PublishReport, BusError>;

    /// Checks the topic is reachable.
    async fn ping(&self) -> Result<(), BusError>;
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue's id for the message (stable across receives).
    pub message_id: String,
    /// The handle that deletes it or changes its visibility; new on every receive.
    pub receipt: String,
    /// The raw body: the event envelope JSON.
    pub body: String,
    /// The `eventType` message attribute.
    pub event_type: Option<String>,
    /// Every string message attribute, `eventType` included (e.g. a dead-letter `reason`).
    pub attributes: Vec<(String, String)>,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// The message attributes an event is published with: its `eventType` (subscriptions filter
/// on it), its `traceparent` when it is traced, and `replayed` when it is published again from
/// the event log.
pub fn message_attributes(event: &Envelope, replayed: bool) -> Vec<(&'static str, &str)> {
    let mut attributes = vec![(EVENT_TYPE_ATTRIBUTE, event.event_type().as_str())];
    if let Some(traceparent) = &event.metadata.traceparent {
        attributes.push((crate::telemetry::trace::TRACEPARENT, traceparent));
    }
    if replayed {
        attributes.push((REPLAYED_ATTRIBUTE, "true"));
    }
    attributes
}

/// [`message_attributes`] as owned pairs, as a queue send takes them.
pub fn owned_message_attributes(event: &Envelope, replayed: bool) -> Vec<(String, String)> {
    message_attributes(event, replayed)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// The message attribute (`"true"`) of an event published again from the event log.
pub const REPLAYED_ATTRIBUTE: &str = "replayed";

/// The message attribute subscriptions filter on.
pub const EVENT_TYPE_ATTRIBUTE: &str = "eventType";

/// A queue the worker consumes, with SQS semantics.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Waits up to `wait` for messages and returns at most `max` (1 to 10), hiding them for the
    /// queue's visibility timeout.
    ///
    /// # Errors
    /// [`BusError`] when the queue cannot be reached.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;

    /// Deletes handled messages.
    ///
    /// # Errors
    /// [`BusError`] when the queue cannot be reached.
    async fn delete(&self, receipts: &[String]) -> Result<(), BusError>;

    /// Hides a message for `timeout` from now (0 makes it visible at once).
    ///
    /// # Errors
    /// [`BusError`] when the queue cannot be reached or the receipt is stale.
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), BusError>;

    /// Checks the queue is reachable.
    async fn ping(&self) -> Result<(), BusError>;

    /// Sends a message with string attributes (used to dead-letter and to redrive).
    ///
    /// # Errors
    /// [`BusError`] when the queue cannot be reached.
    async fn send(&self, body: &str, attributes: &[(String, String)]) -> Result<(), BusError>;

    /// The dead-letter queue of this queue's redrive policy, with its `maxReceiveCount`;
    /// `None` when the queue has no redrive policy.
    ///
    /// # Errors
    /// [`BusError`] when the queue cannot be reached or its dead-letter queue cannot be found.
    async fn dead_letter_queue(&self) -> Result<Option<DeadLetterQueue>, BusError>;
}

/// A queue's dead-letter queue, from its redrive policy.
#[derive(Clone)]
pub struct DeadLetterQueue {
    /// The dead-letter queue itself.
    pub queue: std::sync::Arc<dyn Queue>,
    /// Receives before a message is moved there.
    pub max_receive_count: u32,
}

impl Delivery {
    /// The string attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
