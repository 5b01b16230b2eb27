//! The `quickfix` binary: `dev` (default), `api`, `worker`, `provision`, `dlq`, `admin`, `events`.

use quickfix::config::{self, Cli, Command};
use quickfix::{app, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse_or_exit(config::with_default_command(std::env::args_os()));
    let telemetry = telemetry::init(cli.log_format, cli.command.service_name())?;
    let result = match cli.command {
        Command::Dev(args) => app::run_dev(args).await,
        Command::Api(args) => app::run_api(args).await,
        Command::Worker(args) => app::run_worker(args).await,
        Command::Provision(args) => app::run_provision(args).await,
        Command::Dlq(args) => app::run_dlq(args).await,
        Command::Admin(args) => app::run_admin(args).await,
        Command::Events(args) => app::run_events(args).await,
    };
    telemetry.shutdown();
    result
}
