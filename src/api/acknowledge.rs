//! `POST /api/complaints/{id}/sla/acknowledge`: an agent or admin acknowledges a missed SLA
//! target, which stops the escalation rules measured from it.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::complaints::modify_ticket;
use super::extract::{ApiJson, Auth, Correlation};
use super::input::required;
use super::views::TicketView;
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::SlaTarget;

/// The acknowledgement route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(acknowledge))
}

/// Body of `POST /api/complaints/{id}/sla/acknowledge`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Acknowledgement {
    /// The missed target: `firstResponse` or `resolution`.
    #[schema(required = true, schema_with = schema::sla_target)]
    pub target: Option<String>,
}

/// Acknowledges a missed SLA target (agents and admins): publishes `sla.breach_acknowledged`,
/// and the escalation rules measured from that target's due time stop.
#[utoipa::path(post, path = "/api/complaints/{id}/sla/acknowledge", operation_id = "acknowledgeSlaBreach", tag = "sla", request_body = Acknowledgement,
    params(("id" = String, Path, description = "Ticket id or COMP-number")),
    security(("bearer" = [])),
    responses((status = 200, body = TicketView),
        (status = 403, body = ErrorBody, description = "Customers do not acknowledge breaches"),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller"),
        (status = 409, body = ErrorBody, description = "The target was not missed, or its \
            breach was acknowledged already (`details.field` is `target`); or the ticket \
            changed concurrently several times")))]
async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Acknowledgement>,
) -> Result<Json<TicketView>, ApiError> {
    let target = SlaTarget::parse_field("target", required("target", &body.target)?)?;
    let now = state.clock.now();
    let ticket = modify_ticket(&state, &id, &auth.0, |ticket| {
        let event = ticket.acknowledge_breach(
            &auth.0,
            target,
            &state.sla,
            now,
            correlation.metadata(&auth.0),
        )?;
        Ok(vec![event])
    })
    .await?;
    Ok(Json(TicketView::from(&ticket)))
}
