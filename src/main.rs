//! The `quickfix` binary: `dev` (default), `api`, `worker`, `provision`, `dlq`, `admin`, `events`.

use quickfix::config::{Cli, Command};
use quickfix::{app, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = quickfix::config::parse_or_exit();
    let command = cli.command.unwrap_or(Command::Dev);
    let telemetry = telemetry::init(cli.settings.log_format, command.service_name())?;
    let result = match command {
        Command::Dev => app::run_dev(cli.settings).await,
        Command::Api => app::run_api(cli.settings).await,
        Command::Worker => app::run_worker(cli.settings).await,
        Command::Provision(args) => app::run_provision(cli.settings, args).await,
        Command::Dlq(command) => app::run_dlq(cli.settings, command).await,
        Command::Admin(command) => app::run_admin(cli.settings, command).await,
        Command::Events(command) => app::run_events(cli.settings, command).await,
    };
    telemetry.shutdown();
    result
}
