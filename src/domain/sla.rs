//! Service-level targets and escalation: what a ticket owes and when, and what happens when it
//! is late.
//!
//! Every priority has three targets: the first response (time to the staff's first public
//! reply), the next reply (from each customer reply to the staff's next public reply) and the
//! resolution (time to `Resolved`, paused while the ticket waits on the customer). Their due
//! times are stored on the ticket and recomputed when its priority changes; with business hours
//! configured, only working time counts.
//!
//! The escalation scan is state-based: a ticket stores when it next needs a look
//! ([`TicketSla::check_at`]), and a scan looks at every ticket whose time has come, however late
//! the scan is. Warnings and breaches are recorded once per target; escalation rules form a
//! ladder (rule *n* lifts a ticket to level *n*, and a ticket only climbs), so a rule fires at
//! most once per ticket.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::named::named_enum;
use super::{Envelope, Priority, Status, ValidationError};

named_enum!(
    /// Which of a ticket's targets.
    SlaTarget, "target" {
        /// Time to the first public reply from the staff.
        FirstResponse = "firstResponse",
        /// Time from a customer's reply to the staff's next public reply.
        NextReply = "nextReply",
        /// Time to `Resolved`.
        Resolution = "resolution",
    }
);

impl SlaTarget {
    /// Words for history notes and logs.
    pub fn describe(self) -> &'static str {
        match self {
            SlaTarget::FirstResponse => "first response",
            SlaTarget::NextReply => "next reply",
            SlaTarget::Resolution => "resolution",
        }
    }
}

/// The targets of one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    /// Time allowed until the staff's first public reply.
    pub first_response: TimeDelta,
    /// Time allowed from each customer reply to the staff's next public reply.
    pub next_reply: TimeDelta,
    /// Time allowed until it is resolved.
    pub resolution: TimeDelta,
}

impl Targets {
    /// The time allowed for `target`.
    pub fn get(self, target: SlaTarget) -> TimeDelta {
        match target {
            SlaTarget::FirstResponse => self.first_response,
            SlaTarget::NextReply => self.next_reply,
            SlaTarget::Resolution => self.resolution,
        }
    }
}

/// The moment an escalation rule measures from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// The ticket was opened.
    Created,
    /// The ticket entered its current status.
    StatusEntered,
    /// The first-response target was due, and missed.
    FirstResponseDue,
    /// The resolution target was due, and missed.
    ResolutionDue,
}

impl Mark {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Created => "created",
            Mark::StatusEntered => "status_entered",
            Mark::FirstResponseDue => "first_response_due",
            Mark::ResolutionDue => "resolution_due",
        }
    }
}

/// What an escalation rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationAction {
    /// One priority step up (due times are recomputed).
    RaisePriority,
    /// Give the ticket to a free agent of a higher tier than its holder's: a senior first, then
    /// a manager, through the same atomic claim as routing.
    ReassignHigherTier,
    /// Notify every manager and admin.
    NotifyManagers,
}

impl EscalationAction {
    /// The name used in configuration and events.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationAction::RaisePriority => "raise_priority",
            EscalationAction::ReassignHigherTier => "reassign_higher_tier",
            EscalationAction::NotifyManagers => "notify_managers",
        }
    }
}

/// "A ticket of these priorities, in these statuses, `after` past `since`: do `actions`."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRule {
    /// Shown in history and events.
    pub name: String,
    /// Priorities it applies to; empty for any.
    pub priorities: Vec<Priority>,
    /// Statuses it applies to; empty for any active status.
    pub statuses: Vec<Status>,
    /// The moment measured from.
    pub since: Mark,
    /// How long after it the rule fires (SLA time: business hours when configured).
    pub after: TimeDelta,
    /// What it does, in order.
    pub actions: Vec<EscalationAction>,
}

impl EscalationRule {
    /// Whether the rule applies to a ticket of `priority` in `status` (its time aside).
    pub(crate) fn applies_to(&self, priority: Priority, status: Status) -> bool {
        status.is_active()
            && (self.priorities.is_empty() || self.priorities.contains(&priority))
            && (self.statuses.is_empty() || self.statuses.contains(&status))
    }

