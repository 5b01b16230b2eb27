//! `quickfix-worker`: the same as `quickfix worker`, as its own binary for deployment.
//! Its settings are those of `quickfix worker` (flags or environment; `--help` lists them).

use quickfix::config::{LogFormat, WorkerArgs};
use quickfix::{app, telemetry};

/// QuickFix worker: consumes SQS_QUEUE_URL, assigns agents, writes notifications.
#[derive(Debug, clap::Parser)]
#[command(name = "quickfix-worker", version, about)]
struct Cli {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = quickfix::config::parse_or_exit(std::env::args_os());
    let telemetry = telemetry::init(cli.log_format, "quickfix-worker")?;
    let result = app::run_worker(cli.worker).await;
    telemetry.shutdown();
    result
}
