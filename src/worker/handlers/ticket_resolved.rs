//! `ticket.resolved`: the agent's slot for that ticket is given back (once, however often the
//! message comes), and the backlog drains to the agent: the original QuickFix flow of
//! resolve → agent free → next ticket → agent busy again.
//!
//! The store, not the message, says whose slot to free: the ticket must be resolved (or
//! closed) and held by the agent the event names. A forged or stale event (another agent, a
//! ticket that is open again) changes nothing and is logged; a slot it leaves behind is freed
//! by the sweep once the agent no longer holds the ticket.

use tracing::warn;

use super::{Context, HandlerError, ticket_id};
use crate::domain::{Envelope, Status, TicketRef};
use crate::worker::routing::{caused_by, drain_to};

pub(super) async fn handle(ctx: &Context, event: &Envelope) -> Result<(), HandlerError> {
    let id = ticket_id(event)?;
    let claimed = event.data["agentId"].as_str();
    let Some(ticket) = ctx.store.find_ticket(TicketRef::Id(id)).await? else {
        return ignore(event, "no such ticket");
    };
    if !matches!(ticket.status, Status::Resolved | Status::Closed) {
        return ignore(event, "the ticket is not resolved");
    }
    let Some(holder) = ticket.assignee else {
        return Ok(());
    };
    if claimed != Some(holder.to_string().as_str()) {
        return ignore(
            event,
            "the event names another agent than the one holding the ticket",
        );
    }
    ctx.store.release_slot(holder, ticket.id).await?;
    drain_to(ctx, holder, &caused_by(event)).await?;
    Ok(())
}

/// Logs and counts an event the store contradicts, and succeeds so it is not retried.
fn ignore(event: &Envelope, why: &'static str) -> Result<(), HandlerError> {
    warn!(
        event_id = %event.event_id,
        ticket_id = event.data["ticketId"].as_str().unwrap_or("-"),
        agent_id = event.data["agentId"].as_str().unwrap_or("-"),
        why,
        "ignoring a ticket.resolved the store contradicts"
    );
    metrics::counter!("quickfix_events_ignored_total", "event_type" => "ticket.resolved", "why" => why)
        .increment(1);
    Ok(())
}
