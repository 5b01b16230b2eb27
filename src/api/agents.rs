//! `/api/agents`: creating agents and setting their presence.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, Auth, Correlation};
use super::idempotency::{IdempotencyKey, IdempotencyParams};
use super::input::required;
use super::new_account::{AccountFields, create_account};
use super::views::UserView;
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{Presence, Role, UserId};
use crate::store::CONFLICT_ATTEMPTS;

/// The agent routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(set_presence))
}

/// Body of `POST /api/agents`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreateAgent(pub AccountFields);

// Written out rather than derived: the derive leaves out `password`, which is not serialized
// (so that it stays out of the stored idempotency fingerprint) but is required.
impl ToSchema for CreateAgent {}

impl PartialSchema for CreateAgent {
    fn schema() -> RefOr<Schema> {
        schema::with_agent_fields(schema::with_identity(
            ObjectBuilder::new().schema_type(Type::Object),
        ))
        .description(Some(
            "A new agent: skills (at least one category), tier (default agent), capacity \
             (default 1) and presence (default offline).",
        ))
        .into()
    }
}

/// Creates an agent (admins).
#[utoipa::path(post, path = "/api/agents", operation_id = "createAgent", tag = "agents", request_body = CreateAgent,
    params(IdempotencyParams),
    security(("bearer" = [])),
    responses((status = 201, body = UserView, headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the stored answer to an earlier request"))),
        (status = 403, body = ErrorBody, description = "Only admins create agents"),
        (status = 409, body = ErrorBody, description = "The email is already registered")))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    idempotency: IdempotencyKey,
    ApiJson(body): ApiJson<CreateAgent>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin], "creating an agent")?;
    create_account(
        &state,
        &auth,
        &correlation,
        &idempotency,
        &body.0,
        Role::Agent,
    )
    .await
}

/// Lists agents with their availability (admins and agents).
#[utoipa::path(get, path = "/api/agents", operation_id = "listAgents", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = [UserView]),
        (status = 403, body = ErrorBody, description = "Customers may not list agents")))]
async fn list(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<UserView>>, ApiError> {
    auth.require(&[Role::Admin, Role::Agent], "listing agents")?;
    let agents = state.store.list_users(Role::Agent).await?;
    Ok(Json(agents.iter().map(UserView::from).collect()))
}

/// Body of `PATCH /api/agents/{id}/presence`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PresenceChange {
    /// online or offline.
    #[schema(required = true, schema_with = schema::presence)]
    pub presence: Option<String>,
}

/// Sets an agent's presence (the agent themself or an admin) and publishes
/// `agent.availability_changed` when it changes.
#[utoipa::path(patch, path = "/api/agents/{id}/presence", operation_id = "setAgentPresence", tag = "agents", request_body = PresenceChange,
    params(("id" = String, Path, description = "Agent's user id")),
    security(("bearer" = [])),
    responses((status = 200, body = UserView),
        (status = 403, body = ErrorBody, description = "Neither the agent nor an admin"),
        (status = 404, body = ErrorBody, description = "No such agent"),
        (status = 409, body = ErrorBody, description = "The agent is disabled (going online), \
            or changed concurrently several times")))]
async fn set_presence(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PresenceChange>,
) -> Result<Json<UserView>, ApiError> {
    let agent_id = UserId::parse("id", &id).map_err(|_| ApiError::NotFound("agent"))?;
    let presence = Presence::parse_field("presence", required("presence", &body.presence)?)?;
    if auth.0.role != Role::Admin && auth.0.id != agent_id {
        return Err(ApiError::forbidden(
            "only the agent or an admin may set presence",
        ));
    }
    for _ in 0..CONFLICT_ATTEMPTS {
        let mut user = state
            .store
            .find_user(agent_id)
            .await?
            .filter(|u| u.role == Role::Agent)
            .ok_or(ApiError::NotFound("agent"))?;
        if user.disabled && presence == Presence::Online {
            return Err(ApiError::conflict_on(
                "presence",
                "the account is disabled; enable it first",
            ));
        }
        let Some(event) =
            user.set_presence(presence, state.clock.now(), correlation.metadata(&auth.0))
        else {
            return Ok(Json(UserView::from(&user)));
        };
        if state
            .store
            .update_user(&user, std::slice::from_ref(&event))
            .await?
        {
            state.outbox.notify_one();
            return Ok(Json(UserView::from(&user)));
        }
    }
    Err(ApiError::conflict(
        "the agent is changing too often right now; try again",
    ))
}
