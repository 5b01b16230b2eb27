//! `ticket.created`: apply the prioritisation rules, then give the ticket to a free agent (or
//! leave it in the backlog).

use super::{Context, HandlerError};
use crate::domain::{Envelope, Status, TicketId, TicketRef};
use crate::worker::routing::{caused_by, route};

/// Attempts of the prioritisation update before moving on.
const MAX_ATTEMPTS: usize = 5;

pub(super) async fn handle(
    ctx: &Context,
    event: &Envelope,
    id: TicketId,
) -> Result<(), HandlerError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(mut ticket) = ctx.store.find_ticket(TicketRef::Id(id)).await? else {
            return Ok(());
        };
        if ticket.status != Status::Open {
            return Ok(());
        }
        let Some(rule) = ctx
            .rules
            .best_match(ticket.title.as_str(), ticket.description.as_str())
        else {
            break;
        };
        let Some(applied) = ticket.raise_priority(
            rule.priority,
            &rule.keyword,
            &ctx.sla,
            ctx.clock.now(),
            caused_by(event),
        ) else {
            break;
        };
        if ctx.store.update_ticket(&ticket, &[applied]).await? {
            ctx.outbox.notify_one();
            break;
        }
    }
    route(ctx, id, &caused_by(event)).await?;
    Ok(())
}
