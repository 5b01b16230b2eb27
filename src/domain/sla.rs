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

use super::calendar::Calendar;
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

/// The SLA configuration: targets per priority, when to warn, business hours, escalation rules.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    /// Indexed by priority rank (Low = 0).
    targets: [Targets; 4],
    warning_fraction: f64,
    calendar: Calendar,
    rules: Vec<EscalationRule>,
    pending_resolve_after: TimeDelta,
    reopen_within: TimeDelta,
    /// Indexed by priority rank: how long an agent has to act on a ticket given to them.
    accept_within: [TimeDelta; 4],
    max_reassignments: u32,
}

/// How long an agent has to act on an assigned ticket (a reply, or `InProgress`), by priority
/// rank (Low first): an hour, 30 minutes, 15 minutes, 5 minutes.
pub const DEFAULT_ACCEPT_WITHIN: [TimeDelta; 4] = [
    TimeDelta::hours(1),
    TimeDelta::minutes(30),
    TimeDelta::minutes(15),
    TimeDelta::minutes(5),
];

/// How many times a ticket nobody acted on goes to another agent before it escalates.
pub const DEFAULT_MAX_REASSIGNMENTS: u32 = 2;

/// How long a ticket may wait on the customer (`Pending`) before it is resolved for them.
pub const DEFAULT_PENDING_RESOLVE_AFTER: TimeDelta = TimeDelta::days(7);

/// How long after its resolution a customer's reply reopens a ticket.
pub const DEFAULT_REOPEN_WITHIN: TimeDelta = TimeDelta::days(7);

impl SlaPolicy {
    /// Builds a policy.
    ///
    /// # Errors
    /// When a target is not positive, a first-response target exceeds its resolution target,
    /// the warning fraction is not in (0, 1), or a rule has no name, no action or a negative
    /// delay.
    pub fn new(
        targets: impl Fn(Priority) -> Targets,
        warning_fraction: f64,
        calendar: Calendar,
        rules: Vec<EscalationRule>,
    ) -> Result<Self, ValidationError> {
        let targets = [
            targets(Priority::Low),
            targets(Priority::Medium),
            targets(Priority::High),
            targets(Priority::Critical),
        ];
        for (priority, t) in Priority::ALL.iter().zip(&targets) {
            let field = format!("targets.{priority}");
            let positive = [t.first_response, t.next_reply, t.resolution];
            if positive.iter().any(|d| *d <= TimeDelta::zero()) {
                return Err(ValidationError::new(field, "targets must be positive"));
            }
            if t.first_response > t.resolution {
                return Err(ValidationError::new(
                    field,
                    "the first response cannot be due after the resolution",
                ));
            }
        }
        if !(warning_fraction > 0.0 && warning_fraction < 1.0) {
            return Err(ValidationError::new(
                "warning_fraction",
                "must be between 0 and 1 (exclusive)",
            ));
        }
        for (i, rule) in rules.iter().enumerate() {
            let field = format!("escalation[{i}]");
            if rule.name.trim().is_empty() {
                return Err(ValidationError::new(field, "a rule needs a name"));
            }
            if rule.actions.is_empty() {
                return Err(ValidationError::new(
                    field,
                    "a rule needs at least one action",
                ));
            }
            if rule.after < TimeDelta::zero() {
                return Err(ValidationError::new(field, "`after` cannot be negative"));
            }
        }
        Ok(Self {
            targets,
            warning_fraction,
            calendar,
            rules,
            pending_resolve_after: DEFAULT_PENDING_RESOLVE_AFTER,
            reopen_within: DEFAULT_REOPEN_WITHIN,
            accept_within: DEFAULT_ACCEPT_WITHIN,
            max_reassignments: DEFAULT_MAX_REASSIGNMENTS,
        })
    }

    /// The same policy, an agent having `within(priority)` to act on an assigned ticket before
    /// it goes to another agent, at most `max_reassignments` times before it escalates.
    ///
    /// # Errors
    /// When a time is not positive.
    pub fn with_acceptance(
        mut self,
        within: impl Fn(Priority) -> TimeDelta,
        max_reassignments: u32,
    ) -> Result<Self, ValidationError> {
        for priority in Priority::ALL.iter().copied() {
            let time = within(priority);
            if time <= TimeDelta::zero() {
                return Err(ValidationError::new(
                    format!("acceptance.{priority}"),
                    "must be positive",
                ));
            }
            self.accept_within[usize::from(priority.rank())] = time;
        }
        self.max_reassignments = max_reassignments;
        Ok(self)
    }

    /// How long an agent has to act on an assigned ticket of `priority`.
    pub fn accept_within(&self, priority: Priority) -> TimeDelta {
        self.accept_within[usize::from(priority.rank())]
    }

    /// How many times an unaccepted ticket goes to another agent before it escalates.
    pub fn max_reassignments(&self) -> u32 {
        self.max_reassignments
    }

    /// The same policy, a customer's reply reopening a ticket up to `within` after its
    /// resolution.
    ///
    /// # Errors
    /// When `within` is not positive.
    pub fn with_reopen_within(mut self, within: TimeDelta) -> Result<Self, ValidationError> {
        if within <= TimeDelta::zero() {
            return Err(ValidationError::new("reopen_within", "must be positive"));
        }
        self.reopen_within = within;
        Ok(self)
    }

