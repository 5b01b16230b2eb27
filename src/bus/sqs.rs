//! The SQS queue adapter: long polling, batch delete, visibility changes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName,
};
use tracing::instrument;

use super::aws::bus_error;
use super::{BusError, DeadLetterQueue, Delivery, Queue};

/// [`Queue`] on an SQS queue.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    /// The queue at `queue_url`.
    pub fn new(config: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            queue_url: queue_url.into(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.queue_url
    }
}

fn seconds(d: Duration, max: u64) -> i32 {
    i32::try_from(d.as_secs().min(max)).expect("BUG: clamped seconds fit in i32")
}

#[async_trait]
impl Queue for SqsQueue {
    #[instrument(skip_all)]
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let max = i32::try_from(max.clamp(1, 10)).expect("BUG: 1..=10 fits in i32");
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(seconds(wait, 20))
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(bus_error)?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Delivery {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                event_type: m
                    .message_attributes()
                    .and_then(|a| a.get(super::EVENT_TYPE_ATTRIBUTE))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned),
                attributes: m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .filter_map(|(k, v)| {
                                v.string_value().map(|v| (k.clone(), v.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    #[instrument(skip_all, fields(count = receipts.len()))]
    async fn delete(&self, receipts: &[String]) -> Result<(), BusError> {
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .build()
                        .expect("BUG: delete entry without required fields")
                })
                .collect();
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(bus_error)?;
            if let Some(failed) = out.failed().first() {
                return Err(BusError::Rejected(format!(
                    "delete failed: {} {}",
                    failed.code(),
                    failed.message().unwrap_or("")
                )));
            }
        }
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), BusError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(timeout, 43_200))
            .send()
            .await
            .map(|_| ())
            .map_err(bus_error)
    }

    async fn send(&self, body: &str, attributes: &[(String, String)]) -> Result<(), BusError> {
        let mut call = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .expect("BUG: message attribute without required fields");
            call = call.message_attributes(name, value);
        }
        call.send().await.map(|_| ()).map_err(bus_error)
    }

    async fn dead_letter_queue(&self) -> Result<Option<DeadLetterQueue>, BusError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(bus_error)?;
        let Some(policy) = out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        else {
            return Ok(None);
        };
        let policy: serde_json::Value = serde_json::from_str(policy)
            .map_err(|e| BusError::Rejected(format!("redrive policy is not JSON: {e}")))?;
        let arn = policy["deadLetterTargetArn"].as_str().unwrap_or_default();
        // maxReceiveCount comes as a number or a string depending on who wrote the policy.
        let max_receive_count = match &policy["maxReceiveCount"] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            BusError::Rejected(format!("redrive policy without maxReceiveCount: {policy}"))
        })?;
        let name = arn
            .rsplit(':')
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                BusError::Rejected(format!(
                    "redrive policy without a dead-letter queue ARN: {policy}"
                ))
            })?;
        let url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(bus_error)?
            .queue_url()
            .unwrap_or_default()
            .to_owned();
        Ok(Some(DeadLetterQueue {
            queue: Arc::new(SqsQueue {
                client: self.client.clone(),
                queue_url: url,
            }),
            max_receive_count,
        }))
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map(|_| ())
            .map_err(bus_error)
    }
}
