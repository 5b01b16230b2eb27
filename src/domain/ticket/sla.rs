//! A ticket's SLA: its clocks, the warnings and breaches due, and escalation under the
//! policy's rules.

use chrono::{DateTime, TimeDelta, Utc};

use super::{HistoryEntry, HistoryKind, Principal, Role, Status, Ticket};
use crate::domain::calendar::Calendar;
use crate::domain::event::payload::{BreachAcknowledged, SlaAlert, TicketEscalated};
use crate::domain::sla::{
    EscalationAction, EscalationRule, EscalationStep, Mark, SlaMark, SlaPolicy, SlaTarget,
    TargetClock, humanize,
};
use crate::domain::{Envelope, Event, EventMetadata, UserId};

impl Ticket {
    /// Asks the escalation scan to look at this ticket again: after any change while it is
    /// active; never once it is resolved or closed.
    pub(crate) fn touch_sla(&mut self, now: DateTime<Utc>) {
        self.sla.check_at = self.status.is_active().then_some(now);
    }

    /// When the ticket entered its current status.
    pub fn status_since(&self) -> DateTime<Utc> {
        self.history
            .iter()
            .rev()
            .find(|h| {
                matches!(
                    h.kind,
                    HistoryKind::Created
                        | HistoryKind::StatusChanged
                        | HistoryKind::Assigned
                        | HistoryKind::Requeued
                )
            })
            .map_or(self.created_at, |h| h.at)
    }

    /// Recomputes the due times for the current priority, from when the ticket opened (the
    /// resolution target later by the time it spent paused); recorded warnings, breaches and
    /// met times stay.
    pub(crate) fn retarget_sla(&mut self, policy: &SlaPolicy) {
        let fresh = policy.start(&self.terms, self.priority, self.created_at);
        let calendar = policy.calendar_under(&self.terms);
        // A next-reply cycle keeps the pace set when the customer replied.
        for (new, clock, shift) in [
            (
                fresh.first_response,
                &mut self.sla.first_response,
                TimeDelta::zero(),
            ),
            (fresh.resolution, &mut self.sla.resolution, self.sla.paused),
        ] {
            clock.due_at = calendar.add(new.due_at, shift);
            clock.warn_at = calendar.add(new.warn_at, shift);
        }
    }

    /// Stops the resolution clock: the ticket waits on the customer.
    pub(crate) fn pause_sla(&mut self, now: DateTime<Utc>) {
        self.sla.paused_since.get_or_insert(now);
    }

    /// Restarts the resolution clock: its due and warning times move by the SLA time it stood
    /// still, which is added to the ticket's paused time.
    pub(crate) fn resume_sla(&mut self, calendar: &Calendar, now: DateTime<Utc>) {
        let Some(since) = self.sla.paused_since.take() else {
            return;
        };
        let stood = calendar.elapsed(since, now);
        self.sla.paused += stood;
        let clock = &mut self.sla.resolution;
        clock.due_at = calendar.add(clock.due_at, stood);
        clock.warn_at = calendar.add(clock.warn_at, stood);
    }

    /// When a ticket waiting on the customer is to be resolved for them, if it waits.
    pub fn pending_resolves_at(&self, policy: &SlaPolicy) -> Option<DateTime<Utc>> {
        (self.status == Status::Pending)
            .then_some(self.sla.paused_since)
            .flatten()
            .map(|since| since + policy.pending_resolve_after())
    }

    /// Warnings and breaches due at `now` and not recorded yet, in the order they fell due. A
    /// warning whose target is already missed is skipped: the breach says more.
    pub fn due_sla_marks(&self, now: DateTime<Utc>) -> Vec<SlaMark> {
        if !self.status.is_active() {
            return Vec::new();
        }
        let mut marks: Vec<(DateTime<Utc>, SlaMark)> = Vec::new();
        for target in self.sla.running() {
            let Some(clock) = self.sla.clock(target) else {
                continue;
            };
            let open = clock.met_at.is_none() && clock.breached_at.is_none();
            if open && clock.warned_at.is_none() && clock.warn_at <= now && now < clock.due_at {
                marks.push((clock.warn_at, SlaMark::Warning(target)));
            }
            if clock.breached_at.is_none() && clock.is_missed(now) {
                marks.push((clock.due_at, SlaMark::Breach(target)));
            }
        }
        marks.sort_by_key(|(at, _)| *at);
        marks.into_iter().map(|(_, m)| m).collect()
    }

