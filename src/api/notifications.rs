//! `/api/notifications`: the signed-in user's durable inbox (what the live feed delivers, kept
//! for clients that were not connected).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Auth;
use super::input::{page_limit, timestamp};
use super::{ApiError, AppState, ErrorBody};
use crate::domain::Notification;

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// The notification routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/notifications", get(list))
        .route("/api/notifications/{id}/read", post(mark_read))
}

/// A notification as the inbox returns it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    /// Id (stable: the same event never notifies twice).
    pub id: String,
    /// `ticketAssigned`, `complaintUpdated`, `ticketEscalated`, `slaBreached`,
    /// `agentAvailabilityChanged`.
    pub kind: String,
    /// One readable line.
    pub message: String,
    /// Ticket (or agent) summary.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The event that caused it.
    pub event_id: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was marked read.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind.to_string(),
            message: n.message,
            data: n.data,
            event_id: n.event_id.to_string(),
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// Query of `GET /api/notifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// Only notifications made after this time (RFC 3339), e.g. the last one a client saw.
    pub since: Option<String>,
    /// At most this many, 1 to 200 (default 50).
    pub limit: Option<String>,
}

/// The signed-in user's notifications, oldest first.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(InboxParams),
    security(("bearer" = [])),
    responses((status = 200, body = [NotificationView]), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<InboxParams>, QueryRejection>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let since = timestamp("since", params.since.as_deref())?;
    let limit = page_limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let found = state
        .store
        .list_notifications(Some(auth.0.id), since, limit)
        .await?;
    Ok(Json(
        found.into_iter().map(NotificationView::from).collect(),
    ))
}

/// Marks one of the signed-in user's notifications read.
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications",
    params(("id" = String, Path, description = "Notification id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Marked read"), (status = 404, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state
        .store
        .mark_notification_read(auth.0.id, &id, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("notification"))
    }
}
