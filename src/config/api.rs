//! Settings of the commands that serve the API: `api` and `dev`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum, value_parser};
use secrecy::{ExposeSecret, SecretString};

use super::backends::{AwsArgs, MongoArgs, OutboxArgs, TopicArgs};
use super::limits::LimitArgs;
use super::worker::WorkerTuning;
use super::{EXAMPLE_JWT_SECRET, MIN_JWT_SECRET_BYTES, UnsafeSetting};
use crate::defaults;
use crate::domain::Priority;

/// `quickfix api`: the API on MongoDB and SNS.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// What every API process serves.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// The store `api` uses: `mongodb` (needs MONGODB_URI) or `memory` (lost at exit; an
    /// explicit choice). When unset, `api` uses MongoDB and refuses to start without
    /// MONGODB_URI.
    #[arg(long, env = "QUICKFIX_STORE", value_enum)]
    pub store: Option<StoreKind>,
    /// The bus `api` publishes to: `sns` (needs SNS_TOPIC_ARN) or `memory` (an in-process topic
    /// nobody else reads; an explicit choice). When unset, `api` uses SNS and refuses to start
    /// without SNS_TOPIC_ARN.
    #[arg(long, env = "QUICKFIX_BUS", value_enum)]
    pub bus: Option<BusKind>,
    /// MongoDB.
    #[command(flatten)]
    pub mongo: MongoArgs,
    /// The topic events go to.
    #[command(flatten)]
    pub topic: TopicArgs,
    /// AWS endpoint and region.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// `quickfix dev`: the API and a worker in one process on embedded backends.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// What every API process serves.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// How the in-process worker works.
    #[command(flatten)]
    pub worker: WorkerTuning,
    /// Password of the demo accounts `dev` creates.
    #[arg(long, env = "QUICKFIX_DEMO_PASSWORD", default_value = defaults::DEMO_PASSWORD,
        hide_env_values = true)]
    pub demo_password: SecretString,
}

/// What every process serving the API needs, whatever its backends.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the API listens on.
    #[arg(long, env = "QUICKFIX_ADDR", default_value = defaults::ADDR)]
    pub addr: SocketAddr,
    /// Serve the API's `/metrics` on this address only (not on the public listener).
    #[arg(long, env = "QUICKFIX_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Bearer tokens and sessions.
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// Ticket categories, comma-separated (agents' skills use the same names).
    #[arg(long, env = "QUICKFIX_CATEGORIES", default_value = defaults::CATEGORIES,
        value_delimiter = ',')]
    pub categories: Vec<String>,
    /// The highest priority a customer may give their own ticket; higher ones come from the
    /// prioritisation rules or staff.
    #[arg(long, env = "QUICKFIX_CUSTOMER_MAX_PRIORITY", default_value_t = defaults::CUSTOMER_MAX_PRIORITY,
        value_parser = parse_priority)]
    pub customer_max_priority: Priority,
    /// The SLA policy.
    #[command(flatten)]
    pub sla: SlaArgs,
    /// Abuse limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The outbox relay.
    #[command(flatten)]
    pub outbox: OutboxArgs,
    /// Seconds a stop (SIGTERM) waits for requests in flight, open sockets and the last outbox
    /// pass before aborting them.
    #[arg(long, env = "QUICKFIX_SHUTDOWN_GRACE_SECONDS", default_value_t = defaults::SHUTDOWN_GRACE_SECONDS,
        value_parser = value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,
}

impl ServeArgs {
    /// How long a stop waits before aborting what is still running.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }
}

/// The SLA policy file, read by the API (reports) and the worker (escalation).
#[derive(Debug, Clone, Args)]
pub struct SlaArgs {
    /// SLA policy file (TOML: targets, warning fraction, business hours, escalation rules; see
    /// `config/sla.example.toml`); built-in defaults when unset.
    #[arg(long, env = "QUICKFIX_SLA_FILE")]
    pub sla_file: Option<PathBuf>,
}

/// Bearer tokens and the sessions they open.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Secret that signs bearer tokens (HS256): at least 32 random bytes. Required by `api`;
    /// `dev` makes a random one.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
    /// Seconds a bearer token stays valid.
    #[arg(long, env = "JWT_TTL_SECONDS", default_value_t = defaults::JWT_TTL_SECONDS,
        value_parser = value_parser!(u64).range(60..=604_800))]
    pub jwt_ttl_seconds: u64,
    /// The `iss` claim tokens carry; tokens from another issuer are refused.
    #[arg(long, env = "JWT_ISSUER", default_value = crate::auth::DEFAULT_ISSUER)]
    pub jwt_issuer: String,
    /// The `aud` claim tokens carry; tokens for another audience are refused.
    #[arg(long, env = "JWT_AUDIENCE", default_value = crate::auth::DEFAULT_AUDIENCE)]
    pub jwt_audience: String,
    /// Seconds an account's role and state are cached per API process (0 to 30): a demoted or
    /// disabled user loses access on other processes within this time (at once on the one
    /// that made the change).
    #[arg(long, env = "QUICKFIX_AUTH_CACHE_SECONDS", default_value_t = defaults::AUTH_CACHE_SECONDS,
        value_parser = value_parser!(u64).range(0..=30))]
    pub auth_cache_seconds: u64,
    /// Seconds between checks that close live sockets whose session has ended.
    #[arg(long, env = "QUICKFIX_SESSION_CHECK_SECONDS", default_value_t = defaults::SESSION_CHECK_SECONDS,
        value_parser = value_parser!(u64).range(1..=300))]
    pub session_check_seconds: u64,
}

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

fn parse_priority(raw: &str) -> Result<Priority, String> {
    Priority::parse_field("priority", raw).map_err(|e| e.message)
}

impl TokenArgs {
    /// Token lifetime.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.jwt_ttl_seconds)
    }

    /// The token secret, refused when missing, shorter than [`MIN_JWT_SECRET_BYTES`], or the
    /// `.env.example` placeholder (anyone who read it could mint tokens).
    ///
    /// # Errors
    /// [`UnsafeSetting`] naming `JWT_SECRET`.
    pub fn checked_secret(&self) -> Result<SecretString, UnsafeSetting> {
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
}

impl ApiArgs {
    /// The store `api` runs on: MongoDB at `MONGODB_URI` unless memory was chosen explicitly.
    ///
    /// # Errors
    /// [`UnsafeSetting`] naming `MONGODB_URI` when it is missing without `--store memory`.
    pub fn store_kind(&self) -> Result<StoreKind, UnsafeSetting> {
        match (self.store, &self.mongo.mongodb_uri) {
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
    pub fn bus_kind(&self) -> Result<BusKind, UnsafeSetting> {
        match (self.bus, &self.topic.sns_topic_arn) {
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
}
