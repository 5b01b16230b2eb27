//! Typed configuration, read once at start from flags and the environment (`.env.example`
//! lists every setting). The doc comments are the `--help` text.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum, value_parser};
use secrecy::{ExposeSecret, SecretString};

use crate::api::{ApiLimits, RateLimit};
use crate::domain::Priority;

/// The `JWT_SECRET` value `.env.example` shows; refused, since everyone can read it.
pub const EXAMPLE_JWT_SECRET: &str = "change-me-to-a-long-random-string";
/// Default of `QUICKFIX_AUTH_CACHE_SECONDS`.
pub const DEFAULT_AUTH_CACHE_SECONDS: u64 = 5;
/// Default of `QUICKFIX_SESSION_CHECK_SECONDS`.
pub const DEFAULT_SESSION_CHECK_SECONDS: u64 = 5;
/// Default of `QUICKFIX_HASH_WAIT_MS`.
pub const DEFAULT_HASH_WAIT_MS: u64 = 500;
/// Default of `QUICKFIX_CUSTOMER_MAX_PRIORITY`.
pub const DEFAULT_CUSTOMER_MAX_PRIORITY: Priority = Priority::High;
/// The shortest `JWT_SECRET` accepted, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// A setting that makes a production command unsafe to start; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct UnsafeSetting {
    /// The environment variable (or flag) at fault.
    pub setting: &'static str,
    /// What is wrong and what to do.
    pub problem: String,
}

impl UnsafeSetting {
    fn new(setting: &'static str, problem: impl Into<String>) -> Self {
        Self {
            setting,
            problem: problem.into(),
        }
    }
}

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
    /// Account administration on the configured store (MONGODB_URI).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Replay, export or follow the event log (MONGODB_URI).
    #[command(subcommand)]
    Events(EventsCommand),
}

impl Command {
    /// The service name its traces carry (unless `OTEL_SERVICE_NAME` names another).
    pub fn service_name(&self) -> &'static str {
        match self {
            Self::Dev => "quickfix-dev",
            Self::Api => "quickfix-api",
            Self::Worker => "quickfix-worker",
            Self::Provision(_) => "quickfix-provision",
            Self::Dlq(_) => "quickfix-dlq",
            Self::Admin(_) => "quickfix-admin",
            Self::Events(_) => "quickfix-events",
        }
    }
}

/// Account administration.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates an admin account (the first one, typically). The password comes from
    /// QUICKFIX_ADMIN_PASSWORD or, when that is unset, from the first line of standard input.
    /// Running it again for the same admin succeeds ("already exists").
    Create(AdminCreateArgs),
}

/// The event log's tools.
#[derive(Debug, Subcommand)]
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
    #[arg(long, default_value_t = 1000, value_parser = value_parser!(u64).range(100..=60_000))]
    pub poll_ms: u64,
}

/// `quickfix admin create`.
#[derive(Debug, Args)]
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

/// Which store `api` runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// MongoDB at MONGODB_URI.
    Mongodb,
    /// In memory, lost at exit.
    Memory,
}

/// Which bus `api` publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BusKind {
    /// The SNS topic SNS_TOPIC_ARN.
    Sns,
    /// An in-process topic that nothing outside this process reads.
    Memory,
}

