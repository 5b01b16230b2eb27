//! `/api/notifications`: the signed-in user's durable inbox (what the live feed delivers, kept
//! for clients that were not connected).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Auth;
use super::input::{page_limit, timestamp};
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::Notification;

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// The notification routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(mark_read))
}

/// A notification as the inbox returns it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    /// Id (stable: the same event never notifies twice).
    pub id: String,
    /// `ticketAssigned`, `complaintUpdated`, `ticketEscalated`, `slaBreached`,
    /// `agentAvailabilityChanged`.
    #[schema(schema_with = schema::notification_kind)]
    pub kind: String,
    /// One readable line.
    pub message: String,
    /// Ticket (or agent) summary.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The event that caused it.
    #[schema(schema_with = schema::uuid)]
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
    #[param(schema_with = schema::date_time)]
    pub since: Option<String>,
    /// At most this many, 1 to 200 (default 50).
    #[param(schema_with = schema::limit_200)]
    pub limit: Option<String>,
}

/// The signed-in user's notifications, oldest first.
#[utoipa::path(get, path = "/api/notifications", operation_id = "listNotifications", tag = "notifications", params(InboxParams),
    security(("bearer" = [])),
    responses((status = 200, body = [NotificationView])))]
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
#[utoipa::path(post, path = "/api/notifications/{id}/read", operation_id = "markNotificationRead", tag = "notifications",
    params(("id" = String, Path, description = "Notification id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Marked read"),
        (status = 404, body = ErrorBody, description = "No such notification of the caller's")))]
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
