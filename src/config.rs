//! Typed configuration, read once at start from flags and the environment (`.env.example`
//! lists every setting). The doc comments are the `--help` text.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

/// QuickFix: helpdesk tickets routed to agents through events.
#[derive(Debug, Parser)]
#[command(name = "quickfix", version, about, long_about = None)]
pub struct Cli {
    /// What to run; `dev` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything in one process on embedded backends, with demo accounts (the default).
    Dev,
    /// The API server, on MongoDB (`MONGODB_URI`) and SNS (`SNS_TOPIC_ARN`) when configured.
    Api,
    /// The worker: consumes `SQS_QUEUE_URL`, routes tickets, writes notifications.
    Worker,
    /// Create the SNS/SQS topology on `AWS_ENDPOINT_URL` (LocalStack, moto) and print the
    /// settings to put in `.env`.
    Provision(ProvisionArgs),
    /// Inspect or empty the worker queue's dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

/// Dead-letter queue operations.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Show what is in the dead-letter queue: event type, ticket, reason, receive count.
    List {
        /// Show at most this many messages.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
    /// Move every dead-lettered message back to the worker queue and print how many.
    Redrive,
}

/// Worker settings (also used by `dev`, which runs a worker in-process).
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Messages handled at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 10, global = true)]
    pub concurrency: usize,
    /// Seconds a receive long-polls (0 to 20).
    #[arg(long, env = "WORKER_WAIT_SECONDS", default_value_t = 20, global = true)]
    pub wait_seconds: u64,
    /// The queue's visibility timeout in seconds; running handlers renew it.
    #[arg(
        long,
        env = "WORKER_VISIBILITY_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub visibility_timeout_seconds: u64,
    /// Seconds before the first retry of a failed message; doubles with each receive.
    #[arg(
        long,
        env = "WORKER_BACKOFF_SECONDS",
        default_value_t = 2,
        global = true
    )]
    pub backoff_seconds: u64,
    /// Seconds between sweeps (stale slots, backlog).
    #[arg(
        long,
        env = "WORKER_SWEEP_INTERVAL_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub sweep_interval_seconds: u64,
    /// Seconds a slot may be held for a ticket the agent does not have before a sweep frees it.
    #[arg(
        long,
        env = "WORKER_HOLD_GRACE_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub hold_grace_seconds: u64,
    /// Seconds to finish in-flight messages after SIGTERM before exiting anyway.
    #[arg(
        long,
        env = "WORKER_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_grace_seconds: u64,
    /// Prioritisation rules: `keyword:Priority` pairs, comma-separated.
    #[arg(
        long,
        env = "QUICKFIX_PRIORITY_RULES",
        default_value = "outage:Critical,down:Critical,urgent:High",
        global = true
    )]
    pub priority_rules: String,
    /// Address of the worker's `/metrics` and `/healthz` (the standalone worker only).
    #[arg(
        long,
        env = "WORKER_METRICS_ADDR",
        default_value = "127.0.0.1:9091",
        global = true
    )]
    pub metrics_addr: std::net::SocketAddr,
    /// Seconds between escalation scans (SLA warnings, breaches, escalation rules).
    #[arg(
        long,
        env = "WORKER_ESCALATION_INTERVAL_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub escalation_interval_seconds: u64,
    /// Requeue an agent's not-yet-started tickets when the agent goes offline.
    #[arg(long, env = "QUICKFIX_REQUEUE_ON_OFFLINE", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub requeue_on_offline: bool,
}