/// The API's abuse limits (`.env.example` has the defaults a deployment can keep).
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Requests per second per client address, on average, over the whole API.
    #[arg(long, env = "QUICKFIX_RATE_LIMIT_PER_SECOND", default_value_t = 50, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_per_second: u32,
    /// Requests per client address allowed back to back over the whole API.
    #[arg(long, env = "QUICKFIX_RATE_LIMIT_BURST", default_value_t = 100, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: u32,
    /// Sign-ins and registrations per minute per client address, on average.
    #[arg(long, env = "QUICKFIX_SIGN_IN_PER_MINUTE", default_value_t = 20, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub sign_in_per_minute: u32,
    /// Sign-ins and registrations per client address allowed back to back.
    #[arg(long, env = "QUICKFIX_SIGN_IN_BURST", default_value_t = 10, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub sign_in_burst: u32,
    /// Failed sign-ins an account may have back to back before its sign-ins are slowed down.
    #[arg(long, env = "QUICKFIX_ACCOUNT_FAILURES_BURST", default_value_t = 5, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub account_failures_burst: u32,
    /// After that, failed sign-ins allowed per minute on one account.
    #[arg(long, env = "QUICKFIX_ACCOUNT_FAILURES_PER_MINUTE", default_value_t = 1, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub account_failures_per_minute: u32,
    /// Socket.IO connection attempts per minute per client address, on average.
    #[arg(long, env = "QUICKFIX_SOCKET_CONNECTS_PER_MINUTE", default_value_t = 60, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub socket_connects_per_minute: u32,
    /// Socket.IO connection attempts per client address allowed back to back.
    #[arg(long, env = "QUICKFIX_SOCKET_CONNECTS_BURST", default_value_t = 20, global = true,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub socket_connects_burst: u32,
    /// Seconds a request may run before it is answered with 503.
    #[arg(long, env = "QUICKFIX_REQUEST_TIMEOUT_SECONDS", default_value_t = 15, global = true,
        value_parser = value_parser!(u64).range(1..=300))]
    pub request_timeout_seconds: u64,
    /// Requests handled at once; more are refused with 503 rather than queued.
    #[arg(long, env = "QUICKFIX_MAX_IN_FLIGHT", default_value_t = 512, global = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub max_in_flight: usize,
    /// Password hashes computed at once (argon2id, 19 MiB each); the number of CPUs when unset.
    #[arg(long, env = "QUICKFIX_HASH_CONCURRENCY", global = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub hash_concurrency: Option<usize>,
    /// Milliseconds a sign-in waits for a hashing slot before it is answered with 503.
    #[arg(long, env = "QUICKFIX_HASH_WAIT_MS", default_value_t = DEFAULT_HASH_WAIT_MS, global = true,
        value_parser = value_parser!(u64).range(1..=30_000))]
    pub hash_wait_ms: u64,
    /// Header whose right-most address is the client's, set by a trusted load balancer
    /// (`x-forwarded-for` behind an AWS ALB). Unset: the TCP peer address. Never set it when
    /// clients reach the API directly: they could then choose their own address.
    #[arg(long, env = "QUICKFIX_TRUSTED_PROXY_HEADER", global = true,
        value_parser = parse_header_name)]
    pub trusted_proxy_header: Option<HeaderName>,
    /// Origins allowed to call the API from browser pages elsewhere (comma-separated, e.g.
    /// `https://support.example.com`). CORS is off when empty.
    #[arg(long, env = "QUICKFIX_CORS_ORIGINS", value_delimiter = ',', global = true,
        value_parser = parse_origin)]
    pub cors_origins: Vec<HeaderValue>,
    /// The highest priority a customer may give their own ticket; higher ones come from the
    /// prioritisation rules or staff.
    #[arg(long, env = "QUICKFIX_CUSTOMER_MAX_PRIORITY", default_value_t = DEFAULT_CUSTOMER_MAX_PRIORITY, global = true,
        value_parser = parse_priority)]
    pub customer_max_priority: Priority,
    /// Hours the first answer to a request with an `Idempotency-Key` is kept and replayed.
    #[arg(long, env = "QUICKFIX_IDEMPOTENCY_HOURS", default_value_t = 24, global = true,
        value_parser = value_parser!(u64).range(1..=720))]
    pub idempotency_hours: u64,
    /// Serve the API's `/metrics` on this address only (not on the public listener).
    #[arg(
        long = "api-metrics-addr",
        env = "QUICKFIX_METRICS_ADDR",
        global = true
    )]
    pub api_metrics_addr: Option<SocketAddr>,
}

fn parse_header_name(raw: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(raw.trim().as_bytes())
        .map_err(|_| format!("{raw:?} is not a header name"))
}

fn parse_origin(raw: &str) -> Result<HeaderValue, String> {
    let raw = raw.trim();
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && !raw.ends_with('/')
        && raw
            .split("://")
            .nth(1)
            .is_some_and(|host| !host.is_empty() && !host.contains('/'));
    if !ok {
        return Err(format!(
            "{raw:?} is not an origin like https://support.example.com"
        ));
    }
    HeaderValue::from_str(raw).map_err(|_| format!("{raw:?} is not an origin"))
}

