//! The REST API: one router per resource, merged and layered once in [`router`].

mod accounts;
mod agents;
mod complaints;
mod dashboard;
mod error;
mod extract;
mod input;
mod notifications;
mod openapi;
mod ops;
mod sla;
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

use crate::auth::TokenKeys;
use crate::bus::Publisher;
use crate::domain::{Categories, Clock, SlaPolicy};
use crate::store::Store;

pub use error::{ApiError, ErrorBody};
pub use openapi::ApiDoc;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Tickets, users, outboxes.
    pub store: Arc<dyn Store>,
    /// The topic (used by readiness; events go out through the outbox relay).
    pub publisher: Arc<dyn Publisher>,
    /// The source of timestamps.
    pub clock: Arc<dyn Clock>,
    /// Bearer token keys.
    pub tokens: Arc<TokenKeys>,
    /// Accepted ticket categories.
    pub categories: Arc<Categories>,
    /// SLA targets (due times of new tickets) and escalation rules.
    pub sla: Arc<SlaPolicy>,
    /// Signalled after every write that stores events, to wake the outbox relay.
    pub outbox: Arc<Notify>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    /// Largest request body, in bytes (413 beyond).
    pub body_bytes: usize,
}

/// The whole API with its middleware: request ids, tracing, panic safety, body limit, metrics,
/// and JSON answers for unknown paths and methods.
pub fn router(state: AppState, limits: ApiLimits) -> Router {
    Router::new()
        .merge(accounts::router())
        .merge(complaints::router())
        .merge(agents::router())
        .merge(notifications::router())
        .merge(sla::router())
        .merge(dashboard::router())
        .merge(ops::router())
        .route_layer(middleware::from_fn(record_request))
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::Extension(limits))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("a handler panicked".into()).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Counts requests and records their latency per route and status.
async fn record_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("quickfix_http_requests_total", &labels).increment(1);
    metrics::histogram!("quickfix_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
