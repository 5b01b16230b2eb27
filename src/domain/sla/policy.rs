//! The SLA policy: targets per priority (and per plan), when to warn, business hours (and per
//! region), the escalation ladder, and the times that govern waiting (`Pending`), reopening
//! and acceptance.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::terms::check_term_name;
use super::{
    EscalationAction, EscalationRule, Mark, SlaTarget, SlaTerms, TargetClock, Targets, TicketSla,
};
use crate::domain::calendar::Calendar;
use crate::domain::{Priority, Status, ValidationError};

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
    /// Per plan, the rows it sets (by priority rank); the others are the default rows.
    plans: BTreeMap<String, [Option<Targets>; 4]>,
    /// Per region, its business calendar.
    regions: BTreeMap<String, Calendar>,
}

/// How long an agent has to act on an assigned ticket (a reply, or `InProgress`), by priority
/// rank (Low first): an hour, 30 minutes, 15 minutes, 5 minutes.
const DEFAULT_ACCEPT_WITHIN: [TimeDelta; 4] = [
    TimeDelta::hours(1),
    TimeDelta::minutes(30),
    TimeDelta::minutes(15),
    TimeDelta::minutes(5),
];

/// How many times a ticket nobody acted on goes to another agent before it escalates.
const DEFAULT_MAX_REASSIGNMENTS: u32 = 2;

/// How long a ticket may wait on the customer (`Pending`) before it is resolved for them.
const DEFAULT_PENDING_RESOLVE_AFTER: TimeDelta = TimeDelta::days(7);

/// How long after its resolution a customer's reply reopens a ticket.
const DEFAULT_REOPEN_WITHIN: TimeDelta = TimeDelta::days(7);

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
            check_targets(&format!("targets.{priority}"), t)?;
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
            plans: BTreeMap::new(),
            regions: BTreeMap::new(),
        })
    }

    /// The same policy with customer plans: each plan sets the targets of the priorities it
    /// lists; the others keep the default targets (see [`SlaTerms`]).
    ///
    /// # Errors
    /// When a plan's name is not a name (`plans`), or one of its targets is not positive or has
    /// the first response due after the resolution (`plans.<plan>.targets.<priority>`).
    pub fn with_plans(
        mut self,
        plans: BTreeMap<String, BTreeMap<Priority, Targets>>,
    ) -> Result<Self, ValidationError> {
        for (name, rows) in plans {
            check_term_name("plans", &name)?;
            let mut table = [None; 4];
            for (priority, t) in rows {
                check_targets(&format!("plans.{name}.targets.{priority}"), &t)?;
                table[usize::from(priority.rank())] = Some(t);
            }
            self.plans.insert(name, table);
        }
        Ok(self)
    }

    /// The same policy with regional calendars.
    ///
    /// # Errors
    /// When a region's name is not a name (`business_hours.regions`).
    pub fn with_regions(
        mut self,
        regions: BTreeMap<String, Calendar>,
    ) -> Result<Self, ValidationError> {
        for name in regions.keys() {
            check_term_name("business_hours.regions", name)?;
        }
        self.regions = regions;
        Ok(self)
    }

    /// The plans, by name.
    pub fn plans(&self) -> impl Iterator<Item = &str> {
        self.plans.keys().map(String::as_str)
    }

    /// The regions, by name.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }

    /// Whether `plan` is one of the policy's plans.
    pub fn has_plan(&self, plan: &str) -> bool {
        self.plans.contains_key(plan)
    }

    /// Whether `region` is one of the policy's regions.
    pub fn has_region(&self, region: &str) -> bool {
        self.regions.contains_key(region)
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

    /// The default targets of `priority`.
    pub fn targets(&self, priority: Priority) -> Targets {
        self.targets[usize::from(priority.rank())]
    }

    /// The targets of `priority` under `terms`: the plan's row when it sets one, else the
    /// default row. A plan the policy no longer has falls back to the defaults.
    pub fn targets_under(&self, terms: &SlaTerms, priority: Priority) -> Targets {
        terms
            .plan
            .as_ref()
            .and_then(|plan| self.plans.get(plan))
            .and_then(|table| table[usize::from(priority.rank())])
            .unwrap_or_else(|| self.targets(priority))
    }

    /// The calendar under `terms`: the region's when the policy has it, else the default.
    pub fn calendar_under(&self, terms: &SlaTerms) -> &Calendar {
        terms
            .region
            .as_ref()
            .and_then(|region| self.regions.get(region))
            .unwrap_or(&self.calendar)
    }

    /// The fraction of a target at which the warning is raised.
    pub fn warning_fraction(&self) -> f64 {
        self.warning_fraction
    }

    /// How SLA time passes by default.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The escalation ladder, lowest level first.
    pub fn rules(&self) -> &[EscalationRule] {
        &self.rules
    }

    /// The clock of `target` for a ticket of `priority` under `terms` whose clock started at
    /// `start`.
    pub(crate) fn clock(
        &self,
        terms: &SlaTerms,
        priority: Priority,
        target: SlaTarget,
        start: DateTime<Utc>,
    ) -> TargetClock {
        let allowed = self.targets_under(terms, priority).get(target);
        let warn_after = TimeDelta::milliseconds(
            (allowed.num_milliseconds() as f64 * self.warning_fraction).round() as i64,
        );
        let calendar = self.calendar_under(terms);
        TargetClock {
            due_at: calendar.add(start, allowed),
            warn_at: calendar.add(start, warn_after),
            met_at: None,
            warned_at: None,
            breached_at: None,
            acknowledged_at: None,
        }
    }

    /// A new ticket's SLA state: first response and resolution run; the next-reply clock
    /// starts with the customer's first reply.
    pub fn start(
        &self,
        terms: &SlaTerms,
        priority: Priority,
        opened_at: DateTime<Utc>,
    ) -> TicketSla {
        TicketSla {
            first_response: self.clock(terms, priority, SlaTarget::FirstResponse, opened_at),
            next_reply: None,
            replies_met: 0,
            replies_missed: 0,
            resolution: self.clock(terms, priority, SlaTarget::Resolution, opened_at),
            escalation_level: 0,
            paused_since: None,
            paused: TimeDelta::zero(),
            reassignments: 0,
            acceptance_escalated: false,
            check_at: Some(opened_at),
        }
    }
}

/// Checks one row of targets; errors name `field`.
fn check_targets(field: &str, t: &Targets) -> Result<(), ValidationError> {
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
    Ok(())
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
