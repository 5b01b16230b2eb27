//! Wiring: picks the adapters the configuration asks for, starts the API, the worker and the
//! outbox relay, and stops them cleanly on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::admin::AdminOutcome;
use crate::api::{ApiLimits, AppState, Guards, Readiness, router};
use crate::auth::{PasswordWork, Sessions, TokenKeys};
use crate::bus::{
    AwsOptions, MemoryTopic, MemoryTopology, Publisher, Queue, SnsPublisher, SqsQueue,
    TopologySpec, aws_config, provision,
};
use crate::config::{
    ADMIN_PASSWORD_ENV, AdminCommand, BusKind, DlqCommand, EventsCommand, ProvisionArgs, Settings,
    StoreKind, WorkerArgs,
};
use crate::domain::{Categories, Clock, Priority, PriorityRules, SlaPolicy, SystemClock};
use crate::live::{
    FeedSettings, NotificationRelay, SocketSink, close_ended_sessions, socket_layer,
};
use crate::outbox::{OutboxRelay, RelaySettings};
use crate::store::{MemoryStore, MongoStore, MongoStoreOptions, Store};
use crate::worker::{self, Worker};
use crate::{demo, sla_file, telemetry};

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
}

/// How sessions and passwords are handled, and what customers may choose.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// How long an account's role and state are cached (at most 30 s).
    pub auth_cache: std::time::Duration,
    /// How often live sockets are checked for ended sessions.
    pub session_check: std::time::Duration,
    /// Password hashing, bounded.
    pub passwords: PasswordWork,
    /// The highest priority a customer may choose.
    pub customer_max_priority: Priority,
}

impl Default for AccessSettings {
    /// The defaults of `quickfix api`'s settings.
    fn default() -> Self {
        use crate::config::{
            DEFAULT_AUTH_CACHE_SECONDS, DEFAULT_CUSTOMER_MAX_PRIORITY, DEFAULT_HASH_WAIT_MS,
            DEFAULT_SESSION_CHECK_SECONDS,
        };
        Self {
            auth_cache: std::time::Duration::from_secs(DEFAULT_AUTH_CACHE_SECONDS),
            session_check: std::time::Duration::from_secs(DEFAULT_SESSION_CHECK_SECONDS),
            passwords: PasswordWork::new(
                crate::auth::default_concurrency(),
                std::time::Duration::from_millis(DEFAULT_HASH_WAIT_MS),
            ),
            customer_max_priority: DEFAULT_CUSTOMER_MAX_PRIORITY,
        }
    }
}

