//! Typed configuration, read once at start from flags and the environment (`.env.example`
//! lists every setting). Each command takes only the settings it uses, grouped by what they
//! configure; the defaults live in [`crate::defaults`]; a value out of its range is refused
//! with a message naming the setting, never clamped. The doc comments are the `--help` text.

mod api;
mod backends;
mod limits;
mod tools;
mod worker;

use std::ffi::OsString;

use clap::{Parser, Subcommand, ValueEnum};

pub use api::{ApiArgs, BusKind, DevArgs, ServeArgs, SlaArgs, StoreKind, TokenArgs};
pub use backends::{AwsArgs, MongoArgs, OutboxArgs, QueueArgs, TopicArgs};
pub use limits::LimitArgs;
pub use tools::{
    ADMIN_PASSWORD_ENV, AdminArgs, AdminCommand, AdminCreateArgs, DlqArgs, DlqCommand,
    EventFilterArgs, EventsArgs, EventsCommand, ProvisionArgs, ReplayArgs, TailArgs,
};
pub use worker::{WorkerArgs, WorkerTuning};

/// The `JWT_SECRET` value `.env.example` shows; refused, since everyone can read it.
pub const EXAMPLE_JWT_SECRET: &str = "change-me-to-a-long-random-string";
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
#[command(name = "quickfix", version, about, long_about = None,
    after_help = "Without a command, `quickfix` runs `dev`. Each command takes its own settings: \
                  `quickfix <command> --help` lists them.")]
pub struct Cli {
    /// What to run; `dev` when no command is named.
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub log_format: LogFormat,
}

/// The commands, each with its own settings.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything in one process on embedded backends, with demo accounts (the default).
    Dev(DevArgs),
    /// The API server, on MongoDB (`MONGODB_URI`) and SNS (`SNS_TOPIC_ARN`).
    Api(ApiArgs),
    /// The worker: consumes `SQS_QUEUE_URL`, routes tickets, writes notifications.
    Worker(WorkerArgs),
    /// Create the SNS/SQS topology on `AWS_ENDPOINT_URL` (LocalStack, moto) and print the
    /// settings to put in `.env`.
    Provision(ProvisionArgs),
    /// Inspect or empty the worker queue's dead-letter queue.
    Dlq(DlqArgs),
    /// Account administration on the configured store (MONGODB_URI).
    Admin(AdminArgs),
    /// Replay, export or follow the event log (MONGODB_URI).
    Events(EventsArgs),
}

impl Command {
    /// The service name its traces carry (unless `OTEL_SERVICE_NAME` names another).
    pub fn service_name(&self) -> &'static str {
        match self {
            Self::Dev(_) => "quickfix-dev",
            Self::Api(_) => "quickfix-api",
            Self::Worker(_) => "quickfix-worker",
            Self::Provision(_) => "quickfix-provision",
            Self::Dlq(_) => "quickfix-dlq",
            Self::Admin(_) => "quickfix-admin",
            Self::Events(_) => "quickfix-events",
        }
    }
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

/// The command line with `dev` put in when no command is named: `quickfix` and
/// `quickfix --addr 0.0.0.0:5001` run the demo, as `quickfix dev …` does.
pub fn with_default_command(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let names_a_command = args.get(1).is_some_and(|first| {
        let first = first.to_string_lossy();
        !first.starts_with('-') || ["-h", "--help", "-V", "--version"].contains(&first.as_ref())
    });
    if !names_a_command {
        args.insert(args.len().min(1), "dev".into());
    }
    args
}

/// Parses `args` into `T`, or exits with clap's message. A refused value also names its
/// environment variable, since deployments mostly set values there.
pub fn parse_or_exit<T: Parser>(args: impl IntoIterator<Item = OsString>) -> T {
    use clap::error::{ContextKind, ContextValue};
    let err = match T::try_parse_from(args) {
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

#[cfg(test)]
mod tests;
