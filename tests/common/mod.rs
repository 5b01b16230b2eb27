//! Shared test harness: which real services are available, `spawn_app` on either backend, typed
//! request helpers, event observation, and a TCP proxy that can be switched on to simulate an
//! outage.
#![allow(dead_code)]

pub mod commands;
pub mod faulty_store;
pub mod process;
pub mod proxy;
pub mod socket;
pub mod system;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quickfix::app::{AppConfig, Server};
use quickfix::domain::{Categories, Envelope, EventMetadata, EventType, SystemClock};
use quickfix::{
    ApiLimits, AwsOptions, MemoryStore, MemoryTopology, MongoStore, MongoStoreOptions, Publisher,
    Queue, RelaySettings, SnsPublisher, SqsQueue, Store, TokenKeys, Topology, TopologySpec,
    aws_config, provision,
};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

/// Password of the demo accounts every test app starts with.
pub const PASSWORD: &str = "quickfix";
/// Secret that signs the test apps' tokens.
pub const JWT_SECRET: &str = "test-secret-for-quickfix-tests";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn service(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if in_ci() => panic!(
            "CI=true but {var} is not set: the {what} tests must run in CI (scripts/test.sh starts it)"
        ),
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set, so the {what} tests do not run here; scripts/test.sh starts {what} and sets it"
            );
            None
        }
    }
}

/// The MongoDB-compatible server for tests, or `None` (skip) outside CI.
pub fn mongo_uri() -> Option<String> {
    service("QUICKFIX_TEST_MONGODB_URI", "MongoDB")
}

/// The folder of the Node.js end-to-end checks with their packages installed, or `None`
/// (skip) outside CI.
pub fn e2e_dir() -> Option<String> {
    service("QUICKFIX_TEST_E2E_DIR", "Node.js end-to-end")
}

/// A Python with python-hcl2 (the Terraform checks), or `None` (skip) outside CI.
pub fn python_with_hcl2() -> Option<String> {
    service("QUICKFIX_TEST_PYTHON", "Terraform")
}

/// The compose command (`docker compose` or `docker-compose`), or `None` (skip) outside CI.
pub fn compose() -> Option<String> {
    service("QUICKFIX_TEST_COMPOSE", "docker compose")
}

/// The Chromium binary for the browser test, or `None` (skip) outside CI.
pub fn chromium() -> Option<String> {
    service("QUICKFIX_TEST_CHROMIUM", "browser")
}

/// The SNS/SQS emulator endpoint for tests, or `None` (skip) outside CI.
pub fn aws_endpoint() -> Option<String> {
    service("QUICKFIX_TEST_AWS_ENDPOINT", "SNS/SQS")
}

/// A fresh database on the test server.
pub async fn mongo_store() -> Option<MongoStore> {
    let uri = mongo_uri()?;
    let db = format!("qf_test_{}", uuid::Uuid::new_v4().simple());
    Some(
        MongoStore::connect(&uri, &db, MongoStoreOptions::default())
            .await
            .expect("connect to the test MongoDB"),
    )
}

/// AWS options for the emulator at `endpoint`.
pub fn aws_options(endpoint: &str) -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        region: Some("us-east-1".into()),
    }
}

/// A spec with names unique to this test, subscribed to `event_types`.
pub fn unique_spec(event_types: Vec<EventType>) -> TopologySpec {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
    TopologySpec {
        topic_name: format!("qf-{tag}-events"),
        queue_name: format!("qf-{tag}-worker"),
        dead_letter_queue_name: format!("qf-{tag}-dlq"),
        event_types,
        ..TopologySpec::default()
    }
}

