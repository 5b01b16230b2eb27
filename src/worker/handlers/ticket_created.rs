//! `ticket.created`: apply the prioritisation rules, then give the ticket to a free agent (or
//! leave it in the backlog).

use super::{Context, HandlerError};
use crate::domain::{Envelope, TicketId, TicketRef};
use crate::store::{Attempt, retry_on_conflict};
use crate::worker::metadata::caused_by;
use crate::worker::routing::{route, route_known};

pub(super) async fn handle(
    ctx: &Context,
    event: &Envelope,
    id: TicketId,
) -> Result<(), HandlerError> {
    // The ticket as it stands once the rules are applied, if it still waits for an agent:
    // routing starts from it rather than reading it again.
    let waiting = retry_on_conflict(move || async move {
        let Some(mut ticket) = ctx.store.find_ticket(TicketRef::Id(id)).await? else {
            return Ok(Attempt::Done(None));
        };
        if !ticket.in_backlog() {
            return Ok(Attempt::Done(None));
        }
        let Some(applied) = ctx.apply_rules(&mut ticket, ctx.clock.now(), caused_by(event)) else {
            return Ok(Attempt::Done(Some(ticket)));
        };
        if !ctx.store.update_ticket(&ticket, &[applied]).await? {
            return Ok(Attempt::Conflict);
        }
        ticket.revision += 1;
        ctx.outbox.notify_one();
        Ok::<_, HandlerError>(Attempt::Done(Some(ticket)))
    })
    .await?;
    match waiting {
        Some(Some(ticket)) => {
            route_known(ctx, ticket, &caused_by(event)).await?;
        }
        Some(None) => {}
        // A ticket that kept changing is routed as it is.
        None => {
            route(ctx, id, &caused_by(event)).await?;
        }
    }
    Ok(())
}