fn parse_priority(raw: &str) -> Result<Priority, String> {
    Priority::parse_field("priority", raw).map_err(|e| e.message)
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
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 10, global = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub concurrency: usize,
    /// Seconds a receive long-polls (0 to 20).
    #[arg(long, env = "WORKER_WAIT_SECONDS", default_value_t = 20, global = true,
        value_parser = value_parser!(u64).range(0..=20))]
    pub wait_seconds: u64,
    /// The queue's visibility timeout in seconds; running handlers renew it.
    #[arg(
        long,
        env = "WORKER_VISIBILITY_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true,
        value_parser = value_parser!(u64).range(1..=43_200)
    )]
    pub visibility_timeout_seconds: u64,
    /// Seconds before the first retry of a failed message; doubles with each receive.
    #[arg(
        long,
        env = "WORKER_BACKOFF_SECONDS",
        default_value_t = 2,
        global = true,
        value_parser = value_parser!(u64).range(0..=300)
    )]
    pub backoff_seconds: u64,
    /// Seconds between sweeps (stale slots, backlog).
    #[arg(
        long,
        env = "WORKER_SWEEP_INTERVAL_SECONDS",
        default_value_t = 30,
        global = true,
        value_parser = value_parser!(u64).range(1..=3600)
    )]
    pub sweep_interval_seconds: u64,
    /// Seconds a slot may be held for a ticket the agent does not have before a sweep frees it.
    #[arg(
        long,
        env = "WORKER_HOLD_GRACE_SECONDS",
        default_value_t = 60,
        global = true,
        value_parser = value_parser!(u64).range(0..=86_400)
    )]
    pub hold_grace_seconds: u64,
    /// Seconds to finish in-flight messages after SIGTERM before exiting anyway.
    #[arg(
        long,
        env = "WORKER_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        global = true,
        value_parser = value_parser!(u64).range(0..=3600)
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
        global = true,
        value_parser = value_parser!(u64).range(1..=3600)
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
    #[arg(long, env = "QUICKFIX_MAX_RECEIVE_COUNT", default_value_t = 5,
        value_parser = value_parser!(u32).range(1..=1000))]
    pub max_receive_count: u32,
    /// Seconds a received message stays hidden.
    #[arg(
        long,
        env = "QUICKFIX_VISIBILITY_TIMEOUT_SECONDS",
        default_value_t = 30,
        value_parser = value_parser!(u64).range(0..=43_200)
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
    /// MongoDB connection string; selects the MongoDB store.
    #[arg(long, env = "MONGODB_URI", global = true, hide_env_values = true)]
    pub mongodb_uri: Option<SecretString>,
    /// The store `api` uses: `mongodb` (needs MONGODB_URI) or `memory` (lost at exit; an
    /// explicit choice). When unset, `api` uses MongoDB and refuses to start without
    /// MONGODB_URI.
    #[arg(long, env = "QUICKFIX_STORE", value_enum, global = true)]
    pub store: Option<StoreKind>,
    /// The bus `api` publishes to: `sns` (needs SNS_TOPIC_ARN) or `memory` (an in-process topic
    /// nobody else reads; an explicit choice). When unset, `api` uses SNS and refuses to start
    /// without SNS_TOPIC_ARN.
    #[arg(long, env = "QUICKFIX_BUS", value_enum, global = true)]
    pub bus: Option<BusKind>,
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
        global = true,
        value_parser = value_parser!(u64).range(100..=120_000)
    )]
    pub mongodb_timeout_ms: u64,
    /// SNS topic ARN, where events are published.
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
    /// Secret that signs bearer tokens (HS256): at least 32 random bytes. Required by `api`;
    /// `dev` makes a random one.
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
    /// Seconds a bearer token stays valid.
    #[arg(long, env = "JWT_TTL_SECONDS", default_value_t = 28_800, global = true,
        value_parser = value_parser!(u64).range(60..=604_800))]
    pub jwt_ttl_seconds: u64,
    /// The `iss` claim tokens carry; tokens from another issuer are refused.
    #[arg(long, env = "JWT_ISSUER", default_value = crate::auth::DEFAULT_ISSUER, global = true)]
    pub jwt_issuer: String,
    /// The `aud` claim tokens carry; tokens for another audience are refused.
    #[arg(long, env = "JWT_AUDIENCE", default_value = crate::auth::DEFAULT_AUDIENCE, global = true)]
    pub jwt_audience: String,
    /// Seconds an account's role and state are cached per API process (0 to 30): a demoted or
    /// disabled user loses access on other processes within this time (at once on the one
    /// that made the change).
    #[arg(long, env = "QUICKFIX_AUTH_CACHE_SECONDS", default_value_t = DEFAULT_AUTH_CACHE_SECONDS, global = true,
        value_parser = value_parser!(u64).range(0..=30))]
    pub auth_cache_seconds: u64,
    /// Seconds between checks that close live sockets whose session has ended.
    #[arg(long, env = "QUICKFIX_SESSION_CHECK_SECONDS", default_value_t = DEFAULT_SESSION_CHECK_SECONDS, global = true,
        value_parser = value_parser!(u64).range(1..=300))]
    pub session_check_seconds: u64,
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
        global = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1024..=16_777_216)
    )]
    pub body_limit_bytes: usize,
    /// Abuse limits of the API.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Milliseconds between outbox sweeps (the relay also wakes after every write).
    #[arg(
        long,
        env = "OUTBOX_SWEEP_INTERVAL_MS",
        default_value_t = 2000,
        global = true,
        value_parser = value_parser!(u64).range(10..=600_000)
    )]
    pub outbox_sweep_interval_ms: u64,
    /// Seconds a relay's claim on a document's events lasts if it dies before clearing them;
    /// then another relay takes them over.
    #[arg(long, env = "OUTBOX_LEASE_SECONDS", default_value_t = 30, global = true,
        value_parser = value_parser!(u64).range(1..=3600))]
    pub outbox_lease_seconds: u64,
    /// Days the event log keeps an event (a TTL index deletes older ones).
    #[arg(long, env = "EVENT_LOG_RETENTION_DAYS", default_value_t = 90, global = true,
        value_parser = value_parser!(u64).range(1..=3650))]
    pub event_log_retention_days: u64,
    /// Documents the outbox relay reads per round.
    #[arg(long, env = "OUTBOX_BATCH_SIZE", default_value_t = 100, global = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
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