    /// Records a warning or breach in history and returns its `sla.warning` / `sla.breach`
    /// event. A warning skipped because the breach came first is recorded as passed.
    pub fn record_sla_mark(
        &mut self,
        mark: SlaMark,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Envelope {
        let (target, kind) = match mark {
            SlaMark::Warning(t) => (t, HistoryKind::SlaWarning),
            SlaMark::Breach(t) => (t, HistoryKind::SlaBreach),
        };
        let allowed = policy.targets_under(&self.terms, self.priority).get(target);
        let clock = self
            .sla
            .clock_mut(target)
            .expect("BUG: a mark is recorded only on a running clock");
        match mark {
            SlaMark::Warning(_) => clock.warned_at = Some(now),
            SlaMark::Breach(_) => clock.breached_at = Some(now),
        }
        let due_at = clock.due_at;
        let rule = format!(
            "{} {} target {}",
            self.priority,
            target.describe(),
            humanize(allowed)
        );
        self.record_system(
            kind,
            None,
            Some(target.to_string()),
            Some(format!("{rule}, due {}", due_at.to_rfc3339())),
            now,
        );
        let alert = SlaAlert {
            ticket_id: self.id,
            complaint_id: self.complaint_id,
            user_id: self.requester,
            title: self.title.as_str().to_owned(),
            priority: self.priority,
            status: self.status,
            assigned_to: self.assignee,
            target,
            due_at,
            rule,
        };
        Envelope::new(
            match mark {
                SlaMark::Warning(_) => Event::SlaWarning(alert),
                SlaMark::Breach(_) => Event::SlaBreach(alert),
            },
            meta,
            now,
        )
    }

    /// When `rule` fires for this ticket as it stands, if it applies at all.
    fn rule_fires_at(&self, rule: &EscalationRule, calendar: &Calendar) -> Option<DateTime<Utc>> {
        if !rule.applies_to(self.priority, self.status) {
            return None;
        }
        // An acknowledged breach escalates no further.
        let missed_due = |c: &TargetClock| {
            c.breached_at
                .filter(|_| c.acknowledged_at.is_none())
                .map(|_| c.due_at)
        };
        let mark = match rule.since {
            Mark::Created => Some(self.created_at),
            Mark::StatusEntered => Some(self.status_since()),
            Mark::FirstResponseDue => missed_due(&self.sla.first_response),
            Mark::ResolutionDue => missed_due(&self.sla.resolution),
        }?;
        Some(calendar.add(mark, rule.after))
    }

    /// The escalation rule to apply at `now`, with its level: the first rule above the
    /// ticket's level that applies and whose time has come.
    pub fn due_escalation<'p>(
        &self,
        policy: &'p SlaPolicy,
        now: DateTime<Utc>,
    ) -> Option<(u32, &'p EscalationRule)> {
        policy
            .rules()
            .iter()
            .zip(1u32..)
            .filter(|(_, level)| *level > self.sla.escalation_level)
            .find(|(rule, _)| {
                self.rule_fires_at(rule, policy.calendar_under(&self.terms))
                    .is_some_and(|at| at <= now)
            })
            .map(|(rule, level)| (level, rule))
    }

    /// Plans the next look: the earliest pending warning, breach or rule; `None` when there is
    /// none or the ticket is no longer active.
    pub fn plan_sla_check(&mut self, policy: &SlaPolicy) {
        if !self.status.is_active() {
            self.sla.check_at = None;
            return;
        }
        let marks = self
            .sla
            .running()
            .filter_map(|t| self.sla.clock(t))
            .flat_map(TargetClock::pending_marks);
        let resolve = self.pending_resolves_at(policy);
        let accept = self.acceptance_due(policy);
        let rules = policy
            .rules()
            .iter()
            .zip(1u32..)
            .filter(|(_, level)| *level > self.sla.escalation_level)
            .filter_map(|(rule, _)| self.rule_fires_at(rule, policy.calendar_under(&self.terms)));
        self.sla.check_at = marks.chain(rules).chain(resolve).chain(accept).min();
    }

