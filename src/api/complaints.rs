//! `/api/complaints`: open, read, list, change status, history, and manual assignment.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, Auth, Correlation};
use super::idempotency::{
    IdempotencyKey, IdempotencyParams, answer_once, replay, replay_if_answered,
};
use super::input::{cursor, next_cursor, note, page_limit, required};
use super::views::{HistoryView, TicketAsOfView, TicketOrAsOf, TicketPage, TicketView};
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{
    ComplaintId, Description, Envelope, NewTicket, Principal, Priority, Role, SlaTerms, Status,
    Ticket, TicketAsOf, TicketId, TicketRef, Title, UserId, ValidationError,
};
use crate::store::event_log::ticket_timeline;
use crate::store::{CONFLICT_ATTEMPTS, TicketQuery, commit_claimed};

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// The complaints routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create, list))
        .routes(routes!(show))
        .routes(routes!(change_status))
        .routes(routes!(history))
        .routes(routes!(assign))
}

/// The plan and region of the caller's organization, as the store has them; the defaults when
/// they belong to none.
async fn sla_terms(state: &AppState, auth: &Auth) -> Result<SlaTerms, ApiError> {
    let Some(id) = auth.1 else {
        return Ok(SlaTerms::default());
    };
    Ok(state
        .store
        .find_organization(id)
        .await?
        .map(|o| o.terms())
        .unwrap_or_default())
}

/// Body of `POST /api/complaints`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateComplaint {
    /// 3 to 200 characters.
    #[schema(required = true, schema_with = schema::title)]
    pub title: Option<String>,
    /// 1 to 5,000 characters.
    #[schema(required = true, schema_with = schema::description)]
    pub description: Option<String>,
    /// One of the configured categories.
    #[schema(required = true, schema_with = schema::category)]
    pub category: Option<String>,
    /// Low, Medium (default), High or Critical. A customer may choose up to the configured cap
    /// (`GET /api/config` lists their choices); above it is 403.
    #[schema(schema_with = schema::priority_or_null)]
    pub priority: Option<String>,
}

/// Opens a ticket (customers and admins) and publishes `ticket.created`. A customer's priority
/// is capped (`QUICKFIX_CUSTOMER_MAX_PRIORITY`, default High): a higher one is refused with
/// 403 naming `priority`, since higher priorities come from the rules or staff.
#[utoipa::path(post, path = "/api/complaints", operation_id = "openTicket", tag = "complaints", request_body = CreateComplaint,
    params(IdempotencyParams),
    security(("bearer" = [])),
    responses((status = 201, body = TicketView, headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the stored answer to an earlier request"))),
        (status = 403, body = ErrorBody,
            description = "Agents may not open tickets; a customer chose a priority above the cap")))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    idempotency: IdempotencyKey,
    ApiJson(body): ApiJson<CreateComplaint>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Customer, Role::Admin], "opening a ticket")?;
    let keyed = idempotency.for_request(&auth.0.id.to_string(), &body);
    let now = state.clock.now();
    if let Some(first) = replay_if_answered(keyed.as_ref(), &state, now).await? {
        return Ok(first);
    }
    let new = NewTicket {
        title: Title::parse(required("title", &body.title)?)?,
        description: Description::parse(required("description", &body.description)?)?,
        category: state
            .categories
            .parse("category", required("category", &body.category)?)?,
        priority: body
            .priority
            .as_deref()
            .map(|p| Priority::parse_field("priority", p))
            .transpose()?
            .unwrap_or(Priority::Medium),
        terms: sla_terms(&state, &auth).await?,
    };
    if auth.0.role == Role::Customer && new.priority > state.customer_max_priority {
        return Err(ApiError::forbidden_on(
            "priority",
            format!(
                "customers may choose up to {}; higher priorities come from the rules or staff",
                state.customer_max_priority
            ),
        ));
    }
    let sequence = state.store.next_complaint_number().await?;
    let (ticket, event) = Ticket::open(
        new,
        ComplaintId::from_sequence(sequence),
        auth.0.id,
        &state.sla,
        now,
        correlation.metadata(&auth.0),
    );
    let view = TicketView::from(&ticket);
    let store = state.store.clone();
    let response = answer_once(
        keyed.as_ref(),
        &state,
        now,
        StatusCode::CREATED,
        &view,
        |answer| async move {
            store
                .insert_ticket_answering(&ticket, &[event], answer.as_ref())
                .await
        },
    )
    .await?;
    state.outbox.notify_one();
    Ok(response)
}