    /// How long after its resolution a customer's reply reopens a ticket (wall-clock time).
    pub fn reopen_within(&self) -> TimeDelta {
        self.reopen_within
    }

    /// The same policy, resolving a ticket that waited on the customer for `after`.
    ///
    /// # Errors
    /// When `after` is not positive.
    pub fn with_pending_resolve_after(mut self, after: TimeDelta) -> Result<Self, ValidationError> {
        if after <= TimeDelta::zero() {
            return Err(ValidationError::new(
                "pending_resolve_after",
                "must be positive",
            ));
        }
        self.pending_resolve_after = after;
        Ok(self)
    }

    /// How long a ticket may wait on the customer before it is resolved for them (wall-clock
    /// time: the customer's days, not business hours).
    pub fn pending_resolve_after(&self) -> TimeDelta {
        self.pending_resolve_after
    }

    /// The targets of `priority`.
    pub fn targets(&self, priority: Priority) -> Targets {
        self.targets[usize::from(priority.rank())]
    }

    /// The fraction of a target at which the warning is raised.
    pub fn warning_fraction(&self) -> f64 {
        self.warning_fraction
    }

    /// How SLA time passes.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The escalation ladder, lowest level first.
    pub fn rules(&self) -> &[EscalationRule] {
        &self.rules
    }

    /// The clock of `target` for a ticket of `priority` whose clock started at `start`.
    pub(crate) fn clock(
        &self,
        priority: Priority,
        target: SlaTarget,
        start: DateTime<Utc>,
    ) -> TargetClock {
        let allowed = self.targets(priority).get(target);
        let warn_after = TimeDelta::milliseconds(
            (allowed.num_milliseconds() as f64 * self.warning_fraction).round() as i64,
        );
        TargetClock {
            due_at: self.calendar.add(start, allowed),
            warn_at: self.calendar.add(start, warn_after),
            met_at: None,
            warned_at: None,
            breached_at: None,
            acknowledged_at: None,
        }
    }

    /// A new ticket's SLA state: first response and resolution run; the next-reply clock
    /// starts with the customer's first reply.
    pub fn start(&self, priority: Priority, opened_at: DateTime<Utc>) -> TicketSla {
        TicketSla {
            first_response: self.clock(priority, SlaTarget::FirstResponse, opened_at),
            next_reply: None,
            replies_met: 0,
            replies_missed: 0,
            resolution: self.clock(priority, SlaTarget::Resolution, opened_at),
            escalation_level: 0,
            paused_since: None,
            paused: TimeDelta::zero(),
            reassignments: 0,
            acceptance_escalated: false,
            check_at: Some(opened_at),
        }
    }
}

impl Default for SlaPolicy {
    /// First response / next reply / resolution: Critical 15 min / 30 min / 4 h, High 1 h /
    /// 2 h / 8 h, Medium 4 h / 8 h / 24 h, Low 8 h / 24 h / 72 h; warn at 80%; round the clock;
    /// the default escalation ladder ([`default_rules`]).
    fn default() -> Self {
        let targets = |p| {
            let (first, next, resolve) = match p {
                Priority::Critical => (
                    TimeDelta::minutes(15),
                    TimeDelta::minutes(30),
                    TimeDelta::hours(4),
                ),
                Priority::High => (
                    TimeDelta::hours(1),
                    TimeDelta::hours(2),
                    TimeDelta::hours(8),
                ),
                Priority::Medium => (
                    TimeDelta::hours(4),
                    TimeDelta::hours(8),
                    TimeDelta::hours(24),
                ),
                Priority::Low => (
                    TimeDelta::hours(8),
                    TimeDelta::hours(24),
                    TimeDelta::hours(72),
                ),
            };
            Targets {
                first_response: first,
                next_reply: next,
                resolution: resolve,
            }
        };
        Self::new(targets, 0.8, Calendar::Always, default_rules())
            .expect("BUG: the default SLA policy is valid")
    }
}

/// The escalation ladder QuickFix starts with, after the original design:
/// 1. nobody took the ticket in time: raise its priority and tell the managers;
/// 2. a Critical or High ticket missed its resolution target: give it to a senior (or a
///    manager) and tell the managers;
/// 3. still unresolved a full resolution target later: give it to a manager.
pub fn default_rules() -> Vec<EscalationRule> {
    use EscalationAction::*;
    vec![
        EscalationRule {
            name: "unanswered".into(),
            priorities: Vec::new(),
            statuses: vec![Status::Open],
            since: Mark::FirstResponseDue,
            after: TimeDelta::zero(),
            actions: vec![RaisePriority, NotifyManagers],
        },
        EscalationRule {
            name: "overdue".into(),
            priorities: vec![Priority::Critical, Priority::High],
            statuses: Vec::new(),
            since: Mark::ResolutionDue,
            after: TimeDelta::zero(),
            actions: vec![ReassignHigherTier, NotifyManagers],
        },
        EscalationRule {
            name: "long-overdue".into(),
            priorities: vec![Priority::Critical, Priority::High],
            statuses: Vec::new(),
            since: Mark::ResolutionDue,
            after: TimeDelta::hours(4),
            actions: vec![ReassignHigherTier, NotifyManagers],
        },
    ]
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

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod pause_tests;
#[cfg(test)]
mod reply_tests;
#[cfg(test)]
mod tests;
