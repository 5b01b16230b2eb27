//! `quickfix-worker`: the same as `quickfix worker`, as its own binary for deployment.
//! All settings are the `quickfix` settings (flags or environment; `--help` lists them).

use quickfix::config::Settings;
use quickfix::{app, telemetry};

/// QuickFix worker: consumes SQS_QUEUE_URL, assigns agents, writes notifications.
#[derive(Debug, clap::Parser)]
#[command(name = "quickfix-worker", version, about)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = quickfix::config::parse_or_exit();
    let telemetry = telemetry::init(cli.settings.log_format, "quickfix-worker")?;
    let result = app::run_worker(cli.settings).await;
    telemetry.shutdown();
    result
}