    /// Whether the rule does `action`.
    pub fn does(&self, action: EscalationAction) -> bool {
        self.actions.contains(&action)
    }
}

/// Where one target of one ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetClock {
    /// When the target is due.
    pub due_at: DateTime<Utc>,
    /// When the warning is due.
    pub warn_at: DateTime<Utc>,
    /// When the target was met (the first assignment, or the resolution).
    pub met_at: Option<DateTime<Utc>>,
    /// When the warning was recorded.
    pub warned_at: Option<DateTime<Utc>>,
    /// When the breach was recorded.
    pub breached_at: Option<DateTime<Utc>>,
    /// When someone acknowledged the breach: escalation rules measured from this target's
    /// due time no longer fire.
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// How a target turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Met by its due time.
    Met,
    /// Missed: met late, or still unmet after its due time.
    Missed,
    /// Not met yet and not due yet.
    Pending,
    /// The ticket was closed without meeting the target, before it was due.
    Void,
}

impl TargetClock {
    /// Whether the target was missed, as far as is known at `now`.
    pub fn is_missed(&self, now: DateTime<Utc>) -> bool {
        match self.met_at {
            Some(met) => met > self.due_at,
            None => now >= self.due_at,
        }
    }

    /// How the target turned out at `now` for a ticket that is `active` or not.
    pub fn outcome(&self, active: bool, now: DateTime<Utc>) -> Outcome {
        match self.met_at {
            Some(met) if met <= self.due_at => Outcome::Met,
            Some(_) => Outcome::Missed,
            None if self.breached_at.is_some() => Outcome::Missed,
            None if !active => Outcome::Void,
            None if now >= self.due_at => Outcome::Missed,
            None => Outcome::Pending,
        }
    }

    /// The instants at which the scan has something to record, if any.
    pub(crate) fn pending_marks(&self) -> impl Iterator<Item = DateTime<Utc>> {
        let open = self.met_at.is_none() && self.breached_at.is_none();
        let warn = (open && self.warned_at.is_none()).then_some(self.warn_at);
        let breach = (self.breached_at.is_none() && self.met_at.is_none_or(|m| m > self.due_at))
            .then_some(self.due_at);
        warn.into_iter().chain(breach)
    }
}

/// A ticket's SLA state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketSla {
    /// Time to the staff's first public reply.
    pub first_response: TargetClock,
    /// The latest next-reply cycle: started by a customer reply, met by the staff's next
    /// public reply; `None` until the customer first replies.
    pub next_reply: Option<TargetClock>,
    /// Next-reply cycles answered in time, before the latest.
    pub replies_met: u32,
    /// Next-reply cycles answered late, before the latest.
    pub replies_missed: u32,
    /// Time to resolution.
    pub resolution: TargetClock,
    /// The highest escalation rule applied (1-based; 0 when never escalated).
    pub escalation_level: u32,
    /// Since when the resolution clock is paused (the ticket waits on the customer), if it is.
    pub paused_since: Option<DateTime<Utc>>,
    /// SLA time the resolution clock spent paused in earlier pauses; its due and warning
    /// times have moved by as much.
    pub paused: TimeDelta,
    /// Times the ticket went to another agent because its agent did not act in time.
    pub reassignments: u32,
    /// Whether the ticket escalated because it ran out of reassignments (once per ticket).
    pub acceptance_escalated: bool,
    /// When the escalation scan should next look at the ticket; `None` when nothing more can
    /// happen (the ticket is resolved or closed, or every target and rule is settled). Every
    /// change to the ticket sets it to "now", so the scan re-plans from the new state.
    pub check_at: Option<DateTime<Utc>>,
}

impl TicketSla {
    /// The clock of `target`; the next-reply clock exists once the customer has replied.
    pub fn clock(&self, target: SlaTarget) -> Option<&TargetClock> {
        match target {
            SlaTarget::FirstResponse => Some(&self.first_response),
            SlaTarget::NextReply => self.next_reply.as_ref(),
            SlaTarget::Resolution => Some(&self.resolution),
        }
    }

