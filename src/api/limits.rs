//! Abuse limits: rate limits per client address (the whole API, sign-in and registration,
//! Socket.IO connection attempts), a slow-down for accounts with repeated failed sign-ins, a
//! request timeout, and a global cap on requests in flight that sheds load with 503.
//!
//! The limiters are `governor`'s (through `tower_governor` for the HTTP layers) and live in
//! this process: behind a load balancer with N API tasks a client gets up to N times the
//! per-process rate, which is why the defaults are per process and modest.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderName, HeaderValue, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder};
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use super::ApiError;

/// A rate: `burst` requests at once, then one more every `refill_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed back to back.
    pub burst: u32,
    /// Time to earn one more.
    pub refill_every: Duration,
}

impl RateLimit {
    /// `per_minute` requests a minute on average, `burst` at once.
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        Self {
            burst,
            refill_every: Duration::from_secs(60) / per_minute.max(1),
        }
    }

    /// `per_second` requests a second on average, `burst` at once.
    pub fn per_second(per_second: u32, burst: u32) -> Self {
        Self {
            burst,
            refill_every: Duration::from_secs(1) / per_second.max(1),
        }
    }

    fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst.max(1)).expect("BUG: burst is at least 1");
        Quota::with_period(self.refill_every.max(Duration::from_nanos(1)))
            .expect("BUG: the period is not zero")
            .allow_burst(burst)
    }
}

/// Limits applied to every request (`quickfix api` takes them from its settings, whose defaults
/// a deployment can keep).
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// Largest request body, in bytes (413 beyond).
    pub body_bytes: usize,
    /// A request still running after this answers 503.
    pub request_timeout: Duration,
    /// Requests handled at once by this process; more are refused with 503 at once.
    pub max_in_flight: usize,
    /// Every API request, per client address.
    pub per_client: RateLimit,
    /// Sign-in and registration, per client address.
    pub sign_in_per_client: RateLimit,
    /// Failed sign-ins per account before that account's sign-ins are slowed down.
    pub failed_sign_ins_per_account: RateLimit,
    /// Socket.IO connection attempts, per client address.
    pub socket_connects_per_client: RateLimit,
    /// The header whose right-most address is the client's (set by a trusted load balancer);
    /// the TCP peer address when `None`.
    pub trusted_proxy_header: Option<HeaderName>,
    /// Origins allowed to call the API from a browser on another origin; CORS is off when
    /// empty.
    pub cors_origins: Vec<HeaderValue>,
    /// How long the first answer to an `Idempotency-Key` is kept and replayed.
    pub idempotency_window: Duration,
}

impl ApiLimits {
    /// Limits too high to reach from one test or benchmark client, with the given body limit:
    /// for tests of everything but the limits themselves.
    pub fn generous(body_bytes: usize) -> Self {
        let plenty = RateLimit::per_second(1_000_000, 1_000_000);
        Self {
            body_bytes,
            request_timeout: Duration::from_secs(60),
            max_in_flight: 10_000,
            per_client: plenty,
            sign_in_per_client: plenty,
            failed_sign_ins_per_account: plenty,
            socket_connects_per_client: plenty,
            trusted_proxy_header: None,
            cors_origins: Vec::new(),
            idempotency_window: Duration::from_secs(24 * 3600),
        }
    }
}

/// The client's address: the right-most entry of the trusted proxy header when one is
/// configured and present, else the TCP peer. Only the right-most entry is trusted: a client
/// can put anything to the left of what the load balancer appends.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    header: Option<HeaderName>,
}

impl ClientAddress {
    /// Reads the client address from `header` when set.
    pub fn new(header: Option<HeaderName>) -> Self {
        Self { header }
    }

