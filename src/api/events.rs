//! The event log over HTTP: `GET /api/events` searches every event (admins), and
//! `GET /api/complaints/{id}/events` is one ticket's timeline, causes before effects, for
//! whoever may read the ticket.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::complaints::find_visible;
use super::extract::Auth;
use super::input::{next_cursor, page_limit, timestamp};
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{
    EventCursor, EventQuery, EventType, LoggedEvent, Role, TicketRef, ValidationError,
};
use crate::store::event_log::{ticket_key, ticket_timeline};

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// The widest window a search without a ticket or correlation id may cover.
const MAX_WINDOW_DAYS: i64 = 31;
/// The window of a search that gives no `from`.
const DEFAULT_WINDOW: TimeDelta = TimeDelta::hours(24);
/// The longest text filter.
const MAX_FILTER_LEN: usize = 200;
/// The filters `GET /api/events` knows.
const FILTERS: [&str; 8] = [
    "type",
    "ticket",
    "actor",
    "correlationId",
    "from",
    "to",
    "limit",
    "cursor",
];

/// The event log routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(search))
        .routes(routes!(timeline))
}

/// One logged event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// The event's id (also its SNS message's `eventId`).
    #[schema(schema_with = schema::uuid)]
    pub event_id: String,
    /// E.g. `ticket.created`.
    #[schema(schema_with = schema::event_type)]
    pub event_type: String,
    /// The payload's version.
    pub version: u32,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The ticket it is about, if any.
    #[schema(schema_with = schema::uuid_or_null)]
    pub ticket_id: Option<String>,
    /// That ticket's complaint id.
    pub complaint_id: Option<String>,
    /// Who acted: a user id or `system`.
    pub actor: String,
    /// The request or run it belongs to.
    pub correlation_id: String,
    /// The event that caused it.
    pub causation_id: Option<String>,
    /// When the topic accepted it.
    pub published_at: DateTime<Utc>,
    /// The payload, as published (the AsyncAPI document at `/asyncapi.json` has its schema).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<&LoggedEvent> for EventView {
    fn from(e: &LoggedEvent) -> Self {
        Self {
            event_id: e.event_id().to_string(),
            event_type: e.event_type().as_str().to_owned(),
            version: e.event_type().version(),
            timestamp: e.timestamp(),
            ticket_id: e.ticket_id().map(|t| t.to_string()),
            complaint_id: e.complaint_id().map(ToString::to_string),
            actor: e.actor().to_owned(),
            correlation_id: e.correlation_id().to_owned(),
            causation_id: e.causation_id().map(str::to_owned),
            published_at: e.published_at,
            data: e.envelope.data(),
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    /// Oldest first.
    pub items: Vec<EventView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A ticket's events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTimeline {
    /// Every event of the ticket, each after the event that caused it, otherwise oldest first.
    pub items: Vec<EventView>,
}

/// Query of `GET /api/events` (only these names; any other is refused).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Event types, comma-separated (or the parameter repeated), e.g.
    /// `ticket.created,ticket.assigned`.
    #[param(rename = "type", style = Form, explode = false, schema_with = schema::event_types)]
    pub r#type: Option<Vec<String>>,
    /// A ticket id or COMP-number.
    #[param(schema_with = schema::ticket_ref)]
    pub ticket: Option<String>,
    /// A user id, or `system`.
    #[param(schema_with = schema::filter_text)]
    pub actor: Option<String>,
    /// The correlation id (the `x-request-id` of the request that started it).
    #[param(rename = "correlationId", schema_with = schema::filter_text)]
    pub correlation_id: Option<String>,
    /// Window start (RFC 3339, inclusive); default: 24 hours before `to`, or the whole
    /// retention when `ticket` or `correlationId` is given. Must be before `to`; without
    /// `ticket` or `correlationId` the window is at most 31 days.
    #[param(schema_with = schema::date_time)]
    pub from: Option<String>,
    /// Window end (RFC 3339, exclusive); default: now.
    #[param(schema_with = schema::date_time)]
    pub to: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(schema_with = schema::limit_500)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(schema_with = schema::event_cursor)]
    pub cursor: Option<String>,
}

/// Searches the event log (admins): filters by type, ticket, actor, correlation id and time
/// window; oldest first, with a cursor. A window wider than 31 days needs a `ticket` or
/// `correlationId` filter.
#[utoipa::path(get, path = "/api/events", operation_id = "searchEvents", tag = "events", params(SearchParams),
    security(("bearer" = [])),
    responses((status = 200, body = EventPage),
        (status = 403, body = ErrorBody, description = "Only admins search the event log"),
        (status = 422, body = ErrorBody, description = "A filter is invalid or unknown, or the \
            window is empty (`from` not before `to`) or wider than 31 days without a `ticket` \
            or `correlationId`; `details.field` names the parameter")))]
