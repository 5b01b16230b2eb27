//! One handler per event type, lined up in [`dispatch`]. Every handler is idempotent: it reads
//! the current state and changes it only through conditional updates, so a redelivered or
//! duplicated message changes nothing.

mod agent_availability_changed;
mod conversation;
mod notify;
mod ticket_created;
mod ticket_resolved;

use super::Context;
use super::metadata::caused_by;
use super::routing::route_back;
use crate::domain::{Envelope, Event};
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
    match &event.event {
        Event::TicketCreated(created) => {
            ticket_created::handle(ctx, event, created.ticket_id).await
        }
        Event::TicketResolved(resolved) => ticket_resolved::handle(ctx, event, resolved).await,
        Event::AgentAvailabilityChanged(changed) => {
            agent_availability_changed::handle(ctx, event, changed.agent_id).await?;
            notify::handle(ctx, event).await
        }
        Event::TicketRequeued(requeued) => {
            let previous = requeued.previous_assignee;
            route_back(ctx, requeued.ticket_id, previous, &caused_by(event)).await?;
            notify::handle(ctx, event).await
        }
        Event::TicketAssigned(_)
        | Event::TicketStatusChanged(_)
        | Event::TicketEscalated(_)
        | Event::SlaBreach(_) => notify::handle(ctx, event).await,
        Event::TicketReplied(added) | Event::TicketNoteAdded(added) => {
            conversation::handle(ctx, event, added).await
        }
        Event::PrioritizationApplied(_)
        | Event::SlaWarning(_)
        | Event::SlaBreachAcknowledged(_)
        | Event::TicketReassigned(_) => Ok(()),
    }
}