/// Parses the command line and environment into `T`, or exits with clap's message. A refused
/// value also names its environment variable, since deployments mostly set values there.
pub fn parse_or_exit<T: Parser>() -> T {
    use clap::error::{ContextKind, ContextValue};
    let err = match T::try_parse() {
        Ok(parsed) => return parsed,
        Err(err) => err,
    };
    let long = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg
            .strip_prefix("--")
            .and_then(|a| a.split([' ', '=']).next())
            .map(str::to_owned),
        _ => None,
    };
    let env = long.and_then(|long| env_of(&<T as clap::CommandFactory>::command(), &long));
    match env {
        Some(env) => {
            eprintln!("{}", err.render().to_string().trim_end());
            eprintln!("       (this setting is the flag or the environment variable {env})");
            std::process::exit(2);
        }
        None => err.exit(),
    }
}

/// The environment variable of the flag `--long`, in `cmd` or any subcommand.
fn env_of(cmd: &clap::Command, long: &str) -> Option<String> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .or_else(|| cmd.get_subcommands().find_map(|sub| env_of(sub, long)))
}

impl WorkerArgs {
    /// The consumer's settings (every value was range-checked when parsed).
    pub fn consumer(&self) -> crate::worker::ConsumerSettings {
        crate::worker::ConsumerSettings {
            batch_size: 10,
            wait: Duration::from_secs(self.wait_seconds),
            concurrency: self.concurrency,
            visibility_timeout: Duration::from_secs(self.visibility_timeout_seconds),
            backoff_base: Duration::from_secs(self.backoff_seconds),
            backoff_max: Duration::from_secs(300),
        }
    }

    /// Time between escalation scans.
    pub fn escalation_interval(&self) -> Duration {
        Duration::from_secs(self.escalation_interval_seconds)
    }
}

