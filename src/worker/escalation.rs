//! The escalation scan: every ticket whose SLA check time has come gets its warnings, breaches
//! and at most one escalation step, written with one conditional update.
//!
//! The scan reads state, not timers: a ticket stores when it next needs a look, so a restarted
//! worker or a missed scan catches up on the next one. Two workers scanning at once both compute
//! the same step; the revision check lets one write it, and the other re-reads the ticket and
//! finds nothing left to do. A reassignment claims the new agent's slot first, through the same
//! atomic claim as routing, and gives it back if the ticket write loses.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Context;
use crate::domain::{
    AcceptanceStep, EscalationAction, EscalationRule, SlaMark, Ticket, TicketRef, Tier, UserId,
};
use crate::store::{Attempt, CONFLICT_ATTEMPTS, StoreError, commit_claimed};

/// Tickets read per page.
const PAGE: usize = 500;

/// What one scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    /// Tickets looked at.
    pub examined: usize,
    /// `sla.warning` events recorded.
    pub warnings: usize,
    /// `sla.breach` events recorded.
    pub breaches: usize,
    /// Escalation rules applied.
    pub escalations: usize,
    /// Escalations that moved the ticket to a higher-tier agent.
    pub reassigned: usize,
    /// Tickets resolved after waiting on the customer too long.
    pub auto_resolved: usize,
    /// Tickets given to another agent because theirs did not act in time.
    pub unaccepted: usize,
}

/// Scans every ticket whose SLA check time is at or before the clock's now.
///
/// # Errors
/// When the store fails; what was written stays written, and the next scan goes on from there.
pub async fn scan(ctx: &Context) -> Result<ScanReport, StoreError> {
    let now = ctx.clock.now();
    let mut report = ScanReport::default();
    // A ticket comes back within the same scan only with a new revision: when a step left
    // another one due at once (the ladder is finite, so this ends).
    let mut seen = HashSet::new();
    loop {
        let page = ctx.store.sla_checks_due(now, PAGE).await?;
        let fresh: Vec<Ticket> = page
            .into_iter()
            .filter(|t| seen.insert((t.id, t.revision)))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for ticket in fresh {
            examine(ctx, ticket, now, &mut report).await?;
        }
        // Written tickets left the query (or came back with a new revision), so the next page
        // holds what is still due; an empty or fully seen page ends the scan.
    }
    Ok(report)
}

/// Records what is due on one ticket, retrying on a concurrent change.
async fn examine(
    ctx: &Context,
    mut ticket: Ticket,
    now: DateTime<Utc>,
    report: &mut ScanReport,
) -> Result<(), StoreError> {
    // A loop rather than `retry_on_conflict`: each attempt adds to `report`.
    for _ in 0..CONFLICT_ATTEMPTS {
        report.examined += 1;
        if apply_due_steps(ctx, ticket.clone(), now, report).await? == Attempt::Done(()) {
            return Ok(());
        }
        match ctx.store.find_ticket(TicketRef::Id(ticket.id)).await? {
            Some(fresh) => ticket = fresh,
            None => return Ok(()),
        }
    }
    warn!(ticket_id = %ticket.id, "ticket kept changing during the escalation scan; the next scan retries");
    Ok(())
}

