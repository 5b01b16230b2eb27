//! Settings of `quickfix worker` (and of the worker `dev` runs in-process).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use clap::builder::RangedU64ValueParser;
use clap::value_parser;

use super::api::SlaArgs;
use super::backends::{AwsArgs, MongoArgs, OutboxArgs, QueueArgs, TopicArgs};
use crate::defaults;

/// `quickfix worker`: the consumer on MongoDB and SQS, publishing follow-up events to SNS.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// How the worker works.
    #[command(flatten)]
    pub tuning: WorkerTuning,
    /// Address of the worker's `/metrics` and `/healthz`.
    #[arg(long, env = "WORKER_METRICS_ADDR", default_value = defaults::WORKER_METRICS_ADDR)]
    pub metrics_addr: SocketAddr,
    /// Seconds to finish in-flight messages after SIGTERM before exiting anyway.
    #[arg(long, env = "WORKER_SHUTDOWN_GRACE_SECONDS", default_value_t = defaults::WORKER_SHUTDOWN_GRACE_SECONDS,
        value_parser = value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,
    /// The SLA policy.
    #[command(flatten)]
    pub sla: SlaArgs,
    /// The worker queue (required) and its dead-letter queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// The topic follow-up events go to (required).
    #[command(flatten)]
    pub topic: TopicArgs,
    /// MongoDB (required).
    #[command(flatten)]
    pub mongo: MongoArgs,
    /// AWS endpoint and region.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The outbox relay for the follow-up events.
    #[command(flatten)]
    pub outbox: OutboxArgs,
}

/// How a worker consumes, sweeps and escalates, wherever it runs.
#[derive(Debug, Clone, Args)]
pub struct WorkerTuning {
    /// Messages handled at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = defaults::WORKER_CONCURRENCY,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub concurrency: usize,
    /// Seconds a receive long-polls (0 to 20).
    #[arg(long, env = "WORKER_WAIT_SECONDS", default_value_t = defaults::WORKER_WAIT_SECONDS,
        value_parser = value_parser!(u64).range(0..=20))]
    pub wait_seconds: u64,
    /// The queue's visibility timeout in seconds; running handlers renew it.
    #[arg(long, env = "WORKER_VISIBILITY_TIMEOUT_SECONDS",
        default_value_t = defaults::WORKER_VISIBILITY_TIMEOUT_SECONDS,
        value_parser = value_parser!(u64).range(1..=43_200))]
    pub visibility_timeout_seconds: u64,
    /// Seconds before the first retry of a failed message; doubles with each receive.
    #[arg(long, env = "WORKER_BACKOFF_SECONDS", default_value_t = defaults::WORKER_BACKOFF_SECONDS,
        value_parser = value_parser!(u64).range(0..=300))]
    pub backoff_seconds: u64,
    /// Seconds between sweeps (stale slots, backlog).
    #[arg(long, env = "WORKER_SWEEP_INTERVAL_SECONDS", default_value_t = defaults::WORKER_SWEEP_INTERVAL_SECONDS,
        value_parser = value_parser!(u64).range(1..=3600))]
    pub sweep_interval_seconds: u64,
    /// Seconds a slot may be held for a ticket the agent does not have before a sweep frees it.
    #[arg(long, env = "WORKER_HOLD_GRACE_SECONDS", default_value_t = defaults::WORKER_HOLD_GRACE_SECONDS,
        value_parser = value_parser!(u64).range(0..=86_400))]
    pub hold_grace_seconds: u64,
    /// Seconds between escalation scans (SLA warnings, breaches, escalation rules).
    #[arg(long, env = "WORKER_ESCALATION_INTERVAL_SECONDS",
        default_value_t = defaults::WORKER_ESCALATION_INTERVAL_SECONDS,
        value_parser = value_parser!(u64).range(1..=3600))]
    pub escalation_interval_seconds: u64,
    /// Prioritisation rules: `keyword:Priority` pairs, comma-separated.
    #[arg(long, env = "QUICKFIX_PRIORITY_RULES", default_value = defaults::PRIORITY_RULES)]
    pub priority_rules: String,
    /// Requeue an agent's not-yet-started tickets when the agent goes offline.
    #[arg(long, env = "QUICKFIX_REQUEUE_ON_OFFLINE", default_value_t = defaults::REQUEUE_ON_OFFLINE,
        action = clap::ArgAction::Set)]
    pub requeue_on_offline: bool,
}

impl WorkerTuning {
    /// The consumer's settings (every value was range-checked when parsed).
    pub fn consumer(&self) -> crate::worker::ConsumerSettings {
        crate::worker::ConsumerSettings {
            wait: Duration::from_secs(self.wait_seconds),
            concurrency: self.concurrency,
            visibility_timeout: Duration::from_secs(self.visibility_timeout_seconds),
            backoff_base: Duration::from_secs(self.backoff_seconds),
            ..crate::worker::ConsumerSettings::default()
        }
    }

    /// Time between escalation scans.
    pub fn escalation_interval(&self) -> Duration {
        Duration::from_secs(self.escalation_interval_seconds)
    }

    /// Time between sweeps.
    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_seconds)
    }

    /// How long a slot may be held for a ticket the agent does not have.
    pub fn hold_grace(&self) -> Duration {
        Duration::from_secs(self.hold_grace_seconds)
    }
}
