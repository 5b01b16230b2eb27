//! Acceptance: an agent given a ticket acts on it (a public reply, or `InProgress`) within the
//! policy's time for its priority, or the ticket goes to another agent; after the policy's
//! number of such reassignments it escalates instead.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Status, Ticket};
use crate::domain::event::payload::TicketReassigned;
use crate::domain::sla::{EscalationAction, EscalationRule, Mark, SlaPolicy, humanize};
use crate::domain::{Envelope, Event, EventMetadata, UserId, Visibility};

/// What the escalation scan does with a ticket whose agent did not act in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptanceStep {
    /// Give it to another eligible agent (the current one's slot is freed).
    Reassign,
    /// It went round enough agents: escalate (managers are told).
    Escalate,
}

impl Ticket {
    /// When the agent holding the ticket must have acted on it by, while they still must: it
    /// is `Assigned` (not started) and they have not replied publicly since they got it.
    pub fn acceptance_due(&self, policy: &SlaPolicy) -> Option<DateTime<Utc>> {
        if self.status != Status::Assigned || self.sla.acceptance_escalated {
            return None;
        }
        let (agent, since) = (self.assignee?, self.assigned_at?);
        let acted = self
            .messages
            .iter()
            .any(|m| m.author == agent && m.visibility == Visibility::Public && m.at >= since);
        (!acted).then(|| {
            policy
                .calendar_under(&self.terms)
                .add(since, policy.accept_within(self.priority))
        })
    }

    /// What is due at `now` because the agent did not act in time, if anything.
    pub fn acceptance_step(
        &self,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
    ) -> Option<AcceptanceStep> {
        let due = self.acceptance_due(policy)?;
        (due <= now).then(|| {
            if self.sla.reassignments < policy.max_reassignments() {
                AcceptanceStep::Reassign
            } else {
                AcceptanceStep::Escalate
            }
        })
    }

    /// Gives the ticket to `to` (whose slot the caller has claimed) because its agent did not
    /// act in time: `ticket.assigned` and `ticket.reassigned` with the reason. `None` when the
    /// ticket cannot go to `to` (it is theirs already, or no longer active).
    pub fn reassign_unaccepted(
        &mut self,
        to: UserId,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Option<Vec<Envelope>> {
        let from = self.assignee?;
        let reason = format!(
            "not accepted within {}",
            humanize(policy.accept_within(self.priority))
        );
        let assigned = self
            .assign(to, "system", Some(reason.clone()), now, meta.clone())
            .ok()?;
        self.sla.reassignments += 1;
        let reassigned = Envelope::new(
            Event::TicketReassigned(TicketReassigned {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                priority: self.priority,
                from,
                to,
                reason,
                reassignments: self.sla.reassignments,
            }),
            meta,
            now,
        );
        Some(vec![assigned, reassigned])
    }

    /// Escalates a ticket that went round `max_reassignments` agents and still nobody acted:
    /// the rule `not-accepted` tells the managers (`ticket.escalated`), once per ticket. The
    /// ticket stays with its agent and at its escalation level.
    pub fn escalate_unaccepted(
        &mut self,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Vec<Envelope> {
        self.sla.acceptance_escalated = true;
        let rule = EscalationRule {
            name: "not-accepted".to_owned(),
            priorities: Vec::new(),
            statuses: vec![Status::Assigned],
            since: Mark::StatusEntered,
            after: TimeDelta::zero(),
            actions: vec![EscalationAction::NotifyManagers],
        };
        let level = self.sla.escalation_level;
        self.escalate(level, &rule, policy, None, now, meta).events
    }
}
