//! Starting the API for a test: on the embedded adapters or on MongoDB + SNS/SQS, with the demo
//! accounts seeded, explicit limits and access settings when a test needs them, and a worker on
//! the app's queue. `on_both_backends!` runs a test on each backend.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quickfix::app::{AppConfig, Server};
use quickfix::domain::{Categories, EventType, SystemClock};
use quickfix::{
    ApiLimits, MemoryStore, MemoryTopology, Publisher, Queue, RelaySettings, SnsPublisher,
    SqsQueue, Store, TokenKeys, Topology, aws_config,
};
use secrecy::SecretString;

use super::{
    JWT_SECRET, PASSWORD, aws_endpoint, aws_options, aws_topology, mongo_store, unique_spec,
};

/// Which adapters a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-memory store, in-process bus.
    Embedded,
    /// MongoDB (SecantusDB) and SNS/SQS (LocalStack).
    Real,
}

/// A running API with a queue that sees every event it publishes.
pub struct TestApp {
    pub server: Server,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn Queue>,
}

/// Options for [`spawn_app_with`].
pub struct AppOptions {
    /// Overrides the publisher (e.g. one behind a proxy); the observer queue is still wired to
    /// the backend's topic.
    pub publisher: Option<Arc<dyn Publisher>>,
    /// Overrides the store.
    pub store: Option<Arc<dyn Store>>,
    /// Request body limit.
    pub body_bytes: usize,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            publisher: None,
            store: None,
            body_bytes: 16 * 1024,
        }
    }
}

/// Adapters for `backend`: store, publisher, and a queue subscribed to every event type.
/// `None` when the real services are not available outside CI.
pub async fn backends(
    backend: Backend,
) -> Option<(
    Arc<dyn Store>,
    Arc<dyn Publisher>,
    Arc<dyn Queue>,
    Option<Topology>,
)> {
    let spec = unique_spec(EventType::ALL.to_vec());
    match backend {
        Backend::Embedded => {
            let t = MemoryTopology::provision(&spec);
            Some((Arc::new(MemoryStore::new()), t.topic, t.queue, None))
        }
        Backend::Real => {
            let store = mongo_store().await?;
            let endpoint = aws_endpoint()?;
            let topology = aws_topology(&endpoint, &spec).await;
            let config = aws_config(&aws_options(&endpoint)).await;
            let publisher = Arc::new(SnsPublisher::new(&config, &topology.topic_arn));
            let queue = Arc::new(SqsQueue::new(&config, &topology.queue_url));
            Some((Arc::new(store), publisher, queue, Some(topology)))
        }
    }
}

/// Starts the API on `backend` with the demo accounts; `None` means skip (see [`mongo_uri`]).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, AppOptions::default()).await
}

/// [`spawn_app`] with options.
pub async fn spawn_app_with(backend: Backend, options: AppOptions) -> Option<TestApp> {
    let (store, publisher, events, _) = backends(backend).await?;
    let store = options.store.unwrap_or(store);
    let publisher = options.publisher.unwrap_or(publisher);
    Some(start(store, publisher, events, options.body_bytes).await)
}

/// Starts a server on explicit adapters, seeding the demo accounts.
pub async fn start(
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    events: Arc<dyn Queue>,
    body_bytes: usize,
) -> TestApp {
    seed(store.as_ref()).await;
    start_without_seed(store, publisher, events, body_bytes).await
}

/// Sessions and passwords as in production, except that password checks wait long enough
/// for a loaded machine and accounts are re-read on every request.
pub fn test_access() -> quickfix::app::AccessSettings {
    quickfix::app::AccessSettings {
        auth_cache: Duration::ZERO,
        passwords: quickfix::PasswordWork::new(4, Duration::from_secs(60)),
        ..quickfix::app::AccessSettings::default()
    }
}

/// Starts a server without seeding (for a store that cannot be written). The relay sweeps
/// every 200 ms so tests that wait for events stay quick.
pub async fn start_without_seed(
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    events: Arc<dyn Queue>,
    body_bytes: usize,
) -> TestApp {
    start_configured(
        store,
        publisher,
        events,
        ApiLimits::generous(body_bytes),
        test_access(),
        None,
    )
    .await
}

