//! Settings of the backends a command talks to: MongoDB, AWS (SNS and SQS), and the outbox
//! relay that publishes what the store holds.

use std::time::Duration;

use clap::Args;
use clap::builder::RangedU64ValueParser;
use clap::value_parser;
use secrecy::SecretString;

use crate::defaults;

/// MongoDB: where tickets, accounts and the event log live.
#[derive(Debug, Clone, Args)]
pub struct MongoArgs {
    /// MongoDB connection string.
    #[arg(long, env = "MONGODB_URI", hide_env_values = true)]
    pub mongodb_uri: Option<SecretString>,
    /// MongoDB database name.
    #[arg(long, env = "MONGODB_DATABASE", default_value = defaults::MONGODB_DATABASE)]
    pub mongodb_database: String,
    /// Milliseconds to wait for MongoDB before answering 503.
    #[arg(long, env = "MONGODB_TIMEOUT_MS", default_value_t = defaults::MONGODB_TIMEOUT_MS,
        value_parser = value_parser!(u64).range(100..=120_000))]
    pub mongodb_timeout_ms: u64,
    /// Days the event log keeps an event (a TTL index deletes older ones).
    #[arg(long, env = "EVENT_LOG_RETENTION_DAYS", default_value_t = defaults::EVENT_LOG_RETENTION_DAYS,
        value_parser = value_parser!(u64).range(1..=3650))]
    pub event_log_retention_days: u64,
}

impl MongoArgs {
    /// MongoDB server selection timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.mongodb_timeout_ms)
    }

    /// How long the event log keeps an event (the range check keeps it within `i64`).
    pub fn event_log_retention(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::days(self.event_log_retention_days.cast_signed())
    }
}

/// Where the AWS SDK sends its requests.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// AWS endpoint override, e.g. http://localhost:4566 for LocalStack or moto.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// AWS region (the SDK's own lookup when unset, else us-east-1).
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,
}

impl AwsArgs {
    /// The SDK options these settings describe.
    pub fn options(&self) -> crate::bus::AwsOptions {
        crate::bus::AwsOptions {
            endpoint_url: self.aws_endpoint_url.clone(),
            region: self.aws_region.clone(),
        }
    }
}

/// The SNS topic events are published to.
#[derive(Debug, Clone, Args)]
pub struct TopicArgs {
    /// SNS topic ARN, where events are published.
    #[arg(long, env = "SNS_TOPIC_ARN")]
    pub sns_topic_arn: Option<String>,
}

/// The worker queue and its dead-letter queue.
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// The worker queue's URL.
    #[arg(long, env = "SQS_QUEUE_URL")]
    pub sqs_queue_url: Option<String>,
    /// The dead-letter queue's URL; found from the worker queue's redrive policy when unset.
    #[arg(long, env = "SQS_DEAD_LETTER_QUEUE_URL")]
    pub sqs_dead_letter_queue_url: Option<String>,
}

/// The outbox relay every API and worker process runs.
#[derive(Debug, Clone, Args)]
pub struct OutboxArgs {
    /// Milliseconds between outbox sweeps (the relay also wakes after every write).
    #[arg(long, env = "OUTBOX_SWEEP_INTERVAL_MS", default_value_t = defaults::OUTBOX_SWEEP_INTERVAL_MS,
        value_parser = value_parser!(u64).range(10..=600_000))]
    pub outbox_sweep_interval_ms: u64,
    /// Seconds a relay's claim on a document's events lasts if it dies before clearing them;
    /// then another relay takes them over.
    #[arg(long, env = "OUTBOX_LEASE_SECONDS", default_value_t = defaults::OUTBOX_LEASE_SECONDS,
        value_parser = value_parser!(u64).range(1..=3600))]
    pub outbox_lease_seconds: u64,
    /// Documents the outbox relay reads per round.
    #[arg(long, env = "OUTBOX_BATCH_SIZE", default_value_t = defaults::OUTBOX_BATCH_SIZE,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub outbox_batch_size: usize,
}

impl OutboxArgs {
    /// The relay's pacing.
    pub fn relay(&self) -> crate::outbox::RelaySettings {
        crate::outbox::RelaySettings {
            sweep_interval: Duration::from_millis(self.outbox_sweep_interval_ms),
            batch_size: self.outbox_batch_size,
            lease: Duration::from_secs(self.outbox_lease_seconds),
            ..crate::outbox::RelaySettings::default()
        }
    }
}