impl AccessSettings {
    /// From the command-line settings.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            auth_cache: std::time::Duration::from_secs(settings.auth_cache_seconds),
            session_check: std::time::Duration::from_secs(settings.session_check_seconds),
            passwords: settings.limits.password_work(),
            customer_max_priority: settings.limits.customer_max_priority,
        }
    }
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
        let shutdown = CancellationToken::new();
        if let Some(metrics_addr) = config.metrics_addr {
            let bound = telemetry::serve_metrics(metrics_addr, shutdown.clone())
                .await
                .with_context(|| {
                    format!("Failed to listen on {metrics_addr} (QUICKFIX_METRICS_ADDR)")
                })?;
            info!(addr = %bound, "API metrics on http://{bound}/metrics");
        }
        let wake = Arc::new(Notify::new());
        let sessions = Arc::new(Sessions::new(
            config.tokens,
            config.store.clone(),
            config.access.auth_cache,
        ));
        let guards = Guards::new(&config.limits);
        let (live_layer, io) = socket_layer(sessions.clone());
        let live = NotificationRelay::new(
            config.store.clone(),
            Arc::new(SocketSink::new(io.clone())),
            config.clock.as_ref(),
            FeedSettings::default(),
        );
        let state = AppState {
            store: config.store.clone(),
            publisher: config.publisher.clone(),
            clock: config.clock,
            sessions: sessions.clone(),
            passwords: config.access.passwords.clone(),
            guards: guards.clone(),
            customer_max_priority: config.access.customer_max_priority,
            readiness: Arc::new(Readiness::default()),
            live_ready: live.ready(),
            idempotency_window: config.limits.idempotency_window,
            public_metrics: config.metrics_addr.is_none(),
            categories: Arc::new(config.categories),
            sla: config.sla,
            outbox: wake.clone(),
            metrics: telemetry::metrics_handle(),
        };
        let tasks = TaskTracker::new();

        let relay = OutboxRelay::new(config.store.clone(), config.publisher, wake, config.relay);
        tasks.spawn(relay.run(shutdown.clone()));
        tasks.spawn(forget_idle_clients(guards.clone(), shutdown.clone()));
        tasks.spawn(live.run(shutdown.clone()));
        tasks.spawn(close_ended_sessions(
            io.clone(),
            sessions,
            config.access.session_check,
            shutdown.clone(),
        ));
        // Open sockets would hold the graceful shutdown forever: close them when it starts.
        let closing = io;
        let stop_sockets = shutdown.clone();
        tasks.spawn(async move {
            stop_sockets.cancelled().await;
            closing.close().await;
        });

        let socket_guard = guards.clone();
        let app = router(state.clone(), &config.limits)
            .layer(live_layer)
            .layer(axum::middleware::from_fn(move |req, next| {
                let guard = socket_guard.clone();
                async move { guard.socket_connects(req, next).await }
            }))
            .into_make_service_with_connect_info::<SocketAddr>();
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