/// Query of `GET /api/complaints`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Filter by status.
    #[param(schema_with = schema::status)]
    pub status: Option<String>,
    /// Filter by priority.
    #[param(schema_with = schema::priority)]
    pub priority: Option<String>,
    /// Filter by category.
    #[param(schema_with = schema::category)]
    pub category: Option<String>,
    /// Filter by assigned agent id (admins; agents always see their own, customers the
    /// tickets they opened).
    #[param(schema_with = schema::uuid)]
    pub assignee: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(schema_with = schema::limit_100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(schema_with = schema::uuid)]
    pub cursor: Option<String>,
}

/// Lists tickets newest first: customers see their own, agents their assignments, admins all.
#[utoipa::path(get, path = "/api/complaints", operation_id = "listTickets", tag = "complaints", params(ListParams),
    security(("bearer" = [])),
    responses((status = 200, body = TicketPage)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TicketPage>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut query = parse_list_params(&state, params)?;
    match auth.0.role {
        Role::Customer => query.requester = Some(auth.0.id),
        Role::Agent => query.assignee = Some(auth.0.id),
        Role::Admin => {}
    }
    let tickets = state.store.list_tickets(&query).await?;
    Ok(Json(TicketPage {
        next_cursor: next_cursor(&tickets, query.limit, |t| t.id.to_string()),
        items: tickets.iter().map(TicketView::from).collect(),
    }))
}

fn parse_list_params(state: &AppState, p: ListParams) -> Result<TicketQuery, ValidationError> {
    let limit = page_limit(p.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(TicketQuery {
        requester: None,
        assignee: p
            .assignee
            .as_deref()
            .map(|a| UserId::parse("assignee", a))
            .transpose()?,
        status: p
            .status
            .as_deref()
            .map(|s| Status::parse_field("status", s))
            .transpose()?,
        priority: p
            .priority
            .as_deref()
            .map(|s| Priority::parse_field("priority", s))
            .transpose()?,
        category: p
            .category
            .as_deref()
            .map(|c| state.categories.parse("category", c))
            .transpose()?,
        before: cursor(p.cursor.as_deref(), TicketId::parse)?,
        limit,
    })
}

/// Finds a ticket the caller may see; anything else is a 404, so ticket numbers cannot be
/// probed.
pub(super) async fn find_visible(
    state: &AppState,
    id: &str,
    who: &Principal,
) -> Result<Ticket, ApiError> {
    let by = TicketRef::parse(id).map_err(|_| ApiError::NotFound("ticket"))?;
    let Some(ticket) = state.store.find_ticket(by).await? else {
        return Err(ApiError::NotFound("ticket"));
    };
    if ticket.is_visible_to(who, &[]) {
        return Ok(ticket);
    }
    // Only an agent's skills can still show it: read them only then, so the agent working a
    // ticket costs no extra round trip.
    let skills = match who.role {
        Role::Agent => state
            .store
            .find_user(who.id)
            .await?
            .and_then(|u| u.agent)
            .map(|a| a.skills)
            .unwrap_or_default(),
        Role::Customer | Role::Admin => Vec::new(),
    };
    if ticket.is_visible_to(who, &skills) {
        Ok(ticket)
    } else {
        Err(ApiError::NotFound("ticket"))
    }
}

/// Query of `GET /api/complaints/{id}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ShowParams {
    /// An RFC 3339 time: the ticket as its events tell it then (a `TicketAsOfView`), rebuilt
    /// from the event log.
    #[param(schema_with = schema::date_time)]
    pub at: Option<String>,
}

