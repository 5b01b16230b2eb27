//! One handler per event type, lined up in [`dispatch`]. Every handler is idempotent: it reads
//! the current state and changes it only through conditional updates, so a redelivered or
//! duplicated message changes nothing.

mod agent_availability_changed;
mod notify;
mod ticket_created;
mod ticket_resolved;

use super::Context;
use super::routing::{caused_by, route};
use crate::domain::{Envelope, EventType, TicketId, UserId};
use crate::store::StoreError;

/// Why a handler did not finish.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A dependency failed; the message is retried after a backoff.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message can never succeed (a field is missing or malformed); it is dead-lettered.
    #[error("{0}")]
    Invalid(String),
}

/// Runs the handlers for `event`. Event types the worker has nothing to do with succeed at once.
///
/// # Errors
/// [`HandlerError`] when a handler fails.
pub async fn dispatch(ctx: &Context, event: &Envelope) -> Result<(), HandlerError> {
    match event.event_type {
        EventType::TicketCreated => ticket_created::handle(ctx, event).await,
        EventType::TicketResolved => ticket_resolved::handle(ctx, event).await,
        EventType::AgentAvailabilityChanged => {
            agent_availability_changed::handle(ctx, event).await?;
            notify::handle(ctx, event).await
        }
        EventType::TicketRequeued => {
            route(ctx, ticket_id(event)?, &caused_by(event)).await?;
            notify::handle(ctx, event).await
        }
        EventType::TicketAssigned
        | EventType::TicketStatusChanged
        | EventType::TicketEscalated
        | EventType::SlaBreach => notify::handle(ctx, event).await,
        EventType::PrioritizationApplied | EventType::SlaWarning => Ok(()),
    }
}

/// `data.<field>` as a string.
fn field<'a>(event: &'a Envelope, name: &str) -> Result<&'a str, HandlerError> {
    event.data[name]
        .as_str()
        .ok_or_else(|| HandlerError::Invalid(format!("{} without data.{name}", event.event_type)))
}

/// `data.ticketId`.
fn ticket_id(event: &Envelope) -> Result<TicketId, HandlerError> {
    TicketId::parse(field(event, "ticketId")?).map_err(|e| HandlerError::Invalid(e.to_string()))
}

/// `data.<name>` as a user id.
fn user_id(event: &Envelope, name: &str) -> Result<UserId, HandlerError> {
    UserId::parse(name, field(event, name)?).map_err(|e| HandlerError::Invalid(e.to_string()))
}
