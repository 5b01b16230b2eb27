//! Creates the messaging topology on an AWS-compatible endpoint (LocalStack, moto): the topic,
//! the worker queue with its dead-letter queue, and the filtered raw-delivery subscription.
//! Terraform in `infra/` declares the same topology for AWS; [`TopologySpec::default`] is the
//! shared source of the names and numbers.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;

use super::aws::bus_error;
use super::{BusError, EVENT_TYPE_ATTRIBUTE};
use crate::defaults;
use crate::domain::{EventType, WORKER_EVENT_TYPES};

/// What to create.
#[derive(Debug, Clone)]
pub struct TopologySpec {
    /// SNS topic name.
    pub topic_name: String,
    /// Worker queue name.
    pub queue_name: String,
    /// Dead-letter queue name.
    pub dead_letter_queue_name: String,
    /// Receives before a message moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// How long a received message stays hidden.
    pub visibility_timeout: Duration,
    /// How long the dead-letter queue keeps messages (longer than the worker queue's).
    pub dead_letter_retention: Duration,
    /// The worker subscription's filter policy on `eventType`.
    pub event_types: Vec<EventType>,
}

impl Default for TopologySpec {
    fn default() -> Self {
        Self {
            topic_name: defaults::TOPIC_NAME.into(),
            queue_name: defaults::QUEUE_NAME.into(),
            dead_letter_queue_name: defaults::DEAD_LETTER_QUEUE_NAME.into(),
            max_receive_count: defaults::MAX_RECEIVE_COUNT,
            visibility_timeout: Duration::from_secs(defaults::QUEUE_VISIBILITY_TIMEOUT_SECONDS),
            dead_letter_retention: Duration::from_secs(defaults::DEAD_LETTER_RETENTION_SECONDS),
            event_types: WORKER_EVENT_TYPES.to_vec(),
        }
    }
}

/// What was created: everything the binaries need in their configuration.
#[derive(Debug, Clone)]
pub struct Topology {
    /// `SNS_TOPIC_ARN`.
    pub topic_arn: String,
    /// `SQS_QUEUE_URL`.
    pub queue_url: String,
    /// The worker queue's ARN.
    pub queue_arn: String,
    /// `SQS_DEAD_LETTER_QUEUE_URL`.
    pub dead_letter_queue_url: String,
    /// The dead-letter queue's ARN.
    pub dead_letter_queue_arn: String,
    /// The worker subscription's ARN.
    pub subscription_arn: String,
}

/// Creates (or updates to match) the topology in `spec`. Safe to run again.
///
/// # Errors
/// [`BusError`] naming the step that failed.
pub async fn provision(config: &SdkConfig, spec: &TopologySpec) -> Result<Topology, BusError> {
    let sns = aws_sdk_sns::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let step = |what: &'static str| move |e: BusError| BusError::Rejected(format!("{what}: {e}"));

    let topic_arn = sns
        .create_topic()
        .name(&spec.topic_name)
        .send()
        .await
        .map_err(bus_error)
        .map_err(step("create topic"))?
        .topic_arn()
        .unwrap_or_default()
        .to_owned();

    let (dead_letter_queue_url, dead_letter_queue_arn) = ensure_queue(
        &sqs,
        &spec.dead_letter_queue_name,
        &[(
            QueueAttributeName::MessageRetentionPeriod,
            spec.dead_letter_retention.as_secs().to_string(),
        )],
    )
    .await
    .map_err(step("create dead-letter queue"))?;

    let redrive = json!({
        "deadLetterTargetArn": dead_letter_queue_arn,
        "maxReceiveCount": spec.max_receive_count,
    });
    let (queue_url, queue_arn) = ensure_queue(
        &sqs,
        &spec.queue_name,
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                spec.visibility_timeout.as_secs().to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ],
    )
    .await
    .map_err(step("create worker queue"))?;

    // Only the worker queue may redrive into the dead-letter queue; only the topic may send
    // to the worker queue.
    let redrive_allow = json!({"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]});
    set_attributes(
        &sqs,
        &dead_letter_queue_url,
        &[(
            QueueAttributeName::RedriveAllowPolicy,
            redrive_allow.to_string(),
        )],
    )
    .await
    .map_err(step("set redrive-allow policy"))?;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowTopicToSend",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        }],
    });
    set_attributes(
        &sqs,
        &queue_url,
        &[(QueueAttributeName::Policy, policy.to_string())],
    )
    .await
    .map_err(step("set queue policy"))?;

    let filter = json!({EVENT_TYPE_ATTRIBUTE: spec.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>()});
    let subscription_arn = sns
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .attributes("FilterPolicy", filter.to_string())
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(bus_error)
        .map_err(step("subscribe worker queue"))?
        .subscription_arn()
        .unwrap_or_default()
        .to_owned();

    Ok(Topology {
        topic_arn,
        queue_url,
        queue_arn,
        dead_letter_queue_url,
        dead_letter_queue_arn,
        subscription_arn,
    })
}

/// Creates the queue if needed, sets `attributes`, and returns its URL and ARN.
async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<(String, String), BusError> {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(bus_error)?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    set_attributes(sqs, &url, attributes).await?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(bus_error)?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| BusError::Rejected(format!("queue {name} has no ARN")))?;
    Ok((url, arn))
}

async fn set_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<(), BusError> {
    if attributes.is_empty() {
        return Ok(());
    }
    let mut call = sqs.set_queue_attributes().queue_url(url);
    for (name, value) in attributes {
        call = call.attributes(name.clone(), value);
    }
    call.send().await.map(|_| ()).map_err(bus_error)
}