impl LimitArgs {
    /// The API limits these settings describe.
    pub fn api_limits(&self, body_bytes: usize) -> ApiLimits {
        ApiLimits {
            body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_seconds),
            max_in_flight: self.max_in_flight,
            per_client: RateLimit::per_second(self.rate_limit_per_second, self.rate_limit_burst),
            sign_in_per_client: RateLimit::per_minute(self.sign_in_per_minute, self.sign_in_burst),
            failed_sign_ins_per_account: RateLimit::per_minute(
                self.account_failures_per_minute,
                self.account_failures_burst,
            ),
            socket_connects_per_client: RateLimit::per_minute(
                self.socket_connects_per_minute,
                self.socket_connects_burst,
            ),
            trusted_proxy_header: self.trusted_proxy_header.clone(),
            cors_origins: self.cors_origins.clone(),
            idempotency_window: Duration::from_secs(self.idempotency_hours * 3600),
        }
    }

    /// Password hashing: the configured number of slots (else one per CPU) and wait.
    pub fn password_work(&self) -> crate::auth::PasswordWork {
        crate::auth::PasswordWork::new(
            self.hash_concurrency
                .unwrap_or_else(crate::auth::default_concurrency),
            Duration::from_millis(self.hash_wait_ms),
        )
    }
}

impl Settings {
    /// The token secret, refused when missing, shorter than [`MIN_JWT_SECRET_BYTES`], or the
    /// `.env.example` placeholder (anyone who read it could mint tokens).
    ///
    /// # Errors
    /// [`UnsafeSetting`] naming `JWT_SECRET`.
    pub fn checked_jwt_secret(&self) -> Result<SecretString, UnsafeSetting> {
        let secret = self.jwt_secret.clone().ok_or_else(|| {
            UnsafeSetting::new(
                "JWT_SECRET",
                "is required: it signs bearer tokens (e.g. `openssl rand -base64 48`)",
            )
        })?;
        let value = secret.expose_secret();
        if value == EXAMPLE_JWT_SECRET {
            return Err(UnsafeSetting::new(
                "JWT_SECRET",
                "is the example value from .env.example, which anyone can read; set a random one",
            ));
        }
        if value.len() < MIN_JWT_SECRET_BYTES {
            return Err(UnsafeSetting::new(
                "JWT_SECRET",
                format!(
                    "is {} bytes; at least {MIN_JWT_SECRET_BYTES} random bytes are required",
                    value.len()
                ),
            ));
        }
        Ok(secret)
    }

    /// The store `api` runs on: MongoDB at `MONGODB_URI` unless memory was chosen explicitly.
    ///
    /// # Errors
    /// [`UnsafeSetting`] naming `MONGODB_URI` when it is missing without `--store memory`.
    pub fn api_store(&self) -> Result<StoreKind, UnsafeSetting> {
        match (self.store, &self.mongodb_uri) {
            (Some(StoreKind::Memory), _) => Ok(StoreKind::Memory),
            (_, Some(_)) => Ok(StoreKind::Mongodb),
            (Some(StoreKind::Mongodb), None) => Err(UnsafeSetting::new(
                "MONGODB_URI",
                "is required with --store mongodb",
            )),
            (None, None) => Err(UnsafeSetting::new(
                "MONGODB_URI",
                "is not set: set it, or pass --store memory (QUICKFIX_STORE=memory) to keep \
                 tickets in memory, lost at exit",
            )),
        }
    }

    /// The bus `api` publishes to: SNS at `SNS_TOPIC_ARN` unless memory was chosen explicitly.
    ///
    /// # Errors
    /// [`UnsafeSetting`] naming `SNS_TOPIC_ARN` when it is missing without `--bus memory`.
    pub fn api_bus(&self) -> Result<BusKind, UnsafeSetting> {
        match (self.bus, &self.sns_topic_arn) {
            (Some(BusKind::Memory), _) => Ok(BusKind::Memory),
            (_, Some(_)) => Ok(BusKind::Sns),
            (Some(BusKind::Sns), None) => Err(UnsafeSetting::new(
                "SNS_TOPIC_ARN",
                "is required with --bus sns",
            )),
            (None, None) => Err(UnsafeSetting::new(
                "SNS_TOPIC_ARN",
                "is not set: set it, or pass --bus memory (QUICKFIX_BUS=memory) for an \
                 in-process topic that no worker reads",
            )),
        }
    }

    /// Outbox sweep interval.
    pub fn outbox_sweep_interval(&self) -> Duration {
        Duration::from_millis(self.outbox_sweep_interval_ms)
    }

    /// MongoDB server selection timeout.
    pub fn mongodb_timeout(&self) -> Duration {
        Duration::from_millis(self.mongodb_timeout_ms)
    }

    /// How long the event log keeps an event.
    pub fn event_log_retention(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::days(i64::try_from(self.event_log_retention_days).unwrap_or(3650))
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
