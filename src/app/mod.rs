//! Wiring: picks the adapters the configuration asks for, starts the API, the worker and the
//! outbox relay, and stops them cleanly on SIGINT/SIGTERM. One module per kind of command:
//! the servers (`api`, `dev`), the worker, and the operator tools.

mod serve;
mod server;
mod tasks;
mod tools;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::api::ApiLimits;
use crate::auth::{PasswordWork, TokenKeys};
use crate::bus::Publisher;
use crate::config::{MongoArgs, ServeArgs, SlaArgs};
use crate::defaults;
use crate::domain::{Categories, Clock, Priority, SlaPolicy};
use crate::outbox::RelaySettings;
use crate::sla_file;
use crate::store::{MongoStore, MongoStoreOptions, Store};

pub use serve::{run_api, run_dev};
pub use server::Server;
pub use tasks::Tasks;
pub use tools::{run_admin, run_dlq, run_events, run_provision};
pub use worker::{run_worker, spawn_worker, worker_context};

/// Everything needed to start a server.
pub struct AppConfig {
    /// The store adapter.
    pub store: Arc<dyn Store>,
    /// The publisher adapter.
    pub publisher: Arc<dyn Publisher>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Token keys.
    pub tokens: TokenKeys,
    /// Accepted categories.
    pub categories: Categories,
    /// SLA targets and escalation rules.
    pub sla: Arc<SlaPolicy>,
    /// Outbox relay pacing.
    pub relay: RelaySettings,
    /// Request and abuse limits.
    pub limits: ApiLimits,
    /// Sessions, passwords and what customers may choose.
    pub access: AccessSettings,
    /// Where `/metrics` is served instead of the API's own listener, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// How long a stop waits for requests, sockets and the last outbox pass to finish before
    /// aborting them.
    pub shutdown_grace: Duration,
}

/// How sessions and passwords are handled, and what customers may choose.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// How long an account's role and state are cached (at most 30 s).
    pub auth_cache: Duration,
    /// How often live sockets are checked for ended sessions.
    pub session_check: Duration,
    /// Password hashing, bounded.
    pub passwords: PasswordWork,
    /// The highest priority a customer may choose.
    pub customer_max_priority: Priority,
}

impl Default for AccessSettings {
    /// The defaults of `quickfix api`'s settings.
    fn default() -> Self {
        Self {
            auth_cache: Duration::from_secs(defaults::AUTH_CACHE_SECONDS),
            session_check: Duration::from_secs(defaults::SESSION_CHECK_SECONDS),
            passwords: PasswordWork::new(
                crate::auth::default_concurrency(),
                Duration::from_millis(defaults::HASH_WAIT_MS),
            ),
            customer_max_priority: defaults::CUSTOMER_MAX_PRIORITY,
        }
    }
}

impl AccessSettings {
    /// From the settings of a command that serves the API.
    pub fn from_args(serve: &ServeArgs) -> Self {
        Self {
            auth_cache: Duration::from_secs(serve.tokens.auth_cache_seconds),
            session_check: Duration::from_secs(serve.tokens.session_check_seconds),
            passwords: serve.limits.password_work(),
            customer_max_priority: serve.customer_max_priority,
        }
    }
}

/// Cancels `token` on SIGINT or SIGTERM. The handlers are installed before this returns, so a
/// signal that arrives at any later moment stops the process cleanly.
///
/// # Panics
/// If the signal handlers cannot be installed (no Tokio runtime, or the OS refuses).
pub fn cancel_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term =
            signal(SignalKind::terminate()).expect("BUG: cannot install the SIGTERM handler");
        let mut int =
            signal(SignalKind::interrupt()).expect("BUG: cannot install the SIGINT handler");
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM received; shutting down"),
                _ = int.recv() => info!("SIGINT received; shutting down"),
            }
            token.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            info!("Ctrl-C received; shutting down");
        }
        token.cancel();
    });
}

/// The accepted categories, from `QUICKFIX_CATEGORIES`.
fn categories(names: &[String]) -> anyhow::Result<Categories> {
    Categories::new(names).context("QUICKFIX_CATEGORIES must name at least one category")
}

/// The SLA policy from `QUICKFIX_SLA_FILE`, else the built-in one.
fn sla_policy(args: &SlaArgs) -> anyhow::Result<Arc<SlaPolicy>> {
    sla_file::load(args.sla_file.as_deref())
        .context("QUICKFIX_SLA_FILE")
        .map(Arc::new)
}

/// The MongoDB store at `MONGODB_URI`.
async fn mongo_store(args: &MongoArgs) -> anyhow::Result<MongoStore> {
    use secrecy::ExposeSecret;
    let uri = args
        .mongodb_uri
        .as_ref()
        .context("MONGODB_URI: is required (the MongoDB connection string)")?;
    let options = MongoStoreOptions {
        server_selection_timeout: args.timeout(),
        event_retention: args.event_log_retention(),
    };
    MongoStore::connect(uri.expose_secret(), &args.mongodb_database, options)
        .await
        .context("Failed to connect to MongoDB (MONGODB_URI)")
}