/// Reads a ticket by id or complaint id; with `at`, the ticket as it was at that time,
/// rebuilt from its events (`TicketAsOfView`).
#[utoipa::path(get, path = "/api/complaints/{id}", operation_id = "getTicket", tag = "complaints",
    params(("id" = String, Path, description = "Ticket id or COMP-number"), ShowParams),
    security(("bearer" = [])),
    responses((status = 200, body = TicketOrAsOf,
            description = "The ticket; with `at`, a TicketAsOfView"),
        (status = 400, body = ErrorBody,
            description = "The query string cannot be read (only `at` is known)"),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller, \
            or (with `at`) none yet at that time")))]
async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Result<Query<ShowParams>, QueryRejection>,
) -> Result<Json<TicketOrAsOf>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let at = super::input::timestamp("at", params.at.as_deref())?;
    let ticket = find_visible(&state, &id, &auth.0).await?;
    let Some(at) = at else {
        return Ok(Json(TicketOrAsOf::Ticket(Box::new(TicketView::from(
            &ticket,
        )))));
    };
    let events = ticket_timeline(state.store.event_log().as_ref(), ticket.id).await?;
    // Before it was opened (or before what the event log keeps) the ticket was not there.
    let Some(then) = TicketAsOf::rebuild(&events, at) else {
        return Err(ApiError::NotFound("ticket at that time"));
    };
    Ok(Json(TicketOrAsOf::AsOf(Box::new(TicketAsOfView::from(
        &then,
    )))))
}

/// A ticket's history, oldest first.
#[utoipa::path(get, path = "/api/complaints/{id}/history", operation_id = "getTicketHistory", tag = "complaints",
    params(("id" = String, Path, description = "Ticket id or COMP-number")),
    security(("bearer" = [])),
    responses((status = 200, body = [HistoryView]),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller")))]
async fn history(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryView>>, ApiError> {
    let ticket = find_visible(&state, &id, &auth.0).await?;
    Ok(Json(ticket.history.iter().map(HistoryView::from).collect()))
}

/// Applies `change` to the current ticket and stores it with its events, retrying when a
/// concurrent writer got there first.
pub(super) async fn modify_ticket<F>(
    state: &AppState,
    id: &str,
    who: &Principal,
    mut change: F,
) -> Result<Ticket, ApiError>
where
    F: FnMut(&mut Ticket) -> Result<Vec<Envelope>, ApiError>,
{
    for _ in 0..CONFLICT_ATTEMPTS {
        let mut ticket = find_visible(state, id, who).await?;
        let events = change(&mut ticket)?;
        if state.store.update_ticket(&ticket, &events).await? {
            ticket.revision += 1;
            if !events.is_empty() {
                state.outbox.notify_one();
            }
            return Ok(ticket);
        }
    }
    Err(ApiError::conflict(
        "the ticket is changing too often right now; try again",
    ))
}

/// Body of `PATCH /api/complaints/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// The new status: Open (the requester reopening a resolved ticket), InProgress, Pending
    /// (waiting on the customer: the assigned agent or an admin), Resolved or Closed; which ones are legal depends on the ticket and the caller (409 or
    /// 403 otherwise).
    #[schema(required = true, schema_with = schema::status)]
    pub status: Option<String>,
    /// Why; kept in the history (up to 2,000 characters).
    #[schema(schema_with = schema::status_note)]
    pub message: Option<String>,
}

/// Changes a ticket's status. The assigned agent starts and resolves it (publishing
/// `ticket.resolved`); the requester closes or reopens a resolved ticket; admins do any legal
/// transition.
#[utoipa::path(patch, path = "/api/complaints/{id}/status", operation_id = "changeTicketStatus", tag = "complaints", request_body = StatusChange,
    params(("id" = String, Path, description = "Ticket id or COMP-number")),
    security(("bearer" = [])),
    responses((status = 200, body = TicketView),
        (status = 403, body = ErrorBody, description = "The caller may not make this change"),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller"),
        (status = 409, body = ErrorBody, description = "Not a legal transition from the \
            ticket's status (`details.field` is `status`), or the ticket changed concurrently \
            several times")))]