/// Computes and writes the due steps of `ticket` as read.
async fn apply_due_steps(
    ctx: &Context,
    mut ticket: Ticket,
    now: DateTime<Utc>,
    report: &mut ScanReport,
) -> Result<Attempt<()>, StoreError> {
    let policy = ctx.sla.as_ref();
    // Scan steps start a causal chain of their own.
    let meta = super::metadata::run("sla");
    let planned_before = ticket.sla.check_at;
    let mut events = ticket
        .resolve_unanswered(policy, now, meta.clone())
        .unwrap_or_default();
    let auto_resolved = !events.is_empty();
    let marks = ticket.due_sla_marks(now);
    for mark in &marks {
        events.push(ticket.record_sla_mark(*mark, policy, now, meta.clone()));
    }
    let mut claimed: Option<UserId> = None;
    let previous = ticket.assignee;
    let escalation = ticket
        .due_escalation(policy, now)
        .map(|(level, rule)| (level, rule.clone()));
    if let Some((level, rule)) = &escalation {
        if rule.does(EscalationAction::ReassignHigherTier) {
            claimed = claim_higher_tier(ctx, &ticket, now).await?;
        }
        let step = ticket.escalate(*level, rule, policy, claimed, now, meta.clone());
        if claimed.is_some() && !step.reassigned {
            release(ctx, claimed.take(), ticket.id).await?;
        }
        events.extend(step.events);
    }
    let mut unaccepted = false;
    if escalation.is_none() {
        match ticket.acceptance_step(policy, now) {
            Some(AcceptanceStep::Reassign) => {
                // Another eligible agent: the claim skips the one holding the ticket.
                if let Some(agent) = ctx
                    .store
                    .claim_agent(&ticket.category, None, ticket.id, now)
                    .await?
                {
                    match ticket.reassign_unaccepted(agent.id, policy, now, meta.clone()) {
                        Some(step) => {
                            claimed = Some(agent.id);
                            unaccepted = true;
                            events.extend(step);
                        }
                        None => release(ctx, Some(agent.id), ticket.id).await?,
                    }
                }
            }
            Some(AcceptanceStep::Escalate) => {
                events.extend(ticket.escalate_unaccepted(policy, now, meta.clone()));
            }
            None => {}
        }
    }
    ticket.plan_sla_check(policy);
    if events.is_empty() && ticket.sla.check_at == planned_before {
        return Ok(Attempt::Done(()));
    }
    let stored = match claimed {
        Some(agent) => commit_claimed(ctx.store.as_ref(), &ticket, agent, &events, None).await?,
        None => ctx.store.update_ticket(&ticket, &events).await?,
    };
    if !stored {
        return Ok(Attempt::Conflict);
    }
    if claimed.is_some() {
        release(ctx, previous, ticket.id).await?;
    }
    if !events.is_empty() {
        ctx.outbox.notify_one();
    }
    report.auto_resolved += usize::from(auto_resolved);
    report.unaccepted += usize::from(unaccepted);
    count(report, &marks, escalation.as_ref(), claimed.is_some());
    log_steps(&ticket, &marks, escalation.as_ref(), claimed);
    Ok(Attempt::Done(()))
}

/// Claims a slot for `ticket` from a free agent of a higher tier than its holder's: a senior
/// first, then a manager.
async fn claim_higher_tier(
    ctx: &Context,
    ticket: &Ticket,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, StoreError> {
    let current = match ticket.assignee {
        Some(agent) => ctx
            .store
            .find_user(agent)
            .await?
            .and_then(|u| u.agent)
            .map_or(Tier::Agent, |a| a.tier),
        None => Tier::Agent,
    };
    for tier in Tier::ALL.iter().copied().filter(|t| *t > current) {
        if let Some(agent) = ctx
            .store
            .claim_agent(&ticket.category, Some(tier), ticket.id, now)
            .await?
        {
            return Ok(Some(agent.id));
        }
    }
    Ok(None)
}

async fn release(
    ctx: &Context,
    agent: Option<UserId>,
    ticket: crate::domain::TicketId,
) -> Result<(), StoreError> {
    if let Some(agent) = agent {
        ctx.store.release_slot(agent, ticket).await?;
    }
    Ok(())
}

fn count(
    report: &mut ScanReport,
    marks: &[SlaMark],
    escalation: Option<&(u32, EscalationRule)>,
    reassigned: bool,
) {
    for mark in marks {
        match mark {
            SlaMark::Warning(_) => report.warnings += 1,
            SlaMark::Breach(_) => report.breaches += 1,
        }
        let kind = match mark {
            SlaMark::Warning(_) => "warning",
            SlaMark::Breach(_) => "breach",
        };
        metrics::counter!("quickfix_sla_events_total", "kind" => kind).increment(1);
    }
    if escalation.is_some() {
        report.escalations += 1;
        metrics::counter!("quickfix_escalations_total").increment(1);
    }
    if reassigned {
        report.reassigned += 1;
    }
}

fn log_steps(
    ticket: &Ticket,
    marks: &[SlaMark],
    escalation: Option<&(u32, EscalationRule)>,
    reassigned_to: Option<UserId>,
) {
    for mark in marks {
        let (kind, target) = match mark {
            SlaMark::Warning(t) => ("warning", t),
            SlaMark::Breach(t) => ("breach", t),
        };
        info!(ticket_id = %ticket.id, complaint_id = %ticket.complaint_id, target = %target, "SLA {kind}");
    }
    if let Some((level, rule)) = escalation {
        info!(ticket_id = %ticket.id, complaint_id = %ticket.complaint_id, level, rule = %rule.name,
              reassigned_to = ?reassigned_to.map(|a| a.to_string()), "ticket escalated");
    }
}

/// Scans every `interval` until `cancel` fires. A failed scan is logged; the next one catches up.
pub async fn run_escalations(ctx: Context, interval: Duration, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let started = std::time::Instant::now();
        match scan(&ctx).await {
            Ok(report) => {
                metrics::histogram!("quickfix_escalation_scan_seconds")
                    .record(started.elapsed().as_secs_f64());
                if report != ScanReport::default() {
                    info!(?report, "escalation scan");
                }
            }
            Err(err) => warn!(error = %err, "escalation scan failed; the next scan retries"),
        }
    }
}
