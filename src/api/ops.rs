//! Operations routes: liveness, readiness, Prometheus metrics, the OpenAPI document, and the
//! public client configuration.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use utoipa::OpenApi;

use super::AppState;
use super::openapi::ApiDoc;

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a readiness answer is reused: probes from many load balancer nodes (or anyone
/// else) reach the store at most once per this.
pub const READINESS_CACHE: Duration = Duration::from_secs(1);

/// The operations routes; `/metrics` only when `public_metrics`.
pub fn router(public_metrics: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route("/asyncapi.json", get(asyncapi))
        .route("/api/config", get(client_config));
    if public_metrics {
        router.route("/metrics", get(metrics))
    } else {
        router
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

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store and the event bus answer (checked at most once a second), and the live
/// relay follows the notifications feed.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "A dependency is down")))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (store_ok, bus_ok) = state.readiness.check(&state).await;
    let live_ok = *state.live_ready.borrow();
    let describe = |ok: bool| if ok { "ok" } else { "unavailable" };
    let status = if store_ok && bus_ok && live_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "checks": {
            "store": describe(store_ok),
            "bus": describe(bus_ok),
            "live": if live_ok { "ok" } else { "starting" },
        },
    });
    (status, Json(body))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1")))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The AsyncAPI 3 document of the events topic.
#[utoipa::path(get, path = "/asyncapi.json", tag = "operations", responses((status = 200, description = "AsyncAPI 3.0")))]
async fn asyncapi() -> Json<serde_json::Value> {
    Json(crate::asyncapi::document())
}

/// What a client needs to build its forms.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The ticket categories.
    pub categories: Vec<String>,
    /// The priorities a customer may choose, lowest first (staff may choose any).
    #[schema(value_type = Vec<String>)]
    pub customer_priorities: Vec<crate::domain::Priority>,
}

/// The categories and the priorities a customer may choose; no sign-in needed.
#[utoipa::path(get, path = "/api/config", tag = "operations", responses((status = 200, body = ClientConfig)))]
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