    pub(crate) fn clock_mut(&mut self, target: SlaTarget) -> Option<&mut TargetClock> {
        match target {
            SlaTarget::FirstResponse => Some(&mut self.first_response),
            SlaTarget::NextReply => self.next_reply.as_mut(),
            SlaTarget::Resolution => Some(&mut self.resolution),
        }
    }

    /// Starts a next-reply cycle at a customer's reply, unless one is waiting already (the
    /// oldest unanswered reply sets the pace).
    pub(crate) fn customer_replied(&mut self, clock: TargetClock) {
        if self.next_reply.is_none_or(|c| c.met_at.is_some()) {
            self.next_reply = Some(clock);
        }
    }

    /// The staff answered publicly at `now`: the first response is met if it was not, and a
    /// waiting next-reply cycle is met (counted in time or late).
    pub(crate) fn staff_replied(&mut self, now: DateTime<Utc>) {
        self.first_response.met_at.get_or_insert(now);
        if let Some(cycle) = self.next_reply.as_mut().filter(|c| c.met_at.is_none()) {
            cycle.met_at = Some(now);
            if now <= cycle.due_at {
                self.replies_met += 1;
            } else {
                self.replies_missed += 1;
            }
        }
    }

    /// How the next-reply target turned out over every cycle, at `now`, for a ticket that is
    /// `active` or not: the answered cycles, and the waiting one's outcome.
    pub fn next_reply_outcomes(&self, active: bool, now: DateTime<Utc>) -> Compliance {
        let mut c = Compliance {
            met: u64::from(self.replies_met),
            missed: u64::from(self.replies_missed),
            pending: 0,
        };
        if let Some(cycle) = self.next_reply.filter(|c| c.met_at.is_none()) {
            c.count(cycle.outcome(active, now));
        }
        c
    }

    /// The targets whose clocks run now: the resolution clock stands still while paused.
    pub fn running(&self) -> impl Iterator<Item = SlaTarget> + '_ {
        SlaTarget::ALL
            .iter()
            .copied()
            .filter(|t| self.clock(*t).is_some())
            .filter(|t| *t != SlaTarget::Resolution || self.paused_since.is_none())
    }

    /// The earliest due time among running targets not met yet: what the ticket owes next.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.running()
            .filter_map(|t| self.clock(t))
            .filter(|c| c.met_at.is_none())
            .map(|c| c.due_at)
            .min()
    }
}

/// One thing the scan records on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaMark {
    /// The warning fraction of `target` has passed.
    Warning(SlaTarget),
    /// `target` is missed.
    Breach(SlaTarget),
}

/// What [`Ticket::escalate`](crate::domain::Ticket::escalate) did.
#[derive(Debug)]
pub struct EscalationStep {
    /// `ticket.escalated`, then `ticket.assigned` when the ticket changed hands.
    pub events: Vec<Envelope>,
    /// Whether the ticket went to the agent offered.
    pub reassigned: bool,
}

/// `4h`, `15m`, `1h30m`: a target as configured.
pub fn humanize(d: TimeDelta) -> String {
    let minutes = d.num_minutes();
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The share of targets met, per priority and target, among tickets opened in a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compliance {
    /// Targets met in time.
    pub met: u64,
    /// Targets missed.
    pub missed: u64,
    /// Targets neither met nor due yet.
    pub pending: u64,
}

impl Compliance {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &Compliance) {
        self.met += other.met;
        self.missed += other.missed;
        self.pending += other.pending;
    }

    /// Counts one outcome.
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Met => self.met += 1,
            Outcome::Missed => self.missed += 1,
            Outcome::Pending => self.pending += 1,
            Outcome::Void => {}
        }
    }

    /// `met / (met + missed)`, or `None` when nothing has been decided.
    pub fn share_met(&self) -> Option<f64> {
        let decided = self.met + self.missed;
        (decided > 0).then(|| self.met as f64 / decided as f64)
    }
}

mod policy;
mod terms;

pub use policy::{SlaPolicy, default_rules};
pub use terms::{MAX_TERM_NAME, SlaTerms, check_term_name};

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod pause_tests;
#[cfg(test)]
mod reply_tests;
#[cfg(test)]
mod tests;