    /// Acknowledges the missed `target` on behalf of `by` (an agent or admin): escalation rules
    /// measured from its due time stop, and `sla.breach_acknowledged` is published.
    ///
    /// # Errors
    /// [`AcknowledgeError`] when `by` is a customer, or the target is not missed or was
    /// acknowledged already.
    pub fn acknowledge_breach(
        &mut self,
        by: &Principal,
        target: SlaTarget,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Result<Envelope, AcknowledgeError> {
        if by.role == Role::Customer {
            return Err(AcknowledgeError::Forbidden);
        }
        let Some(clock) = self.sla.clock_mut(target) else {
            return Err(AcknowledgeError::NotBreached(target));
        };
        let Some(breached_at) = clock.breached_at else {
            return Err(AcknowledgeError::NotBreached(target));
        };
        if clock.acknowledged_at.is_some() {
            return Err(AcknowledgeError::Already(target));
        }
        clock.acknowledged_at = Some(now);
        let due_at = clock.due_at;
        self.history.push(HistoryEntry {
            at: now,
            actor: by.id.to_string(),
            kind: HistoryKind::SlaAcknowledged,
            from: None,
            to: Some(target.to_string()),
            note: None,
        });
        self.plan_sla_check(policy);
        Ok(Envelope::new(
            Event::SlaBreachAcknowledged(BreachAcknowledged {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                priority: self.priority,
                target,
                due_at,
                breached_at,
                acknowledged_by: by.id,
            }),
            meta,
            now,
        ))
    }

    /// Applies escalation `rule` at `level`: raises the priority if the rule says so
    /// (recomputing due times), gives the ticket to `reassign_to` (an agent of a higher tier
    /// whose slot the caller has claimed), records the step, and returns the `ticket.escalated`
    /// event followed by `ticket.assigned` when it was reassigned.
    pub fn escalate(
        &mut self,
        level: u32,
        rule: &EscalationRule,
        policy: &SlaPolicy,
        reassign_to: Option<UserId>,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> EscalationStep {
        let from_level = self.sla.escalation_level;
        let from_priority = self.priority;
        let previous_assignee = self.assignee;
        self.sla.escalation_level = level;
        let note = format!("escalation rule `{}`", rule.name);
        if rule.does(EscalationAction::RaisePriority)
            && let Some(up) = self.priority.above()
        {
            self.set_priority(up, note.clone(), policy, now);
        }
        let note = Some(note);
        let assigned = reassign_to.and_then(|agent| {
            self.assign(agent, "system", note.clone(), now, meta.clone())
                .ok()
        });
        let mut outcome: Vec<&str> = rule.actions.iter().map(|a| a.as_str()).collect();
        if rule.does(EscalationAction::ReassignHigherTier) && assigned.is_none() {
            outcome.push("(no higher-tier agent free)");
        }
        self.updated_at = now;
        self.touch_sla(now);
        self.record_system(
            HistoryKind::Escalated,
            Some(from_level.to_string()),
            Some(level.to_string()),
            Some(format!(
                "escalation rule `{}`: {}",
                rule.name,
                outcome.join(", ")
            )),
            now,
        );
        let escalated = Envelope::new(
            Event::TicketEscalated(TicketEscalated {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                category: self.category.as_str().to_owned(),
                status: self.status,
                priority: self.priority,
                previous_priority: from_priority,
                assigned_to: self.assignee,
                previous_assignee,
                rule: rule.name.clone(),
                level,
                actions: rule.actions.iter().map(|a| a.as_str().to_owned()).collect(),
                notify_managers: rule.does(EscalationAction::NotifyManagers),
            }),
            meta,
            now,
        );
        let reassigned = assigned.is_some();
        EscalationStep {
            events: std::iter::once(escalated).chain(assigned).collect(),
            reassigned,
        }
    }
}

/// Why a breach acknowledgement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcknowledgeError {
    /// Customers do not acknowledge breaches.
    #[error("only agents and admins acknowledge an SLA breach")]
    Forbidden,
    /// The target was not missed.
    #[error("the {0} target has not been missed")]
    NotBreached(SlaTarget),
    /// The breach was acknowledged before.
    #[error("the {0} breach was already acknowledged")]
    Already(SlaTarget),
}