/// Names and numbers of the topology `provision` creates.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// SNS topic name.
    #[arg(long, env = "QUICKFIX_TOPIC_NAME", default_value = "quickfix-events")]
    pub topic_name: String,
    /// Worker queue name.
    #[arg(long, env = "QUICKFIX_QUEUE_NAME", default_value = "quickfix-worker")]
    pub queue_name: String,
    /// Dead-letter queue name.
    #[arg(long, env = "QUICKFIX_DLQ_NAME", default_value = "quickfix-worker-dlq")]
    pub dead_letter_queue_name: String,
    /// Receives before a message moves to the dead-letter queue.
    #[arg(long, env = "QUICKFIX_MAX_RECEIVE_COUNT", default_value_t = 5)]
    pub max_receive_count: u32,
    /// Seconds a received message stays hidden.
    #[arg(
        long,
        env = "QUICKFIX_VISIBILITY_TIMEOUT_SECONDS",
        default_value_t = 30
    )]
    pub visibility_timeout_seconds: u64,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable in a terminal, JSON otherwise.
    Auto,
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Settings shared by every command.
#[derive(Debug, Args)]
pub struct Settings {
    /// Address the API listens on.
    #[arg(
        long,
        env = "QUICKFIX_ADDR",
        default_value = "127.0.0.1:5001",
        global = true
    )]
    pub addr: SocketAddr,
    /// MongoDB connection string; selects the MongoDB store (memory otherwise).
    #[arg(long, env = "MONGODB_URI", global = true, hide_env_values = true)]
    pub mongodb_uri: Option<SecretString>,
    /// MongoDB database name.
    #[arg(
        long,
        env = "MONGODB_DATABASE",
        default_value = "quickfix",
        global = true
    )]
    pub mongodb_database: String,
    /// Milliseconds to wait for MongoDB before answering 503.
    #[arg(
        long,
        env = "MONGODB_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub mongodb_timeout_ms: u64,
    /// SNS topic ARN; selects the SNS publisher (in-process topic otherwise).
    #[arg(long, env = "SNS_TOPIC_ARN", global = true)]
    pub sns_topic_arn: Option<String>,
    /// The worker queue's URL (worker and `dlq`).
    #[arg(long, env = "SQS_QUEUE_URL", global = true)]
    pub sqs_queue_url: Option<String>,
    /// The dead-letter queue's URL; found from the worker queue's redrive policy when unset.
    #[arg(long, env = "SQS_DEAD_LETTER_QUEUE_URL", global = true)]
    pub sqs_dead_letter_queue_url: Option<String>,
    /// AWS endpoint override, e.g. http://localhost:4566 for LocalStack or moto.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub aws_endpoint_url: Option<String>,
    /// AWS region (the SDK's own lookup when unset, else us-east-1).
    #[arg(long, env = "AWS_REGION", global = true)]
    pub aws_region: Option<String>,
    /// Secret that signs bearer tokens (HS256). Required by `api`; `dev` makes a random one.
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
    /// Seconds a bearer token stays valid.
    #[arg(long, env = "JWT_TTL_SECONDS", default_value_t = 28_800, global = true)]
    pub jwt_ttl_seconds: u64,
    /// Ticket categories, comma-separated (agents' skills use the same names).
    #[arg(
        long,
        env = "QUICKFIX_CATEGORIES",
        default_value = "Technical,Billing,Account,General",
        value_delimiter = ',',
        global = true
    )]
    pub categories: Vec<String>,
    /// SLA policy file (TOML: targets, warning fraction, business hours, escalation rules; see
    /// `config/sla.example.toml`); built-in defaults when unset.
    #[arg(long, env = "QUICKFIX_SLA_FILE", global = true)]
    pub sla_file: Option<std::path::PathBuf>,
    /// Largest request body in bytes (413 beyond).
    #[arg(
        long,
        env = "QUICKFIX_BODY_LIMIT_BYTES",
        default_value_t = 65_536,
        global = true
    )]
    pub body_limit_bytes: usize,
    /// Milliseconds between outbox sweeps (the relay also wakes after every write).
    #[arg(
        long,
        env = "OUTBOX_SWEEP_INTERVAL_MS",
        default_value_t = 2000,
        global = true
    )]
    pub outbox_sweep_interval_ms: u64,
    /// Documents the outbox relay reads per round.
    #[arg(long, env = "OUTBOX_BATCH_SIZE", default_value_t = 100, global = true)]
    pub outbox_batch_size: usize,
    /// Password of the demo accounts `dev` creates.
    #[arg(
        long,
        env = "QUICKFIX_DEMO_PASSWORD",
        default_value = "quickfix",
        global = true,
        hide_env_values = true
    )]
    pub demo_password: SecretString,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub log_format: LogFormat,
    /// Worker settings.
    #[command(flatten)]
    pub worker: WorkerArgs,
}

impl WorkerArgs {
    /// The consumer's settings.
    pub fn consumer(&self) -> crate::worker::ConsumerSettings {
        crate::worker::ConsumerSettings {
            batch_size: 10,
            wait: Duration::from_secs(self.wait_seconds.min(20)),
            concurrency: self.concurrency.max(1),
            visibility_timeout: Duration::from_secs(self.visibility_timeout_seconds.max(1)),
            backoff_base: Duration::from_secs(self.backoff_seconds),
            backoff_max: Duration::from_secs(300),
        }
    }

    /// Time between escalation scans.
    pub fn escalation_interval(&self) -> Duration {
        Duration::from_secs(self.escalation_interval_seconds.max(1))
    }
}

impl Settings {
    /// Outbox sweep interval.
    pub fn outbox_sweep_interval(&self) -> Duration {
        Duration::from_millis(self.outbox_sweep_interval_ms)
    }

    /// MongoDB server selection timeout.
    pub fn mongodb_timeout(&self) -> Duration {
        Duration::from_millis(self.mongodb_timeout_ms)
    }

    /// Token lifetime.
    pub fn jwt_ttl(&self) -> Duration {
        Duration::from_secs(self.jwt_ttl_seconds)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every setting's environment variable, over all commands.
    fn env_names() -> Vec<String> {
        let cli = Cli::command();
        let mut names: Vec<String> = cli
            .get_arguments()
            .chain(cli.get_subcommands().flat_map(|s| s.get_arguments()))
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn env_example_lists_every_setting() {
        let example = include_str!("../.env.example");
        let names = env_names();
        assert!(names.len() > 15, "{names:?}");
        for name in names {
            assert!(
                example.contains(&format!("{name}=")),
                ".env.example does not mention {name}"
            );
        }
    }

    #[test]
    fn defaults_parse_without_any_environment() {
        let cli = Cli::try_parse_from(["quickfix"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.settings.addr.port(), 5001);
        assert_eq!(cli.settings.categories.len(), 4);
        let cli =
            Cli::try_parse_from(["quickfix", "provision", "--max-receive-count", "3"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Provision(ProvisionArgs {
                max_receive_count: 3,
                ..
            }))
        ));
    }
}