/// Starts a server with explicit limits, access settings and metrics address, without
/// seeding.
pub async fn start_configured(
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    events: Arc<dyn Queue>,
    limits: ApiLimits,
    access: quickfix::app::AccessSettings,
    metrics_addr: Option<SocketAddr>,
) -> TestApp {
    serve(
        test_config(store, publisher, limits, access, metrics_addr),
        events,
    )
    .await
}

/// A test server's settings: a quick relay, short tokens, the default SLA policy.
fn test_config(
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    limits: ApiLimits,
    access: quickfix::app::AccessSettings,
    metrics_addr: Option<SocketAddr>,
) -> AppConfig {
    AppConfig {
        store: store.clone(),
        publisher,
        clock: Arc::new(SystemClock),
        tokens: TokenKeys::new(&SecretString::from(JWT_SECRET), Duration::from_secs(600)),
        categories: Categories::default(),
        sla: Arc::new(quickfix::domain::SlaPolicy::default()),
        relay: RelaySettings {
            sweep_interval: Duration::from_millis(200),
            batch_size: 100,
            initial_backoff: Duration::from_millis(50),
            ..RelaySettings::default()
        },
        limits,
        access,
        metrics_addr,
        shutdown_grace: super::STOP_GRACE,
    }
}

/// Starts the API on `backend` with the demo accounts and the SLA policy `sla`; `None` means
/// skip (see [`mongo_uri`]).
pub async fn spawn_app_with_policy(
    backend: Backend,
    sla: quickfix::domain::SlaPolicy,
) -> Option<TestApp> {
    let (store, publisher, events, _) = backends(backend).await?;
    seed(store.as_ref()).await;
    let mut config = test_config(
        store,
        publisher,
        ApiLimits::generous(16 * 1024),
        test_access(),
        None,
    );
    config.sla = Arc::new(sla);
    Some(serve(config, events).await)
}

/// Serves `config` on a free port.
async fn serve(config: AppConfig, events: Arc<dyn Queue>) -> TestApp {
    let store = config.store.clone();
    let server = Server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start server");
    let addr = server.addr();
    TestApp {
        server,
        addr,
        client: reqwest::Client::new(),
        store,
        events,
    }
}

/// An embedded app with the demo accounts and the given limits and access settings.
pub async fn embedded_app_with(
    limits: ApiLimits,
    access: quickfix::app::AccessSettings,
) -> TestApp {
    let (store, publisher, events, _) = backends(Backend::Embedded).await.expect("embedded");
    seed(store.as_ref()).await;
    start_configured(store, publisher, events, limits, access, None).await
}

/// The demo accounts, with [`PASSWORD`].
pub async fn seed(store: &dyn Store) {
    quickfix::demo::seed(
        store,
        &Categories::default(),
        &SystemClock,
        &SecretString::from(PASSWORD),
    )
    .await
    .expect("seed demo accounts");
}

impl TestApp {
    /// A worker on the app's queue (subscribed to every event type), long-polling for `wait`;
    /// its follow-up events go out through the app's relay.
    pub fn worker(&self, wait: Duration) -> quickfix::worker::Worker {
        let ctx = quickfix::worker::Context {
            store: self.store.clone(),
            clock: Arc::new(SystemClock),
            rules: quickfix::domain::PriorityRules::default(),
            sla: Arc::new(quickfix::domain::SlaPolicy::default()),
            outbox: self.server.state().outbox.clone(),
            requeue_on_offline: true,
        };
        let settings = quickfix::worker::ConsumerSettings {
            wait,
            ..quickfix::worker::ConsumerSettings::default()
        };
        quickfix::worker::Worker::new(self.events.clone(), None, ctx, settings)
    }

    /// Runs [`TestApp::worker`] until `shutdown`.
    pub fn spawn_worker(&self, shutdown: &tokio_util::sync::CancellationToken) {
        tokio::spawn(self.worker(Duration::from_secs(1)).run(shutdown.clone()));
    }
}

/// Generates one `#[tokio::test]` per backend for each listed async test function taking a
/// [`TestApp`].
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::spawn_app($crate::common::Backend::Embedded).await.expect("embedded app");
                    super::$name(app).await;
                }
            )+
        }
        mod real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::common::spawn_app($crate::common::Backend::Real).await else { return };
                    super::$name(app).await;
                }
            )+
        }
    };
}
