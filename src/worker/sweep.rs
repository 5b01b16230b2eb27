//! The periodic sweep: repairs what a lost message or a crash between two writes left behind.
//!
//! - A slot held for a ticket the agent no longer has (a crash after the claim, a lost
//!   `ticket.resolved`) is given back once both the slot and the ticket's last change are older
//!   than a grace period, so claims still in flight are never undone and a ticket resolved a
//!   moment ago is left to its `ticket.resolved` handler.
//! - Every online agent with a free slot is offered the backlog, so a ticket whose
//!   `ticket.created` was lost is still assigned.
//!
//! Every step is a conditional update, so any number of workers may sweep at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Context;
use super::routing::drain_to;
use crate::domain::{Availability, Presence, Role, TicketRef};
use crate::store::StoreError;

/// What one sweep repaired.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Stale slots given back.
    pub released: usize,
    /// Backlog tickets assigned.
    pub assigned: usize,
}

/// Runs one sweep; holds younger than `grace` are left alone.
///
/// # Errors
/// When the store fails.
pub async fn sweep(ctx: &Context, grace: Duration) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let now = ctx.clock.now();
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let agents = ctx.store.list_users(Role::Agent).await?;
    let mut by_availability = [0u32; 3];
    for agent in &agents {
        let Some(profile) = &agent.agent else {
            continue;
        };
        by_availability[profile.availability() as usize] += 1;
        for hold in profile.holds.iter().filter(|h| now - h.since >= grace) {
            let ticket = ctx.store.find_ticket(TicketRef::Id(hold.ticket)).await?;
            // A ticket that left the agent within the grace (just resolved, reassigned) is the
            // event handler's to free: its event may still be on the way.
            let leave_to_handler = ticket.is_some_and(|t| {
                (t.assignee == Some(agent.id) && t.status.is_active()) || now - t.updated_at < grace
            });
            if !leave_to_handler && ctx.store.release_slot(agent.id, hold.ticket).await? {
                warn!(agent_id = %agent.id, ticket_id = %hold.ticket, "released a slot held for a ticket the agent no longer has");
                report.released += 1;
            }
        }
    }
    for (availability, count) in [
        Availability::Available,
        Availability::Busy,
        Availability::Offline,
    ]
    .into_iter()
    .zip(by_availability)
    {
        metrics::gauge!("quickfix_agents", "availability" => availability.as_str())
            .set(f64::from(count));
    }
    let meta = super::metadata::run("sweep");
    for agent in &agents {
        if agent
            .agent
            .as_ref()
            .is_some_and(|p| p.presence == Presence::Online)
        {
            report.assigned += drain_to(ctx, agent.id, &meta).await?;
        }
    }
    let backlog = ctx.store.count_open_tickets().await?;
    metrics::gauge!("quickfix_backlog_tickets").set(backlog as f64);
    Ok(report)
}

/// Sweeps every `interval` until `shutdown`.
pub async fn run_sweeps(
    ctx: Context,
    interval: Duration,
    grace: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        match sweep(&ctx, grace).await {
            Ok(r) if r.released > 0 || r.assigned > 0 => {
                info!(
                    released = r.released,
                    assigned = r.assigned,
                    "sweep repaired state"
                );
            }
            Ok(_) => {}
            Err(err) => warn!(error = %err, "sweep failed; next one in {interval:?}"),
        }
    }
}