async fn change_status(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusChange>,
) -> Result<Json<TicketView>, ApiError> {
    let to = Status::parse_field("status", required("status", &body.status)?)?;
    let message = note("message", body.message, 2000)?;
    let now = state.clock.now();
    let ticket = modify_ticket(&state, &id, &auth.0, |ticket| {
        Ok(ticket.change_status(
            &auth.0,
            to,
            message.clone(),
            &state.sla,
            now,
            correlation.metadata(&auth.0),
        )?)
    })
    .await?;
    Ok(Json(TicketView::from(&ticket)))
}

/// Body of `POST /api/complaints/{id}/assign`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignRequest {
    /// The agent to give the ticket to; must be online with a free slot.
    #[schema(required = true, schema_with = schema::uuid)]
    pub agent_id: Option<String>,
    /// Why; kept in the history (up to 2,000 characters).
    #[schema(schema_with = schema::status_note)]
    pub note: Option<String>,
}

/// Assigns or reassigns a ticket by hand (admins). Takes one of the agent's slots atomically
/// and gives the previous agent's slot back.
#[utoipa::path(post, path = "/api/complaints/{id}/assign", operation_id = "assignTicket", tag = "complaints", request_body = AssignRequest,
    params(("id" = String, Path, description = "Ticket id or COMP-number"), IdempotencyParams),
    security(("bearer" = [])),
    responses((status = 200, body = TicketView, headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the stored answer to an earlier request"))),
        (status = 403, body = ErrorBody, description = "Only admins assign by hand"),
        (status = 404, body = ErrorBody, description = "No such ticket"),
        (status = 409, body = ErrorBody, description = "The ticket cannot be assigned now; \
            no agent has that id, or the agent is offline or has no free slot \
            (`details.field` is `agentId`); or the ticket changed concurrently several times")))]
async fn assign(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    idempotency: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin], "assigning a ticket")?;
    let keyed = idempotency.for_request(&auth.0.id.to_string(), &body);
    if let Some(first) = replay_if_answered(keyed.as_ref(), &state, state.clock.now()).await? {
        return Ok(first);
    }
    let agent_id = UserId::parse("agentId", required("agentId", &body.agent_id)?)?;
    let why = note("note", body.note, 2000)?;

    for _ in 0..CONFLICT_ATTEMPTS {
        let mut ticket = find_visible(&state, &id, &auth.0).await?;
        // The ticket exists; an id that names no agent is a conflict with the accounts there
        // are (like an agent without a free slot), not a missing ticket.
        state
            .store
            .find_user(agent_id)
            .await?
            .filter(|u| u.role == Role::Agent)
            .ok_or_else(|| ApiError::conflict_on("agentId", "no agent has this id"))?;
        let previous = ticket.assignee;
        let now = state.clock.now();
        let event = ticket
            .assign(
                agent_id,
                &auth.0.id.to_string(),
                why.clone(),
                now,
                correlation.metadata(&auth.0),
            )
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        if state
            .store
            .take_slot(agent_id, ticket.id, now)
            .await?
            .is_none()
        {
            return Err(ApiError::conflict_on(
                "agentId",
                "the agent is offline or has no free slot",
            ));
        }
        let view = TicketView::from(&ticket);
        let answer = keyed
            .as_ref()
            .map(|k| k.answer(StatusCode::OK, &view, now, state.idempotency_window));
        let committed = commit_claimed(
            state.store.as_ref(),
            &ticket,
            agent_id,
            &[event],
            answer.as_ref(),
        )
        .await;
        let committed = match (committed, &keyed) {
            (Ok(done), _) => done,
            (Err(err), Some(k)) => return Ok(replay(&k.after_conflict(&state, err, now).await?)),
            (Err(err), None) => return Err(err.into()),
        };
        if committed {
            if let Some(previous) = previous {
                state.store.release_slot(previous, ticket.id).await?;
            }
            state.outbox.notify_one();
            return Ok((StatusCode::OK, Json(view)).into_response());
        }
        // Someone changed the ticket first (its slot is already given back): look again.
    }
    Err(ApiError::conflict(
        "the ticket is changing too often right now; try again",
    ))
}
