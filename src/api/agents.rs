//! `/api/agents`: creating agents and setting their presence.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::NewAccount;
use super::extract::{ApiJson, Auth, Correlation};
use super::idempotency::{
    IdempotencyKey, IdempotencyParams, Idempotent, answer_once, replay_if_answered,
};
use super::input::{required, whole_number};
use super::views::UserView;
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{AgentProfile, Presence, Role, Tier, UserId, ValidationError};
use crate::store::CONFLICT_ATTEMPTS;

/// The agent routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(set_presence))
}

/// Body of `POST /api/agents`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateAgent {
    /// Display name.
    pub name: Option<String>,
    /// Sign-in email.
    pub email: Option<String>,
    /// 8 to 128 characters. (Not part of an `Idempotency-Key`'s fingerprint, which is stored.)
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// Categories the agent takes (at least one).
    pub skills: Option<Vec<String>>,
    /// agent (default), senior or manager.
    pub tier: Option<String>,
    /// Tickets held at once, 1 to 50 (default 1).
    #[serde(default, deserialize_with = "whole_number")]
    pub capacity: Option<u32>,
    /// online or offline (default).
    pub presence: Option<String>,
}

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
    let keyed = idempotency.for_request(&auth.0.id.to_string(), &body);
    let account = NewAccount::parse(&body.name, &body.email, &body.password)?;
    let fields = AgentFields {
        skills: body.skills,
        tier: body.tier,
        capacity: body.capacity,
        presence: body.presence,
    };
    insert_account(
        &state,
        &auth,
        &correlation,
        account,
        Role::Agent,
        fields,
        keyed.as_ref(),
    )
    .await
}

/// The agent fields of a request that creates an account.
pub(super) struct AgentFields {
    pub skills: Option<Vec<String>>,
    pub tier: Option<String>,
    pub capacity: Option<u32>,
    pub presence: Option<String>,
}

impl AgentFields {
    fn profile(&self, state: &AppState) -> Result<(AgentProfile, Presence), ApiError> {
        let skills = self
            .skills
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|s| state.categories.parse("skills", s))
            .collect::<Result<Vec<_>, _>>()?;
        let tier = self
            .tier
            .as_deref()
            .map(|t| Tier::parse_field("tier", t))
            .transpose()?
            .unwrap_or(Tier::Agent);
        let profile = AgentProfile::new(skills, tier, self.capacity.unwrap_or(1))?;
        let presence = self
            .presence
            .as_deref()
            .map(|p| Presence::parse_field("presence", p))
            .transpose()?
            .unwrap_or(Presence::Offline);
        Ok((profile, presence))
    }

    fn any(&self) -> bool {
        self.skills.is_some()
            || self.tier.is_some()
            || self.capacity.is_some()
            || self.presence.is_some()
    }
}

/// Creates an account of `role` (an agent's profile from `fields`; other roles take none) and
/// stores it; an agent created online announces it, so the backlog can drain to them.
///
/// With an `Idempotency-Key`, a repeat answers what the first request answered.
pub(super) async fn insert_account(
    state: &AppState,
    auth: &Auth,
    correlation: &Correlation,
    account: NewAccount,
    role: Role,
    fields: AgentFields,
    keyed: Option<&Idempotent>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    if let Some(first) = replay_if_answered(keyed, state, now).await? {
        return Ok(first);
    }
    let (profile, presence) = match role {
        Role::Agent => {
            let (profile, presence) = fields.profile(state)?;
            (Some(profile), Some(presence))
        }
        _ if fields.any() => {
            return Err(ValidationError::new(
                "role",
                "skills, tier, capacity and presence are for agents only",
            )
            .into());
        }
        _ => (None, None),
    };
    let mut user = account.into_user(state, role, profile).await?;
    let events: Vec<_> = presence
        .and_then(|p| user.set_presence(p, now, correlation.metadata(&auth.0)))
        .into_iter()
        .collect();
    let view = UserView::from(&user);
    let store = state.store.clone();
    let announces = !events.is_empty();
    let response = answer_once(
        keyed,
        state,
        now,
        StatusCode::CREATED,
        &view,
        |answer| async move {
            store
                .insert_user_answering(&user, &events, answer.as_ref())
                .await
        },
    )
    .await?;
    if announces {
        state.outbox.notify_one();
    }
    Ok(response)
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
