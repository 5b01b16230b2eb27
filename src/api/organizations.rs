//! `/api/organizations` and `PUT /api/users/{id}/organization`: admins make customer
//! organizations, each with the SLA plan and region its customers' new tickets run on, and put
//! customers in them.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, Auth};
use super::input::{cursor, next_cursor, page_limit};
use super::users::modify_user;
use super::views::UserView;
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{Organization, OrganizationId, Role, UserId, ValidationError};

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// The organization routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(join))
}

/// Body of `POST /api/organizations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrganization {
    /// Display name, unique ignoring case. Required.
    #[schema(schema_with = schema::organization_name, required = true)]
    pub name: Option<String>,
    /// The SLA plan its customers' new tickets run on; the default targets when absent.
    #[schema(schema_with = schema::plan)]
    pub plan: Option<String>,
    /// The region whose business calendar they run on; the default calendar when absent.
    #[schema(schema_with = schema::region)]
    pub region: Option<String>,
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    /// Id.
    #[schema(schema_with = schema::uuid)]
    pub id: String,
    /// Display name.
    pub name: String,
    /// SLA plan; `null` for the default targets.
    #[schema(schema_with = schema::plan)]
    pub plan: Option<String>,
    /// Calendar region; `null` for the default calendar.
    #[schema(schema_with = schema::region)]
    pub region: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&Organization> for OrganizationView {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.to_string(),
            name: o.name.clone(),
            plan: o.plan.clone(),
            region: o.region.clone(),
            created_at: o.created_at,
        }
    }
}

/// Makes an organization (admins). Its plan and region must be ones the SLA policy defines.
#[utoipa::path(post, path = "/api/organizations", operation_id = "createOrganization", tag = "organizations",
    request_body = CreateOrganization,
    security(("bearer" = [])),
    responses((status = 201, body = OrganizationView),
        (status = 403, body = ErrorBody, description = "Only admins make organizations"),
        (status = 409, body = ErrorBody, description = "Another organization has the name")))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateOrganization>,
) -> Result<(StatusCode, Json<OrganizationView>), ApiError> {
    auth.require(&[Role::Admin], "making an organization")?;
    let name = body
        .name
        .as_deref()
        .ok_or_else(|| ValidationError::new("name", "is required"))?;
    let org = Organization::new(
        name,
        body.plan.as_deref(),
        body.region.as_deref(),
        &state.sla,
        state.clock.now(),
    )?;
    state.store.insert_organization(&org).await?;
    Ok((StatusCode::CREATED, Json(OrganizationView::from(&org))))
}

/// Query of `GET /api/organizations`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 200 (default 50).
    #[param(schema_with = schema::limit_200)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(schema_with = schema::uuid)]
    pub cursor: Option<String>,
}

/// A page of organizations.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPage {
    /// Oldest first.
    pub items: Vec<OrganizationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists organizations, oldest first (admins).
#[utoipa::path(get, path = "/api/organizations", operation_id = "listOrganizations", tag = "organizations",
    params(ListParams),
    security(("bearer" = [])),
    responses((status = 200, body = OrganizationPage),
        (status = 403, body = ErrorBody, description = "Only admins list organizations")))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<OrganizationPage>, ApiError> {
    auth.require(&[Role::Admin], "listing organizations")?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = page_limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = cursor(params.cursor.as_deref(), |c| {
        OrganizationId::parse("cursor", c)
    })?;
    let page = state.store.page_organizations(after, limit).await?;
    Ok(Json(OrganizationPage {
        next_cursor: next_cursor(&page, limit, |o| o.id.to_string()),
        items: page.iter().map(OrganizationView::from).collect(),
    }))
}

/// Body of `PUT /api/users/{id}/organization`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// The organization, or `null` to take the customer out of theirs. Required.
    #[serde(default, deserialize_with = "given")]
    #[schema(schema_with = schema::uuid_text_or_null, required = true)]
    pub organization_id: Option<Option<String>>,
}

/// `Some` whenever the field is there, `null` included: only a missing field is `None`.
fn given<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Puts a customer in an organization, or takes them out (admins). Tickets they open from now
/// on run on its plan and region; tickets already open keep the terms they opened with.
#[utoipa::path(put, path = "/api/users/{id}/organization", operation_id = "setUserOrganization", tag = "organizations",
    request_body = Membership,
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses((status = 200, body = UserView),
        (status = 403, body = ErrorBody, description = "Only admins change memberships"),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "No organization has this id \
            (`organizationId`), the account is not a customer's (`id`), or the account \
            changed concurrently several times")))]
async fn join(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Membership>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(&[Role::Admin], "changing a membership")?;
    let id = UserId::parse("id", &id).map_err(|_| ApiError::NotFound("user"))?;
    // The user first: a missing user is 404 whatever the body names.
    if state.store.find_user(id).await?.is_none() {
        return Err(ApiError::NotFound("user"));
    }
    let given = body
        .organization_id
        .ok_or_else(|| ValidationError::new("organizationId", "is required (null to leave)"))?;
    let organization = match given.as_deref() {
        None => None,
        Some(raw) => {
            let org = OrganizationId::parse("organizationId", raw)?;
            if state.store.find_organization(org).await?.is_none() {
                return Err(ApiError::conflict_on(
                    "organizationId",
                    "no organization has this id",
                ));
            }
            Some(org)
        }
    };
    let user = modify_user(&state, id, |user| {
        user.join_organization(organization)
            .map_err(|why| ApiError::conflict_on("id", why))?;
        Ok(Vec::new())
    })
    .await?;
    Ok(Json(UserView::from(&user)))
}