async fn search(
    State(state): State<AppState>,
    auth: Auth,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    auth.require(&[Role::Admin], "searching the event log")?;
    let Query(pairs) = pairs.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Some(query) = parse_search(&state, &pairs).await? else {
        return Ok(Json(EventPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    };
    let events = state.store.event_log().search(&query).await?;
    Ok(Json(EventPage {
        next_cursor: next_cursor(&events, query.limit, |e| e.position().to_string()),
        items: events.iter().map(EventView::from).collect(),
    }))
}

/// The single value of `field`, refusing a repeat.
fn single<'a>(
    pairs: &'a [(String, String)],
    field: &str,
) -> Result<Option<&'a str>, ValidationError> {
    let mut values = pairs
        .iter()
        .filter(|(k, _)| k == field)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(ValidationError::new(field, "may be given once"));
    }
    Ok(first)
}

/// A text filter: present, not blank, not too long.
fn text(pairs: &[(String, String)], field: &str) -> Result<Option<String>, ValidationError> {
    single(pairs, field)?
        .map(|v| {
            let v = v.trim();
            if v.is_empty() || v.chars().count() > MAX_FILTER_LEN {
                Err(ValidationError::new(
                    field,
                    format!("must be 1 to {MAX_FILTER_LEN} characters"),
                ))
            } else {
                Ok(v.to_owned())
            }
        })
        .transpose()
}

/// The search `pairs` ask for; `None` when it can match nothing (a COMP-number of no ticket).
async fn parse_search(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<Option<EventQuery>, ApiError> {
    if let Some((unknown, _)) = pairs.iter().find(|(k, _)| !FILTERS.contains(&k.as_str())) {
        return Err(ValidationError::new(
            unknown,
            format!("is not a filter; use {}", FILTERS.join(", ")),
        )
        .into());
    }
    let types = EventType::parse_distinct(
        pairs
            .iter()
            .filter(|(k, _)| k == "type")
            .flat_map(|(_, v)| v.split(',')),
    )
    .map_err(|e| ValidationError::new("type", format!("`{}` is not an event type", e.0)))?;
    let ticket = match single(pairs, "ticket")? {
        None => None,
        Some(raw) => {
            let by = TicketRef::parse(raw.trim()).map_err(|_| {
                ValidationError::new("ticket", "must be a ticket id or COMP-number")
            })?;
            // A COMP-number that names no ticket matches nothing.
            match ticket_key(state.store.as_ref(), by).await? {
                Some(id) => Some(id),
                None => return Ok(None),
            }
        }
    };
    let correlation_id = text(pairs, "correlationId")?;
    let narrow = ticket.is_some() || correlation_id.is_some();
    let now = state.clock.now();
    let to = timestamp("to", single(pairs, "to")?)?;
    let from = timestamp("from", single(pairs, "from")?)?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ValidationError::new("from", "must be before `to`").into());
    }
    let (from, to) = if narrow {
        (from, to)
    } else {
        let end = to.unwrap_or(now);
        let start = from.unwrap_or(end - DEFAULT_WINDOW);
        if end - start > TimeDelta::days(MAX_WINDOW_DAYS) {
            return Err(ValidationError::new(
                "from",
                format!(
                    "the window can be at most {MAX_WINDOW_DAYS} days without a `ticket` or `correlationId` filter"
                ),
            )
            .into());
        }
        (Some(start), to)
    };
    let after = single(pairs, "cursor")?
        .map(|c| {
            c.trim()
                .parse::<EventCursor>()
                .map_err(|e| ValidationError::new("cursor", e.to_string()))
        })
        .transpose()?;
    Ok(Some(EventQuery {
        types,
        ticket,
        actor: text(pairs, "actor")?,
        correlation_id,
        from,
        to,
        after,
        limit: page_limit(single(pairs, "limit")?, DEFAULT_LIMIT, MAX_LIMIT)?,
    }))
}

/// A ticket's events, causes before effects (whoever may read the ticket; internal notes'
/// events for the staff only).
#[utoipa::path(get, path = "/api/complaints/{id}/events", operation_id = "getTicketEvents", tag = "events",
    params(("id" = String, Path, description = "Ticket id or COMP-number")),
    security(("bearer" = [])),
    responses((status = 200, body = EventTimeline),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller")))]
async fn timeline(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<EventTimeline>, ApiError> {
    let ticket = find_visible(&state, &id, &auth.0).await?;
    let events = ticket_timeline(state.store.event_log().as_ref(), ticket.id).await?;
    // A customer never reads a staff-only event (an internal note's).
    let staff = auth.0.role != Role::Customer;
    Ok(Json(EventTimeline {
        items: events
            .iter()
            .filter(|e| staff || !e.envelope.event_type().is_staff_only())
            .map(EventView::from)
            .collect(),
    }))
}