/// A fresh topology on the emulator.
pub async fn aws_topology(endpoint: &str, spec: &TopologySpec) -> Topology {
    let config = aws_config(&aws_options(endpoint)).await;
    provision(&config, spec)
        .await
        .expect("provision the test topology")
}

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

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub id: String,
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The `error.details.field` of an error body.
    pub fn field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or("")
    }

    /// Asserts an error answer: the status, the JSON error code, and a message.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "an error carries a message: {}",
            self.body
        );
        self
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request failed");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    fn with_token(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// The body of `GET path` as text, whatever its type.
    pub async fn text(&self, path: &str) -> String {
        let res = self.client.get(self.url(path)).send().await.expect("GET");
        res.text().await.expect("a text body")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Self::with_token(self.client.get(self.url(path)), token))
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::with_token(
            self.client.post(self.url(path)).json(&body),
            token,
        ))
        .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Self::with_token(
            self.client.patch(self.url(path)).json(&body),
            token,
        ))
        .await
    }

    /// Signs in as `email` with the demo password.
    pub async fn login(&self, email: &str) -> Session {
        let reply = self
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await
            .expect(200);
        Session {
            token: reply.body["token"].as_str().unwrap().to_owned(),
            id: reply.body["user"]["id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn admin(&self) -> Session {
        self.login("admin@quickfix.dev").await
    }

    pub async fn customer(&self, n: u8) -> Session {
        self.login(&format!("customer{n}@quickfix.dev")).await
    }

    /// Demo agent `n` (1: Technical+Account, 2: Billing+General, 3: all, senior).
    pub async fn agent(&self, n: u8) -> Session {
        self.login(&format!("agent{n}@quickfix.dev")).await
    }

    /// Opens a ticket as `session` and returns its JSON.
    pub async fn open_ticket(&self, session: &Session, title: &str, category: &str) -> Value {
        self.post(
            "/api/complaints",
            Some(&session.token),
            json!({"title": title, "description": "Something is wrong", "category": category}),
        )
        .await
        .expect(201)
        .body
    }

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

    /// Assigns a ticket to an agent as admin.
    pub async fn assign(&self, admin: &Session, ticket_id: &str, agent_id: &str) -> Reply {
        self.post(
            &format!("/api/complaints/{ticket_id}/assign"),
            Some(&admin.token),
            json!({"agentId": agent_id}),
        )
        .await
    }

    /// Receives events until `want` of type `event_type` have arrived or `deadline` passes;
    /// returns those of that type (and deletes everything received).
    pub async fn collect_events(
        &self,
        event_type: EventType,
        want: usize,
        deadline: Duration,
    ) -> Vec<Envelope> {
        collect_events(self.events.as_ref(), event_type, want, deadline).await
    }
}

/// See [`TestApp::collect_events`].
pub async fn collect_events(
    queue: &dyn Queue,
    event_type: EventType,
    want: usize,
    deadline: Duration,
) -> Vec<Envelope> {
    let until = tokio::time::Instant::now() + deadline;
    let mut found = Vec::new();
    while found.len() < want && tokio::time::Instant::now() < until {
        let batch = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        for delivery in batch {
            let envelope: Envelope =
                serde_json::from_str(&delivery.body).expect("event body is an envelope");
            assert_eq!(
                delivery.event_type.as_deref(),
                Some(envelope.event_type().as_str()),
                "eventType attribute matches the body"
            );
            if envelope.event_type() == event_type {
                found.push(envelope);
            }
        }
        if !receipts.is_empty() {
            queue.delete(&receipts).await.expect("delete");
        }
    }
    found
}

/// Polls `check` until it returns `Some` or `deadline` passes.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Generates one `#[tokio::test]` per store adapter (memory, MongoDB with a fresh database)
/// for each listed async test function taking an `Arc<dyn Store>`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(std::sync::Arc::new(quickfix::MemoryStore::new())).await;
                }
            )+
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = $crate::common::mongo_store().await else { return };
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }
    };
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
    let config = AppConfig {
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
    };
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

/// A publisher that refuses everything while switched off, like a topic that is down.
pub struct SwitchablePublisher {
    inner: Arc<dyn Publisher>,
    up: std::sync::atomic::AtomicBool,
}

impl SwitchablePublisher {
    pub fn new(inner: Arc<dyn Publisher>, up: bool) -> Arc<Self> {
        Arc::new(Self {
            inner,
            up: std::sync::atomic::AtomicBool::new(up),
        })
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
    }

