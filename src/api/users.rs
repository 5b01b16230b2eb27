//! `/api/users`: user administration, for admins: create accounts of any role, change a role,
//! disable or enable an account, list accounts page by page. Disabling never deletes: the
//! account's tickets and their history stay, and it can be enabled again.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, Auth, Correlation};
use super::idempotency::{IdempotencyKey, IdempotencyParams};
use super::input::{cursor, next_cursor, page_limit};
use super::new_account::{AccountFields, create_account};
use super::views::UserView;
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{Envelope, Presence, Role, User, UserId, ValidationError};
use crate::store::{CONFLICT_ATTEMPTS, UserQuery};

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// The user administration routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(update))
}

/// Body of `POST /api/users`. Its schema is one of two shapes: an agent (role `agent`, with
/// skills) or another role (no agent fields).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreateUser(pub AccountFields);

impl ToSchema for CreateUser {}

impl PartialSchema for CreateUser {
    fn schema() -> RefOr<Schema> {
        let not_for_this_role = || ObjectBuilder::new().schema_type(Type::Null);
        let agent = schema::with_agent_fields(schema::with_identity(
            ObjectBuilder::new().schema_type(Type::Object),
        ))
        .property(
            "role",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([Role::Agent.as_str()])),
        )
        .required("role")
        .description(Some(
                "An agent: skills (at least one category), tier (default agent), capacity (default 1) and presence (default offline).",
            ));
        let other = schema::with_identity(ObjectBuilder::new().schema_type(Type::Object))
            .property("role", schema::changeable_role())
            .required("role")
            .property("skills", not_for_this_role())
            .property("tier", not_for_this_role())
            .property("capacity", not_for_this_role())
            .property("presence", not_for_this_role())
            .description(Some("A customer or an admin: no agent fields."));
        OneOfBuilder::new()
            .item(agent)
            .item(other)
            .description(Some(
                "A new account of any role; the agent fields are for agents only.",
            ))
            .into()
    }
}

/// Creates an account of any role (admins).
#[utoipa::path(post, path = "/api/users", operation_id = "createUser", tag = "users", request_body = CreateUser,
    params(IdempotencyParams),
    security(("bearer" = [])),
    responses((status = 201, body = UserView, headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the stored answer to an earlier request"))),
        (status = 403, body = ErrorBody, description = "Only admins create users"),
        (status = 409, body = ErrorBody, description = "The email is already registered")))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    idempotency: IdempotencyKey,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin], "creating a user")?;
    let role = Role::parse_field(
        "role",
        body.0
            .role
            .as_deref()
            .ok_or_else(|| ValidationError::new("role", "is required"))?,
    )?;
    create_account(&state, &auth, &correlation, &idempotency, &body.0, role).await
}

/// Body of `PATCH /api/users/{id}`: a role, `disabled`, or both.
#[derive(Debug, Deserialize)]
pub struct UpdateUser {
    /// customer or admin. An agent's role is fixed (their slots and tickets hang on it):
    /// disable the agent instead.
    pub role: Option<String>,
    /// `true` disables the account: it cannot sign in and its tokens stop working; an agent
    /// also goes offline, so their untouched tickets return to the backlog.
    pub disabled: Option<bool>,
}

impl ToSchema for UpdateUser {}

impl PartialSchema for UpdateUser {
    fn schema() -> RefOr<Schema> {
        let role = || {
            ObjectBuilder::new()
                .property("role", schema::changeable_role())
                .required("role")
        };
        let disabled = || {
            ObjectBuilder::new()
                .property("disabled", ObjectBuilder::new().schema_type(Type::Boolean))
                .required("disabled")
        };
        // Either field may be `null` (not given) as long as the other one is given.
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("role", schema::changeable_role_or_null())
            .property(
                "disabled",
                ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter(
                    [Type::Boolean, Type::Null],
                )),
            )
            .description(Some(
                "`role`: customer or admin (an agent's role is fixed: disable the agent instead). `disabled: true` disables the account: it cannot sign in and its tokens stop working; an agent also goes offline, so their untouched tickets return to the backlog. At least one of the two is required.",
            ))
            .into_any_of(role(), disabled())
    }
}

/// `schema` that must also match one of `a` and `b`.
trait AnyOfTwo {
    fn into_any_of(self, a: ObjectBuilder, b: ObjectBuilder) -> RefOr<Schema>;
}

