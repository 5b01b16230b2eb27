//! `/api/complaints/{id}/messages`, `/replies` and `/notes`: a ticket's conversation. Public
//! replies pass between the requester and the staff; internal notes stay with the staff, and a
//! customer never reads one here (nor anywhere else).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::complaints::find_visible;
use super::extract::{ApiJson, Auth, Correlation};
use super::idempotency::{IdempotencyKey, IdempotencyParams, replay, replay_if_answered};
use super::input::required;
use super::{ApiError, AppState, ErrorBody, schema};
use crate::domain::{Message, MessageBody, MessageId, Role, UserId, Visibility};
use crate::store::CONFLICT_ATTEMPTS;

/// The conversation routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(thread))
        .routes(routes!(reply))
        .routes(routes!(add_note))
}

/// Body of `POST /api/complaints/{id}/replies` and `/notes`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewMessage {
    /// The text.
    #[schema(required = true, schema_with = schema::message_body)]
    pub body: Option<String>,
}

/// One message of a ticket's conversation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: MessageId,
    /// Who wrote it.
    #[schema(value_type = String, format = Uuid)]
    pub author_id: UserId,
    /// The author's role.
    #[schema(schema_with = schema::role)]
    pub author_role: Role,
    /// `public` (a reply) or `internal` (a note, shown to the staff only).
    #[schema(schema_with = schema::visibility)]
    pub visibility: Visibility,
    /// The text.
    pub body: String,
    /// When it was written.
    pub at: DateTime<Utc>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id,
            author_id: m.author,
            author_role: m.author_role,
            visibility: m.visibility,
            body: m.body.as_str().to_owned(),
            at: m.at,
        }
    }
}

/// A ticket's conversation as the caller may read it, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Thread {
    /// The messages: replies, and for the staff the notes too.
    pub items: Vec<MessageView>,
}

/// A ticket's conversation: its replies, and for agents and admins its internal notes.
#[utoipa::path(get, path = "/api/complaints/{id}/messages", operation_id = "getTicketMessages", tag = "conversation",
    params(("id" = String, Path, description = "Ticket id or COMP-number")),
    security(("bearer" = [])),
    responses((status = 200, body = Thread),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller")))]
async fn thread(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Thread>, ApiError> {
    let ticket = find_visible(&state, &id, &auth.0).await?;
    Ok(Json(Thread {
        items: ticket
            .thread_for(auth.0.role)
            .map(MessageView::from)
            .collect(),
    }))
}

/// Replies on a ticket (its requester, its assigned agent, or an admin) and publishes
/// `ticket.replied`; the other side is notified.
#[utoipa::path(post, path = "/api/complaints/{id}/replies", operation_id = "replyToTicket", tag = "conversation", request_body = NewMessage,
    params(("id" = String, Path, description = "Ticket id or COMP-number"), IdempotencyParams),
    security(("bearer" = [])),
    responses((status = 201, body = MessageView, headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the stored answer to an earlier request"))),
        (status = 403, body = ErrorBody, description = "The caller is not the requester, the \
            assigned agent or an admin"),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller"),
        (status = 409, body = ErrorBody, description = "The ticket is closed (`details.field` is \
            `status`), its conversation is full, or it changed concurrently several times")))]
async fn reply(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    idempotency: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<Response, ApiError> {
    let caller = (&auth, &correlation, &idempotency);
    write(&state, caller, &id, body, Visibility::Public).await
}

/// Leaves an internal note on a ticket (agents and admins) and publishes `ticket.note_added`.
/// A note is never shown to the customer.
#[utoipa::path(post, path = "/api/complaints/{id}/notes", operation_id = "addTicketNote", tag = "conversation", request_body = NewMessage,
    params(("id" = String, Path, description = "Ticket id or COMP-number"), IdempotencyParams),
    security(("bearer" = [])),
    responses((status = 201, body = MessageView, headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the stored answer to an earlier request"))),
        (status = 403, body = ErrorBody, description = "Customers do not write notes"),
        (status = 404, body = ErrorBody, description = "No such ticket visible to the caller"),
        (status = 409, body = ErrorBody, description = "The ticket is closed (`details.field` is \
            `status`), its conversation is full, or it changed concurrently several times")))]
async fn add_note(
    State(state): State<AppState>,
    auth: Auth,
    correlation: Correlation,
    idempotency: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<Response, ApiError> {
    let caller = (&auth, &correlation, &idempotency);
    write(&state, caller, &id, body, Visibility::Internal).await
}

/// Adds the caller's message of `visibility` to the ticket, with its event and (under an
/// `Idempotency-Key`) the answer, in one conditional write: a repeat gets the first answer.
async fn write(
    state: &AppState,
    (auth, correlation, idempotency): (&Auth, &Correlation, &IdempotencyKey),
    id: &str,
    body: NewMessage,
    visibility: Visibility,
) -> Result<Response, ApiError> {
    let who = &auth.0;
    let keyed = idempotency.for_request(&who.id.to_string(), &body);
    let now = state.clock.now();
    if let Some(first) = replay_if_answered(keyed.as_ref(), state, now).await? {
        return Ok(first);
    }
    let text = MessageBody::parse("body", required("body", &body.body)?)?;
    for _ in 0..CONFLICT_ATTEMPTS {
        let mut ticket = find_visible(state, id, who).await?;
        let meta = correlation.metadata(who);
        let events = match visibility {
            Visibility::Public => ticket.reply(who, text.clone(), &state.sla, now, meta)?,
            Visibility::Internal => vec![ticket.add_note(who, text.clone(), now, meta)?],
        };
        let written = ticket
            .messages
            .last()
            .expect("BUG: a message was just added");
        let view = MessageView::from(written);
        let answer = keyed
            .as_ref()
            .map(|k| k.answer(StatusCode::CREATED, &view, now, state.idempotency_window));
        let stored = state
            .store
            .update_ticket_answering(&ticket, &events, answer.as_ref())
            .await;
        match (stored, &keyed) {
            (Ok(true), _) => {
                state.outbox.notify_one();
                return Ok((StatusCode::CREATED, Json(view)).into_response());
            }
            // Someone changed the ticket first: look again.
            (Ok(false), _) => {}
            (Err(err), Some(k)) => return Ok(replay(&k.after_conflict(state, err, now).await?)),
            (Err(err), None) => return Err(err.into()),
        }
    }
    Err(ApiError::conflict(
        "the ticket is changing too often right now; try again",
    ))
}
