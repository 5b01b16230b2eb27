//! `ticket.resolved`: the agent's slot for that ticket is given back (once, however often the
//! message comes), and the backlog drains to the agent: the original QuickFix flow of
//! resolve → agent free → next ticket → agent busy again.
//!
//! The store, not the message, says whose slot to free: the ticket must be resolved (or
//! closed) and held by the agent the event names. A forged or stale event (another agent, a
//! ticket that is open again) changes nothing and is logged; a slot it leaves behind is freed
//! by the sweep once the agent no longer holds the ticket.

use tracing::warn;

use super::{Context, HandlerError};
use crate::domain::{Envelope, Status, TicketRef, TicketResolved};
use crate::worker::metadata::caused_by;
use crate::worker::routing::drain_to;

pub(super) async fn handle(
    ctx: &Context,
    event: &Envelope,
    resolved: &TicketResolved,
) -> Result<(), HandlerError> {
    let Some(ticket) = ctx
        .store
        .find_ticket(TicketRef::Id(resolved.ticket_id))
        .await?
    else {
        return ignore(event, resolved, "no such ticket");
    };
    if !matches!(ticket.status, Status::Resolved | Status::Closed) {
        return ignore(event, resolved, "the ticket is not resolved");
    }
    let Some(holder) = ticket.assignee else {
        return Ok(());
    };
    if resolved.agent_id != Some(holder) {
        return ignore(
            event,
            resolved,
            "the event names another agent than the one holding the ticket",
        );
    }
    ctx.store.release_slot(holder, ticket.id).await?;
    drain_to(ctx, holder, &caused_by(event)).await?;
    Ok(())
}

/// Logs and counts an event the store contradicts, and succeeds so it is not retried.
fn ignore(
    event: &Envelope,
    resolved: &TicketResolved,
    why: &'static str,
) -> Result<(), HandlerError> {
    warn!(
        event_id = %event.event_id,
        ticket_id = %resolved.ticket_id,
        agent_id = ?resolved.agent_id.map(|a| a.to_string()),
        why,
        "ignoring a ticket.resolved the store contradicts"
    );
    metrics::counter!("quickfix_events_ignored_total", "event_type" => "ticket.resolved", "why" => why)
        .increment(1);
    Ok(())
}
