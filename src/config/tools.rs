//! Settings of the operator commands: `provision`, `dlq`, `admin` and `events`.

use clap::{Args, Subcommand, value_parser};

use super::backends::{AwsArgs, MongoArgs, QueueArgs, TopicArgs};
use crate::defaults;

/// `quickfix provision`: the names and numbers of the topology it creates.
#[derive(Debug, Clone, Args)]
pub struct ProvisionArgs {
    /// SNS topic name.
    #[arg(long, env = "QUICKFIX_TOPIC_NAME", default_value = defaults::TOPIC_NAME)]
    pub topic_name: String,
    /// Worker queue name.
    #[arg(long, env = "QUICKFIX_QUEUE_NAME", default_value = defaults::QUEUE_NAME)]
    pub queue_name: String,
    /// Dead-letter queue name.
    #[arg(long, env = "QUICKFIX_DLQ_NAME", default_value = defaults::DEAD_LETTER_QUEUE_NAME)]
    pub dead_letter_queue_name: String,
    /// Receives before a message moves to the dead-letter queue.
    #[arg(long, env = "QUICKFIX_MAX_RECEIVE_COUNT", default_value_t = defaults::MAX_RECEIVE_COUNT,
        value_parser = value_parser!(u32).range(1..=1000))]
    pub max_receive_count: u32,
    /// Seconds a received message stays hidden.
    #[arg(long, env = "QUICKFIX_VISIBILITY_TIMEOUT_SECONDS",
        default_value_t = defaults::QUEUE_VISIBILITY_TIMEOUT_SECONDS,
        value_parser = value_parser!(u64).range(0..=43_200))]
    pub visibility_timeout_seconds: u64,
    /// Where the topology is created.
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl ProvisionArgs {
    /// The topology these settings describe.
    pub fn spec(&self) -> crate::bus::TopologySpec {
        crate::bus::TopologySpec {
            topic_name: self.topic_name.clone(),
            queue_name: self.queue_name.clone(),
            dead_letter_queue_name: self.dead_letter_queue_name.clone(),
            max_receive_count: self.max_receive_count,
            visibility_timeout: std::time::Duration::from_secs(self.visibility_timeout_seconds),
            ..crate::bus::TopologySpec::default()
        }
    }
}

/// `quickfix dlq`: the worker queue's dead-letter queue.
#[derive(Debug, Clone, Args)]
pub struct DlqArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DlqCommand,
    /// The worker queue (required) and its dead-letter queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// AWS endpoint and region.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Dead-letter queue operations.
#[derive(Debug, Clone, Subcommand)]
pub enum DlqCommand {
    /// Show what is in the dead-letter queue: event type, ticket, reason, receive count.
    List {
        /// Show at most this many messages.
        #[arg(long, default_value_t = defaults::DLQ_LIST_MAX,
            value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
        max: usize,
    },
    /// Move every dead-lettered message back to the worker queue and print how many.
    Redrive,
}

/// `quickfix admin`: account administration on MongoDB.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AdminCommand,
    /// MongoDB (required).
    #[command(flatten)]
    pub mongo: MongoArgs,
}

/// Account administration.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Creates an admin account (the first one, typically). The password comes from
    /// QUICKFIX_ADMIN_PASSWORD or, when that is unset, from the first line of standard input.
    /// Running it again for the same admin succeeds ("already exists").
    Create(AdminCreateArgs),
}

/// `quickfix admin create`.
#[derive(Debug, Clone, Args)]
pub struct AdminCreateArgs {
    /// The admin's sign-in email.
    #[arg(long)]
    pub email: String,
    /// The admin's display name.
    #[arg(long)]
    pub name: String,
    /// Make an existing account with this email an admin instead of refusing.
    #[arg(long)]
    pub promote: bool,
}

/// The environment variable `quickfix admin create` reads the password from (never a flag,
/// which would show in the process list and shell history).
pub const ADMIN_PASSWORD_ENV: &str = "QUICKFIX_ADMIN_PASSWORD";

/// `quickfix events`: the event log on MongoDB.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: EventsCommand,
    /// MongoDB (required).
    #[command(flatten)]
    pub mongo: MongoArgs,
    /// The topic a replay publishes to.
    #[command(flatten)]
    pub topic: TopicArgs,
    /// AWS endpoint and region.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The event log's tools.
#[derive(Debug, Clone, Subcommand)]
pub enum EventsCommand {
    /// Publish logged events again, in log order, each with its own event id and the
    /// `replayed` message attribute: to the topic (every subscriber), to one queue, or to
    /// standard output. Needs --since, --ticket or --correlation-id.
    Replay(ReplayArgs),
    /// Write logged events to standard output as JSON lines (default window: the last 24 hours).
    Export(EventFilterArgs),
    /// Write new events to standard output as JSON lines as they are logged, until stopped.
    Tail(TailArgs),
}

/// Which logged events a command reads.
#[derive(Debug, Clone, Default, Args)]
pub struct EventFilterArgs {
    /// Window start, RFC 3339 (inclusive).
    #[arg(long)]
    pub since: Option<String>,
    /// Window end, RFC 3339 (exclusive; default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Event types, comma-separated or repeated (default: all).
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// A ticket id or COMP-number.
    #[arg(long)]
    pub ticket: Option<String>,
    /// A user id, or `system`.
    #[arg(long)]
    pub actor: Option<String>,
    /// The correlation id of a request or run.
    #[arg(long)]
    pub correlation_id: Option<String>,
    /// Start after this position (what a stopped replay prints).
    #[arg(long)]
    pub after: Option<String>,
}

/// `quickfix events replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Which events.
    #[command(flatten)]
    pub filter: EventFilterArgs,
    /// Where: `topic` (SNS_TOPIC_ARN), `stdout`, or a queue URL.
    #[arg(long, default_value = "topic")]
    pub target: String,
    /// At most this many events per second.
    #[arg(long, value_parser = value_parser!(u32).range(1..=100_000))]
    pub rate: Option<u32>,
    /// Only count what would be replayed.
    #[arg(long)]
    pub dry_run: bool,
}

/// `quickfix events tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Which events (from --since, else from now).
    #[command(flatten)]
    pub filter: EventFilterArgs,
    /// Milliseconds between polls of the log.
    #[arg(long, default_value_t = defaults::TAIL_POLL_MS, value_parser = value_parser!(u64).range(100..=60_000))]
    pub poll_ms: u64,
}
