//! The API's abuse limits: request rates, sizes, time and concurrency, password hashing.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use clap::Args;
use clap::builder::RangedU64ValueParser;
use clap::value_parser;

use crate::api::{ApiLimits, RateLimit};
use crate::defaults;

/// The API's abuse limits (`.env.example` has the defaults a deployment can keep).
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest request body in bytes (413 beyond).
    #[arg(long, env = "QUICKFIX_BODY_LIMIT_BYTES", default_value_t = defaults::BODY_LIMIT_BYTES,
        value_parser = RangedU64ValueParser::<usize>::new().range(1024..=16_777_216))]
    pub body_limit_bytes: usize,
    /// Requests per second per client address, on average, over the whole API.
    #[arg(long, env = "QUICKFIX_RATE_LIMIT_PER_SECOND", default_value_t = defaults::RATE_LIMIT_PER_SECOND,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_per_second: u32,
    /// Requests per client address allowed back to back over the whole API.
    #[arg(long, env = "QUICKFIX_RATE_LIMIT_BURST", default_value_t = defaults::RATE_LIMIT_BURST,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: u32,
    /// Sign-ins and registrations per minute per client address, on average.
    #[arg(long, env = "QUICKFIX_SIGN_IN_PER_MINUTE", default_value_t = defaults::SIGN_IN_PER_MINUTE,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub sign_in_per_minute: u32,
    /// Sign-ins and registrations per client address allowed back to back.
    #[arg(long, env = "QUICKFIX_SIGN_IN_BURST", default_value_t = defaults::SIGN_IN_BURST,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub sign_in_burst: u32,
    /// Failed sign-ins an account may have back to back before its sign-ins are slowed down.
    #[arg(long, env = "QUICKFIX_ACCOUNT_FAILURES_BURST", default_value_t = defaults::ACCOUNT_FAILURES_BURST,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub account_failures_burst: u32,
    /// After that, failed sign-ins allowed per minute on one account.
    #[arg(long, env = "QUICKFIX_ACCOUNT_FAILURES_PER_MINUTE", default_value_t = defaults::ACCOUNT_FAILURES_PER_MINUTE,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub account_failures_per_minute: u32,
    /// Socket.IO connection attempts per minute per client address, on average.
    #[arg(long, env = "QUICKFIX_SOCKET_CONNECTS_PER_MINUTE", default_value_t = defaults::SOCKET_CONNECTS_PER_MINUTE,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub socket_connects_per_minute: u32,
    /// Socket.IO connection attempts per client address allowed back to back.
    #[arg(long, env = "QUICKFIX_SOCKET_CONNECTS_BURST", default_value_t = defaults::SOCKET_CONNECTS_BURST,
        value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub socket_connects_burst: u32,
    /// Seconds a request may run before it is answered with 503.
    #[arg(long, env = "QUICKFIX_REQUEST_TIMEOUT_SECONDS", default_value_t = defaults::REQUEST_TIMEOUT_SECONDS,
        value_parser = value_parser!(u64).range(1..=300))]
    pub request_timeout_seconds: u64,
    /// Requests handled at once; more are refused with 503 rather than queued.
    #[arg(long, env = "QUICKFIX_MAX_IN_FLIGHT", default_value_t = defaults::MAX_IN_FLIGHT,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub max_in_flight: usize,
    /// Password hashes computed at once (argon2id, 19 MiB each); the number of CPUs when unset.
    #[arg(long, env = "QUICKFIX_HASH_CONCURRENCY",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub hash_concurrency: Option<usize>,
    /// Milliseconds a sign-in waits for a hashing slot before it is answered with 503.
    #[arg(long, env = "QUICKFIX_HASH_WAIT_MS", default_value_t = defaults::HASH_WAIT_MS,
        value_parser = value_parser!(u64).range(1..=30_000))]
    pub hash_wait_ms: u64,
    /// Header whose right-most address is the client's, set by a trusted load balancer
    /// (`x-forwarded-for` behind an AWS ALB). Unset: the TCP peer address. Never set it when
    /// clients reach the API directly: they could then choose their own address.
    #[arg(long, env = "QUICKFIX_TRUSTED_PROXY_HEADER", value_parser = parse_header_name)]
    pub trusted_proxy_header: Option<HeaderName>,
    /// Origins allowed to call the API from browser pages elsewhere (comma-separated, e.g.
    /// `https://support.example.com`). CORS is off when empty.
    #[arg(long, env = "QUICKFIX_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<HeaderValue>,
    /// Hours the first answer to a request with an `Idempotency-Key` is kept and replayed.
    #[arg(long, env = "QUICKFIX_IDEMPOTENCY_HOURS", default_value_t = defaults::IDEMPOTENCY_HOURS,
        value_parser = value_parser!(u64).range(1..=720))]
    pub idempotency_hours: u64,
}

fn parse_header_name(raw: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(raw.trim().as_bytes())
        .map_err(|_| format!("{raw:?} is not a header name"))
}

fn parse_origin(raw: &str) -> Result<HeaderValue, String> {
    let raw = raw.trim();
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && !raw.ends_with('/')
        && raw
            .split("://")
            .nth(1)
            .is_some_and(|host| !host.is_empty() && !host.contains('/'));
    if !ok {
        return Err(format!(
            "{raw:?} is not an origin like https://support.example.com"
        ));
    }
    HeaderValue::from_str(raw).map_err(|_| format!("{raw:?} is not an origin"))
}

impl LimitArgs {
    /// The API limits these settings describe.
    pub fn api_limits(&self) -> ApiLimits {
        ApiLimits {
            body_bytes: self.body_limit_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_seconds),
            max_in_flight: self.max_in_flight,
            per_client: RateLimit::per_second(self.rate_limit_per_second, self.rate_limit_burst),
            sign_in_per_client: RateLimit::per_minute(self.sign_in_per_minute, self.sign_in_burst),
            failed_sign_ins_per_account: RateLimit::per_minute(
                self.account_failures_per_minute,
                self.account_failures_burst,
            ),
            socket_connects_per_client: RateLimit::per_minute(
                self.socket_connects_per_minute,
                self.socket_connects_burst,
            ),
            trusted_proxy_header: self.trusted_proxy_header.clone(),
            cors_origins: self.cors_origins.clone(),
            idempotency_window: Duration::from_secs(self.idempotency_hours * 3600),
        }
    }

    /// Password hashing: the configured number of slots (else one per CPU) and wait.
    pub fn password_work(&self) -> crate::auth::PasswordWork {
        crate::auth::PasswordWork::new(
            self.hash_concurrency
                .unwrap_or_else(crate::auth::default_concurrency),
            Duration::from_millis(self.hash_wait_ms),
        )
    }
}