/// Every minute, drops the rate limiters' memory of clients not seen lately.
async fn forget_idle_clients(guards: Guards, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => guards.forget_idle(),
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

fn categories(settings: &Settings) -> anyhow::Result<Categories> {
    Categories::new(&settings.categories)
        .context("QUICKFIX_CATEGORIES must name at least one category")
}

fn sla_policy(settings: &Settings) -> anyhow::Result<Arc<SlaPolicy>> {
    sla_file::load(settings.sla_file.as_deref())
        .context("QUICKFIX_SLA_FILE")
        .map(Arc::new)
}

fn relay_settings(settings: &Settings) -> RelaySettings {
    RelaySettings {
        sweep_interval: settings.outbox_sweep_interval(),
        batch_size: settings.outbox_batch_size,
        lease: std::time::Duration::from_secs(settings.outbox_lease_seconds),
        ..RelaySettings::default()
    }
}

/// The MongoDB store at `MONGODB_URI`.
async fn mongo_store(settings: &Settings) -> anyhow::Result<MongoStore> {
    let uri = settings
        .mongodb_uri
        .as_ref()
        .context("MONGODB_URI: is required (the MongoDB connection string)")?;
    let options = MongoStoreOptions {
        server_selection_timeout: settings.mongodb_timeout(),
        event_retention: settings.event_log_retention(),
    };
    MongoStore::connect(uri.expose_secret(), &settings.mongodb_database, options)
        .await
        .context("Failed to connect to MongoDB (MONGODB_URI)")
}

fn token_keys(settings: &Settings, secret: &SecretString) -> TokenKeys {
    TokenKeys::with_names(
        secret,
        settings.jwt_ttl(),
        &settings.jwt_issuer,
        &settings.jwt_audience,
    )
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
    // Every unsafe setting is refused before anything starts.
    let secret = settings.checked_jwt_secret()?;
    let store_kind = settings.api_store()?;
    let bus_kind = settings.api_bus()?;
    let store: Arc<dyn Store> = match store_kind {
        StoreKind::Mongodb => {
            let store = mongo_store(&settings).await?;
            info!(database = %settings.mongodb_database, "store: MongoDB");
            Arc::new(store)
        }
        StoreKind::Memory => {
            warn!("--store memory: tickets are kept in memory and lost at exit");
            Arc::new(MemoryStore::with_event_retention(
                settings.event_log_retention(),
            ))
        }
    };
    let publisher: Arc<dyn Publisher> = match (bus_kind, &settings.sns_topic_arn) {
        (BusKind::Sns, Some(arn)) => {
            let config = aws_config(&aws_options(&settings)).await;
            info!(topic = %arn, "publisher: SNS");
            Arc::new(SnsPublisher::new(&config, arn))
        }
        _ => {
            warn!("--bus memory: events go to an in-process topic that no worker reads");
            MemoryTopic::new()
        }
    };
    let config = AppConfig {
        store,
        publisher,
        clock: Arc::new(SystemClock),
        tokens: token_keys(&settings, &secret),
        categories: categories(&settings)?,
        sla: sla_policy(&settings)?,
        relay: relay_settings(&settings),
        limits: settings.limits.api_limits(settings.body_limit_bytes),
        access: AccessSettings::from_settings(&settings),
        metrics_addr: settings.limits.api_metrics_addr,
    };
    let server = Server::start(config, settings.addr).await?;
    // Signals stop the server cleanly from before anyone can learn that it listens.
    cancel_on_signal(server.shutdown_token());
    info!(addr = %server.addr(), "QuickFix API listening");
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
    let topology = MemoryTopology::provision(&TopologySpec {
        visibility_timeout: std::time::Duration::from_secs(
            settings.worker.visibility_timeout_seconds,
        ),
        ..TopologySpec::default()
    });
    let sla = sla_policy(&settings)?;
    let config = AppConfig {
        store: store.clone(),
        publisher: topology.topic.clone(),
        clock: clock.clone(),
        tokens: token_keys(&settings, &secret),
        categories,
        sla: sla.clone(),
        relay: relay_settings(&settings),
        limits: settings.limits.api_limits(settings.body_limit_bytes),
        access: AccessSettings::from_settings(&settings),
        metrics_addr: settings.limits.api_metrics_addr,
    };
    if !settings.addr.ip().is_loopback() {
        warn!(
            addr = %settings.addr,
            "`quickfix dev` is reachable from other machines with demo accounts and their \
             password; it is a demo, not a deployment (use `quickfix api`)"
        );
    }
    let server = Server::start(config, settings.addr).await?;
    cancel_on_signal(server.shutdown_token());
    // The worker shares the API's store and outbox: its follow-up events go out through the
    // same relay, to the same in-process topic.
    let ctx = worker_context(
        &settings.worker,
        store,
        clock,
        sla,
        server.state().outbox.clone(),
    )?;
    let workers = spawn_worker(
        ctx,
        topology.queue,
        Some(topology.dead_letter_queue),
        &settings.worker,
        server.shutdown_token(),
    );
    println!(
        "{}",
        demo::banner(server.addr(), &accounts, &settings.demo_password)
    );
    server.wait().await;
    workers.wait().await;
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

/// The handlers' context from the worker settings.
///
/// # Errors
/// When the prioritisation rules do not parse.
pub fn worker_context(
    args: &WorkerArgs,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sla: Arc<SlaPolicy>,
    outbox: Arc<Notify>,
) -> anyhow::Result<worker::Context> {
    Ok(worker::Context {
        store,
        clock,
        rules: PriorityRules::parse(&args.priority_rules)
            .context("QUICKFIX_PRIORITY_RULES is invalid")?,
        sla,
        outbox,
        requeue_on_offline: args.requeue_on_offline,
    })
}

/// Starts the consumer, the sweep and the escalation scan; all stop at `shutdown` (the consumer
/// after finishing the messages in hand).
pub fn spawn_worker(
    ctx: worker::Context,
    queue: Arc<dyn Queue>,
    dead_letters: Option<Arc<dyn Queue>>,
    args: &WorkerArgs,
    shutdown: CancellationToken,
) -> TaskTracker {
    let tasks = TaskTracker::new();
    let interval = std::time::Duration::from_secs(args.sweep_interval_seconds);
    let grace = std::time::Duration::from_secs(args.hold_grace_seconds);
    tasks.spawn(worker::run_sweeps(
        ctx.clone(),
        interval,
        grace,
        shutdown.clone(),
    ));
    tasks.spawn(worker::run_escalations(
        ctx.clone(),
        args.escalation_interval(),
        shutdown.clone(),
    ));
    tasks.spawn(Worker::new(queue, dead_letters, ctx, args.consumer()).run(shutdown));
    tasks.close();
    tasks
}

/// `quickfix worker`: the consumer on MongoDB and SQS, with its own outbox relay for the
/// follow-up events it writes.
///
/// # Errors
/// When a required setting is missing or a backend cannot be reached at start.
pub async fn run_worker(settings: Settings) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let queue_url = settings
        .sqs_queue_url
        .clone()
        .context("SQS_QUEUE_URL is required for `quickfix worker`")?;
    let topic_arn = settings.sns_topic_arn.clone().context(
        "SNS_TOPIC_ARN is required for `quickfix worker` (it publishes follow-up events)",
    )?;
    let store: Arc<dyn Store> = Arc::new(mongo_store(&settings).await?);
    let aws = aws_config(&aws_options(&settings)).await;
    let queue = Arc::new(SqsQueue::new(&aws, &queue_url));
    let dead_letters = dead_letter_queue(&settings, queue.as_ref(), &aws).await?;
    let publisher: Arc<dyn Publisher> = Arc::new(SnsPublisher::new(&aws, &topic_arn));

    let wake = Arc::new(Notify::new());
    let relay_shutdown = CancellationToken::new();
    let relay = OutboxRelay::new(
        store.clone(),
        publisher,
        wake.clone(),
        relay_settings(&settings),
    );
    let relay_task = tokio::spawn(relay.run(relay_shutdown.clone()));

    let metrics_addr = telemetry::serve_metrics(settings.worker.metrics_addr, shutdown.clone())
        .await
        .with_context(|| {
            format!(
                "Failed to listen on {} (WORKER_METRICS_ADDR)",
                settings.worker.metrics_addr
            )
        })?;
    info!(addr = %metrics_addr, "worker metrics on http://{metrics_addr}/metrics");
    let ctx = worker_context(
        &settings.worker,
        store,
        Arc::new(SystemClock),
        sla_policy(&settings)?,
        wake,
    )?;
    let tasks = spawn_worker(ctx, queue, dead_letters, &settings.worker, shutdown.clone());
    info!(queue = %queue_url, "QuickFix worker started");
    shutdown.cancelled().await;
    let grace = std::time::Duration::from_secs(settings.worker.shutdown_grace_seconds);
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        warn!(
            ?grace,
            "in-flight messages did not finish in time; they return to the queue after their visibility timeout"
        );
    }
    // Publish what the last handlers wrote, then stop.
    relay_shutdown.cancel();
    let _ = relay_task.await;
    info!("QuickFix worker stopped");
    Ok(())
}

