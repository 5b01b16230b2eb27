//! Routing operations shared by the handlers and the sweep: assign a ticket to the best agent,
//! drain the backlog to an agent, requeue an offline agent's tickets.
//!
//! Every operation is "claim a slot, then conditionally update the ticket, else give the slot
//! back", so concurrent workers and redelivered messages never assign a ticket twice or put an
//! agent over capacity.

use tracing::{debug, info};

use super::Context;
use crate::domain::{EventMetadata, Status, Ticket, TicketId, TicketRef, UserId};
use crate::store::{
    Attempt, CONFLICT_ATTEMPTS, StoreError, TicketQuery, commit_claimed, retry_on_conflict,
};

/// Gives `ticket` to the best agent for its category, if it is still in the backlog and an
/// agent is free. Returns the agent it went to.
///
/// # Errors
/// When the store fails; the caller retries the message.
pub async fn route(
    ctx: &Context,
    ticket: TicketId,
    cause: &EventMetadata,
) -> Result<Option<UserId>, StoreError> {
    route_from(ctx, ticket, None, None, cause).await
}

/// [`route`] for a ticket back in the backlog (reopened, or requeued): to `previous`, the agent
/// who had it, when the ticket's history says they did and they are online with a free slot;
/// otherwise to the best free agent, or the backlog by priority. Never to an offline agent.
///
/// # Errors
/// When the store fails; the caller retries the message.
pub async fn route_back(
    ctx: &Context,
    ticket: TicketId,
    previous: Option<UserId>,
    cause: &EventMetadata,
) -> Result<Option<UserId>, StoreError> {
    route_from(ctx, ticket, None, previous, cause).await
}

/// [`route`], starting from `known`: the ticket as the caller has just read or written it, so
/// the first attempt saves a read. A stale `known` costs nothing but that attempt: its
/// conditional write loses, the slot goes back, and the next attempt reads the ticket.
///
/// # Errors
/// When the store fails; the caller retries the message.
pub async fn route_known(
    ctx: &Context,
    known: Ticket,
    cause: &EventMetadata,
) -> Result<Option<UserId>, StoreError> {
    route_from(ctx, known.id, Some(known), None, cause).await
}

async fn route_from(
    ctx: &Context,
    ticket: TicketId,
    mut known: Option<Ticket>,
    previous: Option<UserId>,
    cause: &EventMetadata,
) -> Result<Option<UserId>, StoreError> {
    let routed = retry_on_conflict(|| {
        let known = known.take();
        async move {
            let current = match known {
                Some(current) => current,
                None => match ctx.store.find_ticket(TicketRef::Id(ticket)).await? {
                    Some(current) => current,
                    None => return Ok(Attempt::Done(None)),
                },
            };
            if !current.in_backlog() || current.assignee.is_some() {
                return Ok(Attempt::Done(None));
            }
            let now = ctx.clock.now();
            // The store's history, not the message, says who had the ticket.
            let back = match previous.filter(|agent| current.was_assigned_to(*agent)) {
                Some(agent) => ctx.store.take_slot(agent, ticket, now).await?,
                None => None,
            };
            let agent = match back {
                Some(agent) => Some(agent),
                None => {
                    ctx.store
                        .claim_agent(&current.category, None, ticket, now)
                        .await?
                }
            };
            let Some(agent) = agent else {
                debug!(%ticket, category = current.category.as_str(), "no free agent; the ticket waits in the backlog");
                return Ok(Attempt::Done(None));
            };
            Ok::<_, StoreError>(if assign_claimed(ctx, current, agent.id, cause).await? {
                Attempt::Done(Some(agent.id))
            } else {
                Attempt::Conflict
            })
        }
    })
    .await?;
    Ok(routed.flatten())
}

/// Assigns `ticket` to `agent`, whose slot for it is already taken, with the prioritisation
/// rules applied; gives the slot back if the ticket changed meanwhile. Returns whether the
/// assignment was stored.
async fn assign_claimed(
    ctx: &Context,
    mut ticket: Ticket,
    agent: UserId,
    cause: &EventMetadata,
) -> Result<bool, StoreError> {
    let now = ctx.clock.now();
    // A ticket drained from the backlog before its `ticket.created` was handled gets its
    // prioritisation here, in the same write as the assignment.
    let mut events: Vec<_> = ctx
        .apply_rules(&mut ticket, now, cause.clone())
        .into_iter()
        .collect();
    let Ok(assigned) = ticket.assign(agent, "system", None, now, cause.clone()) else {
        ctx.store.release_slot(agent, ticket.id).await?;
        return Ok(false);
    };
    events.push(assigned);
    if !commit_claimed(ctx.store.as_ref(), &ticket, agent, &events, None).await? {
        return Ok(false);
    }
    ctx.outbox.notify_one();
    let waited = (now - ticket.created_at).to_std().unwrap_or_default();
    metrics::histogram!("quickfix_assignment_latency_seconds").record(waited.as_secs_f64());
    metrics::counter!("quickfix_tickets_assigned_total").increment(1);
    info!(ticket_id = %ticket.id, complaint_id = %ticket.complaint_id, agent_id = %agent, "ticket assigned");
    Ok(true)
}

/// Gives `agent` backlog tickets it can take until its slots are full or nothing fits: the
/// highest priority first, then the oldest. Returns how many it got.
///
/// # Errors
/// When the store fails.
pub async fn drain_to(
    ctx: &Context,
    agent: UserId,
    cause: &EventMetadata,
) -> Result<usize, StoreError> {
    let mut assigned = 0;
    let mut misses = 0;
    while misses < CONFLICT_ATTEMPTS {
        let Some(user) = ctx.store.find_user(agent).await? else {
            break;
        };
        let Some(profile) = user
            .agent
            .filter(|p| p.availability() == crate::domain::Availability::Available)
        else {
            break;
        };
        let Some(ticket) = ctx.store.next_backlog_ticket(&profile.skills).await? else {
            break;
        };
        if ctx
            .store
            .take_slot(agent, ticket.id, ctx.clock.now())
            .await?
            .is_none()
        {
            misses += 1;
            continue;
        }
        if assign_claimed(ctx, ticket, agent, cause).await? {
            assigned += 1;
        } else {
            misses += 1;
        }
    }
    Ok(assigned)
}

/// Sends `agent`'s assigned-but-not-started tickets back to the backlog and routes each to
/// another agent. Does nothing if the agent is online again.
///
/// # Errors
/// When the store fails.
pub async fn requeue_from(
    ctx: &Context,
    agent: UserId,
    cause: &EventMetadata,
) -> Result<usize, StoreError> {
    let query = TicketQuery {
        assignee: Some(agent),
        status: Some(Status::Assigned),
        limit: 1000,
        ..TicketQuery::default()
    };
    let mut requeued = 0;
    for mut ticket in ctx.store.list_tickets(&query).await? {
        let still_offline = ctx
            .store
            .find_user(agent)
            .await?
            .and_then(|u| u.agent)
            .is_some_and(|a| a.presence == crate::domain::Presence::Offline);
        if !still_offline {
            break;
        }
        let id = ticket.id;
        let Some(event) = ticket.requeue(
            agent,
            "the agent went offline",
            ctx.clock.now(),
            cause.clone(),
        ) else {
            continue;
        };
        if ctx.store.update_ticket(&ticket, &[event]).await? {
            ctx.outbox.notify_one();
            ctx.store.release_slot(agent, id).await?;
            requeued += 1;
            route(ctx, id, cause).await?;
        }
    }
    Ok(requeued)
}
