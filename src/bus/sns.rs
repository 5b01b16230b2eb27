//! The SNS publisher: `PublishBatch` in chunks of ten, each message with its `eventType`
//! attribute so subscriptions can filter, and its `traceparent` when it is traced.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use tracing::instrument;

use super::aws::bus_error;
use super::{BusError, PublishReport, Publisher, message_attributes};
use crate::domain::Envelope;

/// SNS allows ten entries per `PublishBatch`.
const BATCH: usize = 10;

/// [`Publisher`] on an SNS topic.
#[derive(Clone)]
pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsPublisher {
    /// A publisher to `topic_arn`.
    pub fn new(config: &SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            topic_arn: topic_arn.into(),
        }
    }

    async fn publish_chunk(
        &self,
        chunk: &[Envelope],
        replayed: bool,
    ) -> Result<PublishReport, BusError> {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, event)| {
                let mut entry = PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message(event.to_json());
                for (name, value) in message_attributes(event, replayed) {
                    entry = entry.message_attributes(name, string_attribute(value));
                }
                entry
                    .build()
                    .expect("BUG: batch entry without required fields")
            })
            .collect();
        let out = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(bus_error)?;
        let event_at = |id: Option<&str>| {
            id.and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| chunk.get(i))
        };
        let mut report = PublishReport::default();
        for ok in out.successful() {
            if let Some(e) = event_at(ok.id()) {
                report.published.push(e.event_id);
            }
        }
        for failed in out.failed() {
            if let Some(e) = event_at(Some(failed.id())) {
                let reason = format!("{}: {}", failed.code(), failed.message().unwrap_or(""));
                report.failed.push((e.event_id, reason));
            }
        }
        Ok(report)
    }

    /// Publishes `events` in chunks of ten, all chunks in flight at once.
    async fn publish_all(
        &self,
        events: &[Envelope],
        replayed: bool,
    ) -> Result<PublishReport, BusError> {
        // The relay hands over at most a few hundred events; one request per chunk of ten, all
        // in flight at once, keeps the relay's latency at one round trip.
        let chunks: Vec<&[Envelope]> = events.chunks(BATCH).collect();
        let outcomes =
            futures::future::join_all(chunks.iter().map(|c| self.publish_chunk(c, replayed))).await;
        let results = chunks.into_iter().zip(outcomes);
        let mut report = PublishReport::default();
        let mut last_error = None;
        for (chunk, result) in results {
            match result {
                Ok(r) => {
                    report.published.extend(r.published);
                    report.failed.extend(r.failed);
                }
                Err(err) => {
                    let reason = err.to_string();
                    report
                        .failed
                        .extend(chunk.iter().map(|e| (e.event_id, reason.clone())));
                    last_error = Some(err);
                }
            }
        }
        match last_error {
            Some(err) if report.published.is_empty() => Err(err),
            _ => Ok(report),
        }
    }
}

#[async_trait]
impl Publisher for SnsPublisher {
    #[instrument(skip_all, fields(events = events.len()))]
    async fn publish(&self, events: &[Envelope]) -> Result<PublishReport, BusError> {
        self.publish_all(events, false).await
    }

    #[instrument(skip_all, fields(events = events.len()))]
    async fn republish(&self, events: &[Envelope]) -> Result<PublishReport, BusError> {
        self.publish_all(events, true).await
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.client
            .get_topic_attributes()
            .topic_arn(&self.topic_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(bus_error)
    }
}

/// A `String` message attribute.
fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("BUG: message attribute without required fields")
}