/// The dead-letter queue: `SQS_DEAD_LETTER_QUEUE_URL`, else the worker queue's redrive policy.
/// Says loudly when the worker queue has no redrive policy.
async fn dead_letter_queue(
    settings: &Settings,
    queue: &SqsQueue,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Option<Arc<dyn Queue>>> {
    let redrive = queue
        .dead_letter_queue()
        .await
        .context("Failed to read the worker queue's redrive policy (SQS_QUEUE_URL)")?;
    match &redrive {
        Some(dlq) => info!(
            max_receive_count = dlq.max_receive_count,
            "worker queue redrives to its dead-letter queue"
        ),
        None => warn!(
            "THE WORKER QUEUE HAS NO REDRIVE POLICY: a message that keeps failing is retried forever; \
             give it a dead-letter queue (quickfix provision and infra/ do)"
        ),
    }
    Ok(match &settings.sqs_dead_letter_queue_url {
        Some(url) => Some(Arc::new(SqsQueue::new(aws, url))),
        None => redrive.map(|d| d.queue),
    })
}

/// `quickfix dlq list|redrive`.
///
/// # Errors
/// When a queue cannot be reached or has no dead-letter queue.
pub async fn run_dlq(settings: Settings, command: DlqCommand) -> anyhow::Result<()> {
    let queue_url = settings
        .sqs_queue_url
        .clone()
        .context("SQS_QUEUE_URL is required for `quickfix dlq`")?;
    let aws = aws_config(&aws_options(&settings)).await;
    let queue = SqsQueue::new(&aws, &queue_url);
    let dlq = dead_letter_queue(&settings, &queue, &aws)
        .await?
        .context("the worker queue has no dead-letter queue (set SQS_DEAD_LETTER_QUEUE_URL)")?;
    match command {
        DlqCommand::List { max } => {
            let letters = worker::dead_letters::list(dlq.as_ref(), max).await?;
            println!(
                "{:<38} {:<28} {:<38} {:>8}  reason",
                "message", "event type", "ticket", "receives"
            );
            for l in &letters {
                println!(
                    "{:<38} {:<28} {:<38} {:>8}  {}",
                    l.message_id,
                    l.event_type.as_deref().unwrap_or("-"),
                    l.ticket_id.as_deref().unwrap_or("-"),
                    l.receive_count,
                    l.reason.as_deref().unwrap_or("exceeded maxReceiveCount"),
                );
            }
            println!("{} message(s) in the dead-letter queue", letters.len());
        }
        DlqCommand::Redrive => {
            let moved = worker::dead_letters::redrive(dlq.as_ref(), &queue).await?;
            println!("moved {moved} message(s) back to the worker queue");
        }
    }
    Ok(())
}

/// `quickfix events replay|export|tail` on the MongoDB store at `MONGODB_URI`; a replay to the
/// topic publishes to `SNS_TOPIC_ARN`.
///
/// # Errors
/// Bad filters, an unreachable store or target, or a replay that stopped (with how far it got).
pub async fn run_events(settings: Settings, command: EventsCommand) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = Arc::new(mongo_store(&settings).await?);
    let aws = aws_options(&settings);
    let topic_arn = settings.sns_topic_arn.clone();
    crate::replay::cli::run(
        command,
        store,
        async || {
            let arn = topic_arn.context("SNS_TOPIC_ARN is required to replay to the topic")?;
            Ok(SnsPublisher::new(&aws_config(&aws).await, arn))
        },
        async |url: &str| SqsQueue::new(&aws_config(&aws).await, url),
    )
    .await
}

