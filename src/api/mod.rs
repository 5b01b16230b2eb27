//! The REST API: one router per resource, merged and layered once in [`router`].

mod accounts;
mod acknowledge;
mod agents;
mod complaints;
mod conversation;
mod dashboard;
mod error;
mod events;
mod extract;
mod headers;
mod idempotency;
mod input;
mod limits;
mod new_account;
mod notifications;
mod openapi;
mod ops;
mod organizations;
mod schema;
mod sla;
mod users;
mod views;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{PasswordWork, Sessions};
use crate::bus::Publisher;
use crate::domain::{Categories, Clock, Priority, SlaPolicy};
use crate::store::Store;

pub use error::{ApiError, ErrorBody};
pub use headers::CONTENT_SECURITY_POLICY;
pub use limits::{ApiLimits, ClientAddress, Guards, RateLimit};
pub use openapi::ApiDoc;
pub use ops::Readiness;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Tickets, users, outboxes.
    pub store: Arc<dyn Store>,
    /// The topic (used by readiness; events go out through the outbox relay).
    pub publisher: Arc<dyn Publisher>,
    /// The source of timestamps.
    pub clock: Arc<dyn Clock>,
    /// Issues tokens and checks them against the stored accounts.
    pub sessions: Arc<Sessions>,
    /// Password hashing, bounded in concurrency.
    pub passwords: PasswordWork,
    /// This process's rate limiters.
    pub guards: Guards,
    /// The highest priority a customer may give their own ticket.
    pub customer_max_priority: Priority,
    /// The cached readiness check.
    pub readiness: Arc<Readiness>,
    /// Whether the live relay follows the notifications feed yet.
    pub live_ready: tokio::sync::watch::Receiver<bool>,
    /// How long the answer to an `Idempotency-Key` is kept.
    pub idempotency_window: std::time::Duration,
    /// Whether `/metrics` is served on the API's own listener (not when it has its own
    /// address).
    pub public_metrics: bool,
    /// Accepted ticket categories.
    pub categories: Arc<Categories>,
    /// SLA targets (due times of new tickets) and escalation rules.
    pub sla: Arc<SlaPolicy>,
    /// Signalled after every write that stores events, to wake the outbox relay.
    pub outbox: Arc<Notify>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
}

/// The largest request body, as an extension the JSON extractor reads.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The whole API with its middleware, outermost first: request ids, tracing, security headers
/// (and CORS when configured), the per-client rate limit, the request timeout and the cap on
/// requests in flight, panic safety, the body limit, metrics, and JSON answers for unknown
/// paths and methods.
///
/// The JSON routes and the OpenAPI document served at `/openapi.json` come from the same
/// routers; the dashboard's page and assets are the only routes outside it.
pub fn router(state: AppState, limits: &ApiLimits) -> Router {
    let (documented, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router(&state.guards))
        .merge(users::router())
        .merge(organizations::router())
        .merge(complaints::router())
        .merge(conversation::router())
        .merge(events::router())
        .merge(agents::router())
        .merge(notifications::router())
        .merge(sla::router())
        .merge(acknowledge::router())
        .merge(ops::router(state.public_metrics))
        .split_for_parts();
    openapi::describe(&mut doc, &state.categories, &state.sla);
    let routes = documented
        .merge(dashboard::router())
        .layer(axum::Extension(ops::OpenApiJson::new(&doc)))
        .route_layer(middleware::from_fn(record_request))
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::Extension(BodyLimit(limits.body_bytes)))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("a handler panicked".into()).into_response()
        }));
    let guarded = limits::shed_load(routes, limits).layer(state.guards.per_client_layer());
    headers::harden(guarded, &limits.cors_origins)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span of one request. It continues the caller's trace (`traceparent`), so a load
/// balancer's or a client's trace runs on into QuickFix; [`record_request`] names it after the
/// route once one matched.
fn request_span(req: &Request) -> tracing::Span {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
        otel.kind = "server",
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = req
        .headers()
        .get(crate::telemetry::trace::TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    crate::telemetry::trace::continue_trace(&span, parent);
    span
}

/// Counts requests and records their latency per route and status.
async fn record_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let span = tracing::Span::current();
    crate::telemetry::trace::rename_current_span(format!("{method} {route}"));
    span.record("http.route", route.as_str());
    let response = next.run(req).await;
    span.record("http.response.status_code", response.status().as_u16());
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("quickfix_http_requests_total", &labels).increment(1);
    metrics::histogram!("quickfix_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