impl AnyOfTwo for ObjectBuilder {
    fn into_any_of(self, a: ObjectBuilder, b: ObjectBuilder) -> RefOr<Schema> {
        utoipa::openapi::schema::AllOfBuilder::new()
            .item(self)
            .item(utoipa::openapi::schema::AnyOfBuilder::new().item(a).item(b))
            .into()
    }
}

/// Changes an account's role or disables it (admins). Takes effect on the next request the
/// account makes (this process at once; other API processes within the session cache time).
#[utoipa::path(patch, path = "/api/users/{id}", operation_id = "updateUser", tag = "users", request_body = UpdateUser,
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses((status = 200, body = UserView),
        (status = 403, body = ErrorBody, description = "Only admins change users"),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "An admin demoting or disabling \
            themselves; an agent's role changed, or another role changed to agent; or the \
            account changed concurrently several times")))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(&[Role::Admin], "changing a user")?;
    let id = UserId::parse("id", &id).map_err(|_| ApiError::NotFound("user"))?;
    let role = body
        .role
        .as_deref()
        .map(|r| Role::parse_field("role", r))
        .transpose()?;
    if role == Some(Role::Agent) {
        return Err(ValidationError::new(
            "role",
            "must be customer or admin: create agents with POST /api/users",
        )
        .into());
    }
    if role.is_none() && body.disabled.is_none() {
        return Err(ValidationError::new("body", "give a role or disabled").into());
    }
    if id == auth.0.id && (role.is_some_and(|r| r != Role::Admin) || body.disabled == Some(true)) {
        return Err(ApiError::conflict_on(
            "id",
            "an admin cannot demote or disable themselves; ask another admin",
        ));
    }
    let now = state.clock.now();
    let user = modify_user(&state, id, |user| {
        if let Some(role) = role
            && role != user.role
        {
            if user.role == Role::Agent {
                return Err(ApiError::conflict_on(
                    "role",
                    "an agent's role is fixed: disable accounts that should stop working",
                ));
            }
            user.change_role(role);
        }
        let mut events = Vec::new();
        if let Some(disabled) = body.disabled {
            user.disabled = disabled;
            if disabled {
                events.extend(user.set_presence(
                    Presence::Offline,
                    now,
                    correlation.metadata(&auth.0),
                ));
            }
        }
        Ok(events)
    })
    .await?;
    Ok(Json(UserView::from(&user)))
}

/// Query of `GET /api/users`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Filter by role.
    #[param(schema_with = schema::role)]
    pub role: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(schema_with = schema::limit_200)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(schema_with = schema::uuid)]
    pub cursor: Option<String>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    /// Oldest account first.
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists accounts, oldest first (admins).
#[utoipa::path(get, path = "/api/users", operation_id = "listUsers", tag = "users", params(ListParams),
    security(("bearer" = [])),
    responses((status = 200, body = UserPage),
        (status = 403, body = ErrorBody, description = "Only admins list users")))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<UserPage>, ApiError> {
    auth.require(&[Role::Admin], "listing users")?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = UserQuery {
        role: params
            .role
            .as_deref()
            .map(|r| Role::parse_field("role", r))
            .transpose()?,
        after: cursor(params.cursor.as_deref(), |c| UserId::parse("cursor", c))?,
        limit: page_limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?,
    };
    let users = state.store.page_users(&query).await?;
    Ok(Json(UserPage {
        next_cursor: next_cursor(&users, query.limit, |u| u.id.to_string()),
        items: users.iter().map(UserView::from).collect(),
    }))
}

/// Applies `change` to the stored user and stores it with the events it returns, retrying
/// when a concurrent writer got there first; then forgets the cached session state of the
/// account, so the change applies to its next request.
///
/// # Errors
/// 404 when there is no such user, 409 after repeated conflicts, or what `change` returns.
pub(super) async fn modify_user<F>(
    state: &AppState,
    id: UserId,
    mut change: F,
) -> Result<User, ApiError>
where
    F: FnMut(&mut User) -> Result<Vec<Envelope>, ApiError>,
{
    for _ in 0..CONFLICT_ATTEMPTS {
        let mut user = state
            .store
            .find_user(id)
            .await?
            .ok_or(ApiError::NotFound("user"))?;
        let events = change(&mut user)?;
        if state.store.update_user(&user, &events).await? {
            state.sessions.forget(id);
            if !events.is_empty() {
                state.outbox.notify_one();
            }
            user.revision += 1;
            return Ok(user);
        }
    }
    Err(ApiError::conflict(
        "the account is changing too often right now; try again",
    ))
}