/// `quickfix admin create`: creates an admin on the MongoDB store at `MONGODB_URI`, with the
/// password from `QUICKFIX_ADMIN_PASSWORD` or the first line of standard input.
///
/// # Errors
/// When the store cannot be reached, the password is missing or invalid, or the email belongs
/// to an account that is not an admin (without `--promote`).
pub async fn run_admin(settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    let AdminCommand::Create(args) = command;
    let password = match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ => read_password_line().context(
            "Failed to read the admin password from standard input (or set QUICKFIX_ADMIN_PASSWORD)",
        )?,
    };
    let store = mongo_store(&settings).await?;
    let outcome = crate::admin::create_admin(
        &store,
        &args.name,
        &args.email,
        &password,
        args.promote,
        chrono::Utc::now(),
    )
    .await?;
    match outcome {
        AdminOutcome::Created => println!("created admin {}", args.email.trim().to_lowercase()),
        AdminOutcome::AlreadyExists => println!(
            "admin {} already exists; nothing changed",
            args.email.trim().to_lowercase()
        ),
        AdminOutcome::Promoted => {
            println!("promoted {} to admin", args.email.trim().to_lowercase());
        }
    }
    Ok(())
}

/// One line of standard input without its line ending; prompts when it is a terminal.
fn read_password_line() -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("admin password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
