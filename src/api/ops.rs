//! Operations routes: liveness, readiness, Prometheus metrics, the OpenAPI document, and the
//! public client configuration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppState, ErrorBody};

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a readiness answer is reused: probes from many load balancer nodes (or anyone
/// else) reach the store at most once per this.
pub const READINESS_CACHE: Duration = Duration::from_secs(1);

/// The operations routes; `/metrics` only when `public_metrics`.
pub fn router(public_metrics: bool) -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::default()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi))
        .routes(routes!(asyncapi))
        .routes(routes!(client_config));
    if public_metrics {
        router.routes(routes!(metrics))
    } else {
        router
    }
}

/// The OpenAPI document as served, serialized once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(Arc<str>);

impl OpenApiJson {
    /// Serializes `doc`.
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Self {
        Self(
            serde_json::to_string(doc)
                .expect("BUG: the OpenAPI document serializes")
                .into(),
        )
    }
}

/// The last readiness check, reused for [`READINESS_CACHE`]; one check at a time.
#[derive(Debug, Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, bool, bool)>>,
}

impl Readiness {
    /// Whether the store and the bus answer, checked at most once per [`READINESS_CACHE`].
    async fn check(&self, state: &AppState) -> (bool, bool) {
        let mut last = self.last.lock().await;
        if let Some((at, store, bus)) = *last
            && at.elapsed() < READINESS_CACHE
        {
            return (store, bus);
        }
        let (store, bus) = tokio::join!(
            tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()),
            tokio::time::timeout(PROBE_TIMEOUT, state.publisher.ping()),
        );
        let checked = (matches!(store, Ok(Ok(()))), matches!(bus, Ok(Ok(()))));
        *last = Some((Instant::now(), checked.0, checked.1));
        checked
    }
}

/// The answer of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "health", tag = "operations",
    responses((status = 200, body = Health, description = "Alive")))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessView {
    /// `ready`, or `unavailable` when a check fails.
    #[schema(pattern = "^(ready|unavailable)$")]
    pub status: &'static str,
    /// Each dependency.
    pub checks: ReadinessChecks,
}

/// The checks behind `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// The database: `ok` or `unavailable`.
    #[schema(pattern = "^(ok|unavailable)$")]
    pub store: &'static str,
    /// The event bus: `ok` or `unavailable`.
    #[schema(pattern = "^(ok|unavailable)$")]
    pub bus: &'static str,
    /// The live relay: `ok`, or `starting` until it follows the notifications feed.
    #[schema(pattern = "^(ok|starting)$")]
    pub live: &'static str,
}

/// What `/readyz` answers with 503: its checks when a dependency is down, an error when the
/// server itself is at capacity.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum NotReady {
    /// A check failed.
    Checks(ReadinessView),
    /// Load shedding or the request timeout answered first.
    Busy(ErrorBody),
}

/// Readiness: the store and the event bus answer (checked at most once a second), and the live
/// relay follows the notifications feed.
#[utoipa::path(get, path = "/readyz", operation_id = "readiness", tag = "operations",
    responses((status = 200, body = ReadinessView, description = "Ready"),
        (status = 503, body = NotReady, description = "A dependency is down (or the server is \
            at capacity)")))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (store_ok, bus_ok) = state.readiness.check(&state).await;
    let live_ok = *state.live_ready.borrow();
    let describe = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = store_ok && bus_ok && live_ok;
    let body = ReadinessView {
        status: if ready { "ready" } else { "unavailable" },
        checks: ReadinessChecks {
            store: describe(store_ok),
            bus: describe(bus_ok),
            live: if live_ok { "ok" } else { "starting" },
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, body = String, content_type = "text/plain",
        description = "Prometheus text")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openApiDocument", tag = "operations",
    responses((status = 200, body = Object, description = "OpenAPI 3.1")))]
async fn openapi(Extension(doc): Extension<OpenApiJson>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
}

/// The AsyncAPI 3 document of the events topic.
#[utoipa::path(get, path = "/asyncapi.json", operation_id = "asyncApiDocument", tag = "operations",
    responses((status = 200, body = Object, description = "AsyncAPI 3.0")))]
async fn asyncapi() -> Json<serde_json::Value> {
    Json(crate::asyncapi::document())
}

/// What a client needs to build its forms.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The ticket categories.
    #[schema(schema_with = categories)]
    pub categories: Vec<String>,
    /// The priorities a customer may choose, lowest first (staff may choose any).
    #[schema(schema_with = priorities)]
    pub customer_priorities: Vec<crate::domain::Priority>,
}

/// The categories and the priorities a customer may choose; no sign-in needed.
#[utoipa::path(get, path = "/api/config", operation_id = "clientConfig", tag = "operations",
    responses((status = 200, body = ClientConfig)))]
async fn client_config(State(state): State<AppState>) -> Json<ClientConfig> {
    Json(ClientConfig {
        categories: state
            .categories
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        customer_priorities: crate::domain::Priority::ALL
            .iter()
            .copied()
            .filter(|p| *p <= state.customer_max_priority)
            .collect(),
    })
}

fn priorities() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new().items(super::schema::priority())
}

fn categories() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new().items(super::schema::category())
}
