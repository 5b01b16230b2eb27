//! Wiring: picks the adapters the configuration asks for, starts the API and the outbox relay,
//! and stops them cleanly on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::api::{ApiLimits, AppState, router};
use crate::auth::TokenKeys;
use crate::bus::{
    AwsOptions, MemoryTopic, Publisher, SnsPublisher, TopologySpec, aws_config, provision,
};
use crate::config::{ProvisionArgs, Settings};
use crate::domain::{Categories, Clock, SystemClock};
use crate::outbox::{OutboxRelay, RelaySettings};
use crate::store::{MemoryStore, MongoStore, MongoStoreOptions, Store};
use crate::{demo, telemetry};

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
    /// Outbox relay pacing.
    pub relay: RelaySettings,
    /// Request limits.
    pub limits: ApiLimits,
}

/// A running API with its outbox relay.
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and starts serving and relaying.
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn start(config: AppConfig, addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("Failed to listen on {addr} (QUICKFIX_ADDR)"))?;
        let addr = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        let wake = Arc::new(Notify::new());
        let state = AppState {
            store: config.store.clone(),
            publisher: config.publisher.clone(),
            clock: config.clock,
            tokens: Arc::new(config.tokens),
            categories: Arc::new(config.categories),
            outbox: wake.clone(),
            metrics: telemetry::metrics_handle(),
        };
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();

        let relay = OutboxRelay::new(config.store, config.publisher, wake, config.relay);
        tasks.spawn(relay.run(shutdown.clone()));

        let app = router(state.clone(), config.limits);
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(err) = serve.await {
                warn!(error = %err, "the HTTP server stopped with an error");
            }
        });
        tasks.close();
        Ok(Self {
            addr,
            state,
            shutdown,
            tasks,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The handlers' shared state (for tests and embedding).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting requests, finishes those in flight, runs a last outbox pass, and waits.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tasks.wait().await;
    }

    /// Waits until the shutdown token is cancelled (by a signal), then stops.
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        self.stop().await;
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(err) => {
                    warn!(error = %err, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => info!("SIGINT received; shutting down"),
            () = term => info!("SIGTERM received; shutting down"),
        }
        token.cancel();
    });
}

fn categories(settings: &Settings) -> anyhow::Result<Categories> {
    Categories::new(&settings.categories)
        .context("QUICKFIX_CATEGORIES must name at least one category")
}

fn relay_settings(settings: &Settings) -> RelaySettings {
    RelaySettings {
        sweep_interval: settings.outbox_sweep_interval(),
        batch_size: settings.outbox_batch_size.max(1),
        ..RelaySettings::default()
    }
}

fn aws_options(settings: &Settings) -> AwsOptions {
    AwsOptions {
        endpoint_url: settings.aws_endpoint_url.clone(),
        region: settings.aws_region.clone(),
    }
}

/// `quickfix api`: the API on the configured adapters.
///
/// # Errors
/// When a required setting is missing or a backend cannot be reached at start.
pub async fn run_api(settings: Settings) -> anyhow::Result<()> {
    let secret = settings
        .jwt_secret
        .clone()
        .context("JWT_SECRET is required for `quickfix api` (it signs bearer tokens)")?;
    let store: Arc<dyn Store> = match &settings.mongodb_uri {
        Some(uri) => {
            let options = MongoStoreOptions {
                server_selection_timeout: settings.mongodb_timeout(),
            };
            let store =
                MongoStore::connect(uri.expose_secret(), &settings.mongodb_database, options)
                    .await
                    .context("Failed to connect to MongoDB (MONGODB_URI)")?;
            info!(database = %settings.mongodb_database, "store: MongoDB");
            Arc::new(store)
        }
        None => {
            warn!("MONGODB_URI is not set: tickets are kept in memory and lost at exit");
            Arc::new(MemoryStore::new())
        }
    };
    let publisher: Arc<dyn Publisher> = match &settings.sns_topic_arn {
        Some(arn) => {
            let config = aws_config(&aws_options(&settings)).await;
            info!(topic = %arn, "publisher: SNS");
            Arc::new(SnsPublisher::new(&config, arn))
        }
        None => {
            warn!("SNS_TOPIC_ARN is not set: events go to an in-process topic with no subscribers");
            MemoryTopic::new()
        }
    };
    let config = AppConfig {
        store,
        publisher,
        clock: Arc::new(SystemClock),
        tokens: TokenKeys::new(&secret, settings.jwt_ttl()),
        categories: categories(&settings)?,
        relay: relay_settings(&settings),
        limits: ApiLimits {
            body_bytes: settings.body_limit_bytes,
        },
    };
    let server = Server::start(config, settings.addr).await?;
    info!(addr = %server.addr(), "QuickFix API listening");
    cancel_on_signal(server.shutdown_token());
    server.wait().await;
    info!("QuickFix API stopped");
    Ok(())
}

/// `quickfix dev`: everything in one process on embedded backends, with demo accounts.
///
/// # Errors
/// When the address cannot be bound.
pub async fn run_dev(settings: Settings) -> anyhow::Result<()> {
    let secret = settings.jwt_secret.clone().unwrap_or_else(|| {
        SecretString::from(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    });
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let categories = categories(&settings)?;
    let accounts = demo::seed(
        store.as_ref(),
        &categories,
        clock.as_ref(),
        &settings.demo_password,
    )
    .await
    .context("Failed to create the demo accounts")?;
    let config = AppConfig {
        store,
        publisher: MemoryTopic::new(),
        clock,
        tokens: TokenKeys::new(&secret, settings.jwt_ttl()),
        categories,
        relay: relay_settings(&settings),
        limits: ApiLimits {
            body_bytes: settings.body_limit_bytes,
        },
    };
    let server = Server::start(config, settings.addr).await?;
    println!(
        "{}",
        demo::banner(server.addr(), &accounts, &settings.demo_password)
    );
    cancel_on_signal(server.shutdown_token());
    server.wait().await;
    Ok(())
}

/// `quickfix provision`: creates the topology and prints the settings for `.env`.
///
/// # Errors
/// When the endpoint refuses a step.
pub async fn run_provision(settings: Settings, args: ProvisionArgs) -> anyhow::Result<()> {
    let spec = TopologySpec {
        topic_name: args.topic_name,
        queue_name: args.queue_name,
        dead_letter_queue_name: args.dead_letter_queue_name,
        max_receive_count: args.max_receive_count,
        visibility_timeout: std::time::Duration::from_secs(args.visibility_timeout_seconds),
        ..TopologySpec::default()
    };
    let config = aws_config(&aws_options(&settings)).await;
    let topology = provision(&config, &spec)
        .await
        .context("Failed to provision the SNS/SQS topology (is AWS_ENDPOINT_URL reachable?)")?;
    println!("# QuickFix messaging topology");
    println!("SNS_TOPIC_ARN={}", topology.topic_arn);
    println!("SQS_QUEUE_URL={}", topology.queue_url);
    println!(
        "SQS_DEAD_LETTER_QUEUE_URL={}",
        topology.dead_letter_queue_url
    );
    if let Some(endpoint) = &settings.aws_endpoint_url {
        println!("AWS_ENDPOINT_URL={endpoint}");
    }
    Ok(())
}