    fn check_up(&self) -> Result<(), quickfix::BusError> {
        if self.up.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(quickfix::BusError::Unavailable(
                "switched off by the test".into(),
            ))
        }
    }
}

#[async_trait::async_trait]
impl Publisher for SwitchablePublisher {
    async fn publish(
        &self,
        events: &[Envelope],
    ) -> Result<quickfix::PublishReport, quickfix::BusError> {
        self.check_up()?;
        self.inner.publish(events).await
    }

    async fn republish(
        &self,
        events: &[Envelope],
    ) -> Result<quickfix::PublishReport, quickfix::BusError> {
        self.check_up()?;
        self.inner.republish(events).await
    }

    async fn ping(&self) -> Result<(), quickfix::BusError> {
        self.inner.ping().await
    }
}

/// Receives (and deletes) message bodies until `want` have arrived or `deadline` passes.
pub async fn collect_bodies(queue: &dyn Queue, want: usize, deadline: Duration) -> Vec<String> {
    let until = tokio::time::Instant::now() + deadline;
    let mut bodies = Vec::new();
    while bodies.len() < want && tokio::time::Instant::now() < until {
        let batch = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        bodies.extend(batch.into_iter().map(|d| d.body));
        if !receipts.is_empty() {
            queue.delete(&receipts).await.expect("delete");
        }
    }
    bodies
}

/// An event as any producer (or a forger) puts it on the wire: the envelope of `event_type`
/// around `data`, which must carry the fields the type requires to be handled.
pub fn wire_event(event_type: EventType, data: Value, meta: &EventMetadata) -> String {
    json!({
        "eventId": uuid::Uuid::new_v4(),
        "eventType": event_type.as_str(),
        "version": event_type.version(),
        "timestamp": chrono::Utc::now(),
        "data": data,
        "metadata": meta,
    })
    .to_string()
}

/// [`wire_event`], read back as the envelope a consumer sees.
pub fn envelope(event_type: EventType, data: Value, meta: &EventMetadata) -> Envelope {
    Envelope::from_json(&wire_event(event_type, data, meta)).expect("a complete event")
}

/// Some `ticket.requeued` event, for what needs an event but not a particular one (the cause of
/// a notification, say).
pub fn some_event() -> Envelope {
    let ticket = uuid::Uuid::now_v7().to_string();
    envelope(
        EventType::TicketRequeued,
        json!({"ticketId": ticket, "complaintId": "COMP-00001", "userId": uuid::Uuid::now_v7(),
               "title": "A ticket", "category": "General", "priority": "Low",
               "previousAssignee": null, "reason": "test"}),
        &EventMetadata::system("test"),
    )
}

/// A logged event of `kind` about `ticket`, by `actor`, in `correlation`, at `at`.
pub fn logged(
    kind: EventType,
    ticket: quickfix::domain::TicketId,
    actor: &str,
    correlation: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> quickfix::domain::LoggedEvent {
    use quickfix::domain::{
        Event, LoggedEvent, Priority, SlaAlert, SlaTarget, Status, TicketRequeued, UserId,
    };
    let complaint_id = quickfix::domain::ComplaintId::from_sequence(7);
    let requester = UserId::generate();
    let event = match kind {
        EventType::SlaWarning => Event::SlaWarning(SlaAlert {
            ticket_id: ticket,
            complaint_id,
            user_id: requester,
            title: "A ticket".into(),
            priority: Priority::High,
            status: Status::Open,
            assigned_to: None,
            target: SlaTarget::FirstResponse,
            due_at: at,
            rule: "High first response target 4h".into(),
        }),
        _ => Event::TicketRequeued(TicketRequeued {
            ticket_id: ticket,
            complaint_id,
            user_id: requester,
            title: "A ticket".into(),
            category: "General".into(),
            priority: Priority::Low,
            previous_assignee: None,
            reason: "test".into(),
        }),
    };
    LoggedEvent::new(
        Envelope::new(event, EventMetadata::requested(correlation, actor), at),
        at + chrono::TimeDelta::milliseconds(3),
    )
}

/// Asserts `reply` is an error of `status` with `code` and a message.
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.code(), code, "body: {}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}
