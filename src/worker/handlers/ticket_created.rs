//! `ticket.created`: apply the prioritisation rules, then give the ticket to a free agent (or
//! leave it in the backlog).

use super::{Context, HandlerError};
use crate::domain::{Envelope, TicketId, TicketRef};
use crate::store::{Attempt, retry_on_conflict};
use crate::worker::metadata::caused_by;
use crate::worker::routing::route;

pub(super) async fn handle(
    ctx: &Context,
    event: &Envelope,
    id: TicketId,
) -> Result<(), HandlerError> {
    // Whether the ticket still waits for an agent once the rules are applied.
    let waiting = retry_on_conflict(move || async move {
        let Some(mut ticket) = ctx.store.find_ticket(TicketRef::Id(id)).await? else {
            return Ok(Attempt::Done(false));
        };
        if !ticket.in_backlog() {
            return Ok(Attempt::Done(false));
        }
        let Some(rule) = ctx
            .rules
            .best_match(ticket.title.as_str(), ticket.description.as_str())
        else {
            return Ok(Attempt::Done(true));
        };
        let Some(applied) = ticket.raise_priority(
            rule.priority,
            &rule.keyword,
            &ctx.sla,
            ctx.clock.now(),
            caused_by(event),
        ) else {
            return Ok(Attempt::Done(true));
        };
        if !ctx.store.update_ticket(&ticket, &[applied]).await? {
            return Ok(Attempt::Conflict);
        }
        ctx.outbox.notify_one();
        Ok::<_, HandlerError>(Attempt::Done(true))
    })
    .await?;
    // A ticket that kept changing is routed as it is.
    if waiting.unwrap_or(true) {
        route(ctx, id, &caused_by(event)).await?;
    }
    Ok(())
}