    /// The address of the client that sent `req`.
    pub fn of<T>(&self, req: &axum::http::Request<T>) -> IpAddr {
        let forwarded = self.header.as_ref().and_then(|name| {
            req.headers()
                .get_all(name)
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        });
        forwarded
            .or_else(|| {
                req.extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<Self::Key, GovernorError> {
        Ok(self.of(req))
    }
}

type AddressLimit = GovernorConfig<ClientAddress, governor::middleware::NoOpMiddleware>;

/// The rate limiters of one API process, shared by its layers and handlers.
#[derive(Clone)]
pub struct Guards {
    client: ClientAddress,
    per_client: Arc<AddressLimit>,
    sign_in: Arc<AddressLimit>,
    sockets: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    failed_sign_ins: Arc<FailedSignIns>,
}

impl Guards {
    /// Limiters for `limits`.
    pub fn new(limits: &ApiLimits) -> Self {
        let client = ClientAddress::new(limits.trusted_proxy_header.clone());
        Self {
            per_client: Arc::new(address_limit(&client, limits.per_client)),
            sign_in: Arc::new(address_limit(&client, limits.sign_in_per_client)),
            sockets: Arc::new(RateLimiter::keyed(
                limits.socket_connects_per_client.quota(),
            )),
            failed_sign_ins: Arc::new(FailedSignIns::new(limits.failed_sign_ins_per_account)),
            client,
        }
    }

    /// The limiter for every API request.
    pub fn per_client_layer(
        &self,
    ) -> GovernorLayer<ClientAddress, governor::middleware::NoOpMiddleware, Body> {
        GovernorLayer::new(self.per_client.clone()).error_handler(too_many_requests)
    }

    /// The limiter for sign-in and registration.
    pub fn sign_in_layer(
        &self,
    ) -> GovernorLayer<ClientAddress, governor::middleware::NoOpMiddleware, Body> {
        GovernorLayer::new(self.sign_in.clone()).error_handler(too_many_requests)
    }

    /// Failed sign-ins per account.
    pub fn failed_sign_ins(&self) -> &FailedSignIns {
        &self.failed_sign_ins
    }

    /// Refuses a Socket.IO connection attempt (a request to `/socket.io/` without a session
    /// id) beyond the per-address rate; other requests pass.
    pub async fn socket_connects(&self, req: Request, next: Next) -> axum::response::Response {
        let is_new_connection = req.uri().path().starts_with("/socket.io")
            && !req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p.starts_with("sid=")));
        if is_new_connection && let Err(not_until) = self.sockets.check_key(&self.client.of(&req)) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!("quickfix_rate_limited_total", "limit" => "socket_connect")
                .increment(1);
            return ApiError::TooManyRequests { retry_after: wait }.into_response();
        }
        next.run(req).await
    }

    /// Drops the state of addresses and accounts not seen lately, so the limiters' memory
    /// follows the active clients, not every client ever seen. Call every minute or so.
    pub fn forget_idle(&self) {
        self.per_client.limiter().retain_recent();
        self.sign_in.limiter().retain_recent();
        self.sockets.retain_recent();
        self.failed_sign_ins.failures.retain_recent();
        self.failed_sign_ins.blocked.run_pending_tasks();
    }
}

fn address_limit(client: &ClientAddress, rate: RateLimit) -> AddressLimit {
    GovernorConfigBuilder::default()
        .key_extractor(client.clone())
        .period(rate.refill_every.max(Duration::from_nanos(1)))
        .burst_size(rate.burst.max(1))
        .finish()
        .expect("BUG: a non-zero period and burst make a valid limiter")
}

fn too_many_requests(error: GovernorError) -> Response<Body> {
    let retry_after = match error {
        GovernorError::TooManyRequests { wait_time, .. } => Duration::from_secs(wait_time),
        _ => Duration::from_secs(1),
    };
    metrics::counter!("quickfix_rate_limited_total", "limit" => "address").increment(1);
    ApiError::TooManyRequests { retry_after }.into_response()
}

/// Failed sign-ins per account: a few are free, then the account's sign-ins are refused
/// (429) until the next attempt is earned, whoever makes it. This slows guessing on one
/// account from many addresses, which a per-address limit cannot.
pub struct FailedSignIns {
    failures: DefaultKeyedRateLimiter<String>,
    /// Accounts over their failure budget, with when they may try again.
    blocked: moka::sync::Cache<String, Instant>,
}

impl FailedSignIns {
    fn new(rate: RateLimit) -> Self {
        let longest_block = rate.refill_every.saturating_mul(rate.burst.max(1));
        Self {
            failures: RateLimiter::keyed(rate.quota()),
            blocked: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(longest_block.max(Duration::from_secs(1)))
                .build(),
        }
    }

    /// How long `account` must wait before its next sign-in attempt, if it must.
    pub fn wait(&self, account: &str) -> Option<Duration> {
        let until = self.blocked.get(account)?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a failed sign-in on `account`.
    pub fn record(&self, account: &str) {
        if let Err(not_until) = self.failures.check_key(&account.to_owned()) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.blocked
                .insert(account.to_owned(), Instant::now() + wait);
        }
    }
}

/// Wraps `router` in the request timeout and the cap on requests in flight: a request over
/// the cap is refused with 503 at once rather than queued.
pub fn shed_load<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    limits: &ApiLimits,
) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(overloaded))
            .load_shed()
            // Global: `Router::layer` applies a layer to each route, and a plain concurrency
            // limit would then be a limit per route.
            .layer(GlobalConcurrencyLimitLayer::new(
                limits.max_in_flight.max(1),
            ))
            .timeout(limits.request_timeout),
    )
}

async fn overloaded(error: BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        metrics::counter!("quickfix_http_timeouts_total").increment(1);
        ApiError::Timeout
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        metrics::counter!("quickfix_http_shed_total").increment(1);
        ApiError::Overloaded {
            retry_after: Duration::from_secs(1),
        }
    } else {
        ApiError::Internal(format!("middleware failed: {error}"))
    }
}

/// The `Retry-After` value for `wait`: whole seconds, at least 1.
pub fn retry_after_header(wait: Duration) -> HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}
