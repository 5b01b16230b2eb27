//! `agent.availability_changed`: an agent coming online takes backlog tickets up to their free
//! slots; an agent going offline has their not-yet-started tickets requeued and routed to
//! others (when configured).

use super::{Context, HandlerError};
use crate::domain::{Envelope, Presence, UserId};
use crate::worker::metadata::caused_by;
use crate::worker::routing::{drain_to, requeue_from};

pub(super) async fn handle(
    ctx: &Context,
    event: &Envelope,
    agent: UserId,
) -> Result<(), HandlerError> {
    // Act on the agent's presence now, not on the event's: a late message must not undo a
    // newer change.
    let Some(profile) = ctx.store.find_user(agent).await?.and_then(|u| u.agent) else {
        return Ok(());
    };
    match profile.presence {
        Presence::Online => {
            drain_to(ctx, agent, &caused_by(event)).await?;
        }
        Presence::Offline if ctx.requeue_on_offline => {
            requeue_from(ctx, agent, &caused_by(event)).await?;
        }
        Presence::Offline => {}
    }
    Ok(())
}
