//! `ticket.resolved`: the agent's slot for that ticket is given back (once, however often the
//! message comes), and the backlog drains to the agent: the original QuickFix flow of
//! resolve → agent free → next ticket → agent busy again.

use super::{Context, HandlerError, ticket_id, user_id};
use crate::domain::Envelope;
use crate::worker::routing::{caused_by, drain_to};

pub(super) async fn handle(ctx: &Context, event: &Envelope) -> Result<(), HandlerError> {
    let ticket = ticket_id(event)?;
    if event.data["agentId"].is_null() {
        return Ok(());
    }
    let agent = user_id(event, "agentId")?;
    ctx.store.release_slot(agent, ticket).await?;
    drain_to(ctx, agent, &caused_by(event)).await?;
    Ok(())
}
