//! How a ticket moves through its life: opening, assignment, status changes, priority.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    AssignError, Category, ComplaintId, Envelope, Event, EventMetadata, HistoryEntry, HistoryKind,
    NewTicket, Principal, PrioritizationApplied, Priority, Role, Status, StatusChangeError, Ticket,
    TicketAssigned, TicketCreated, TicketId, TicketRequeued, TicketResolved, TicketStatusChanged,
    UserId,
};
use crate::domain::sla::{SlaPolicy, humanize};

impl Ticket {
    /// Opens a ticket, its SLA clocks started under `policy`, and returns it with its
    /// `ticket.created` event.
    pub fn open(
        new: NewTicket,
        complaint_id: ComplaintId,
        requester: UserId,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> (Ticket, Envelope) {
        let ticket = Ticket {
            id: TicketId::generate(),
            complaint_id,
            title: new.title,
            description: new.description,
            category: new.category,
            priority: new.priority,
            status: Status::Open,
            requester,
            assignee: None,
            created_at: now,
            updated_at: now,
            assigned_at: None,
            resolved_at: None,
            history: vec![HistoryEntry {
                at: now,
                actor: requester.to_string(),
                kind: HistoryKind::Created,
                from: None,
                to: Some(Status::Open.to_string()),
                note: None,
            }],
            messages: Vec::new(),
            sla: policy.start(&new.terms, new.priority, now),
            terms: new.terms,
            revision: 0,
        };
        let event = Envelope::new(
            Event::TicketCreated(TicketCreated {
                ticket_id: ticket.id,
                complaint_id: ticket.complaint_id,
                user_id: ticket.requester,
                title: ticket.title.as_str().to_owned(),
                category: ticket.category.as_str().to_owned(),
                priority: ticket.priority,
                assigned_to: None,
                description: ticket.description.as_str().to_owned(),
            }),
            meta,
            now,
        );
        (ticket, event)
    }

    /// Whether `who` may read this ticket: its requester; an agent who holds it, held it, or
    /// takes its category (`agent_skills`, ignored for other roles); any admin.
    pub fn is_visible_to(&self, who: &Principal, agent_skills: &[Category]) -> bool {
        match who.role {
            Role::Customer => self.requester == who.id,
            Role::Admin => true,
            Role::Agent => {
                self.assignee == Some(who.id)
                    || agent_skills.contains(&self.category)
                    || self.was_assigned_to(who.id)
            }
        }
    }

    /// Whether `agent` ever held the ticket.
    pub fn was_assigned_to(&self, agent: UserId) -> bool {
        let id = agent.to_string();
        self.history
            .iter()
            .any(|h| h.kind == HistoryKind::Assigned && h.to.as_deref() == Some(id.as_str()))
    }

    /// Moves the ticket to `to` on behalf of `by`, recording history, and returns the events
    /// to publish: `ticket.status_changed`, plus `ticket.resolved` when it is resolved, or
    /// `ticket.requeued` when a resolved ticket is reopened (back to the backlog, unassigned).
    ///
    /// Who may do what: the assigned agent starts, pauses (`Pending`, waiting on the
    /// customer) and resolves work; the requester closes or reopens a resolved ticket; an admin
    /// makes any legal transition. `Open → Assigned` happens
    /// only through assignment.
    ///
    /// # Errors
    /// [`StatusChangeError::Forbidden`] when `by` may not make the change,
    /// [`StatusChangeError::IllegalTransition`] when no one may.
    pub fn change_status(
        &mut self,
        by: &Principal,
        to: Status,
        note: Option<String>,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Result<Vec<Envelope>, StatusChangeError> {
        let from = self.status;
        self.check_status_change(by, to)?;
        let reopened_from = self.move_to(to, policy, now);
        self.history.push(HistoryEntry {
            at: now,
            actor: by.id.to_string(),
            kind: HistoryKind::StatusChanged,
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            note: note.clone(),
        });
        let mut events = vec![self.status_changed_event(by, from, note, now, meta.clone())];
        match to {
            Status::Open => events.push(self.requeued_event(
                reopened_from,
                "reopened by the requester",
                now,
                meta,
            )),
            Status::Resolved => events.push(self.resolved_event(by, now, meta)),
            _ => {}
        }
        Ok(events)
    }

    /// Resolves a ticket that has waited on the customer for the policy's time, on the
    /// customer's behalf: the system acts (history and metadata say so) and `resolvedBy` names
    /// the agent who held it. Returns `ticket.status_changed` and `ticket.resolved`, or `None`
    /// when the ticket is not waiting, or not for long enough.
    pub fn resolve_unanswered(
        &mut self,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Option<Vec<Envelope>> {
        let holder = Principal {
            id: self.assignee?,
            role: Role::Agent,
        };
        if self.pending_resolves_at(policy)? > now {
            return None;
        }
        let waited = policy.pending_resolve_after();
        let note = format!(
            "resolved automatically: no reply from the customer in {}",
            if waited.num_hours() % 24 == 0 {
                format!("{} days", waited.num_days())
            } else {
                humanize(waited)
            }
        );
        self.move_to(Status::Resolved, policy, now);
        self.record_system(
            HistoryKind::StatusChanged,
            Some(Status::Pending.to_string()),
            Some(Status::Resolved.to_string()),
            Some(note.clone()),
            now,
        );
        Some(vec![
            self.status_changed_event(&holder, Status::Pending, Some(note), now, meta.clone()),
            self.resolved_event(&holder, now, meta),
        ])
    }

    /// Reopens a resolved ticket because its requester `by` replied: back to `Open`,
    /// unassigned, with `ticket.status_changed` and `ticket.requeued` (naming the agent who
    /// had it, whom routing tries first).
    pub(crate) fn reopened_by_reply(
        &mut self,
        by: &Principal,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Vec<Envelope> {
        let note = Some("the customer replied".to_owned());
        let previous = self.move_to(Status::Open, policy, now);
        self.history.push(HistoryEntry {
            at: now,
            actor: by.id.to_string(),
            kind: HistoryKind::StatusChanged,
            from: Some(Status::Resolved.to_string()),
            to: Some(Status::Open.to_string()),
            note: note.clone(),
        });
        vec![
            self.status_changed_event(by, Status::Resolved, note, now, meta.clone()),
            self.requeued_event(previous, "reopened by the requester's reply", now, meta),
        ]
    }

    /// Takes a ticket out of `Pending` because its requester `by` replied: back to
    /// `InProgress` with its agent, the resolution clock running again. Returns
    /// `ticket.status_changed`, or `None` when the ticket was not waiting on them.
    pub(crate) fn answered_by_customer(
        &mut self,
        by: &Principal,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Option<Envelope> {
        if self.status != Status::Pending || by.id != self.requester {
            return None;
        }
        let note = Some("the customer replied".to_owned());
        self.move_to(Status::InProgress, policy, now);
        self.history.push(HistoryEntry {
            at: now,
            actor: by.id.to_string(),
            kind: HistoryKind::StatusChanged,
            from: Some(Status::Pending.to_string()),
            to: Some(Status::InProgress.to_string()),
            note: note.clone(),
        });
        Some(self.status_changed_event(by, Status::Pending, note, now, meta))
    }

    /// Whether `by` may move the ticket to `to` now.
    fn check_status_change(&self, by: &Principal, to: Status) -> Result<(), StatusChangeError> {
        let from = self.status;
        let needs_agent = matches!(to, Status::InProgress | Status::Pending);
        if !is_legal_transition(from, to) || (needs_agent && self.assignee.is_none()) {
            return Err(StatusChangeError::IllegalTransition { from, to });
        }
        let allowed = match by.role {
            Role::Admin => true,
            Role::Agent => {
                self.assignee == Some(by.id)
                    && matches!(to, Status::InProgress | Status::Pending | Status::Resolved)
                    && from != Status::Resolved
            }
            Role::Customer => self.requester == by.id && from == Status::Resolved,
        };
        if allowed {
            Ok(())
        } else {
            Err(StatusChangeError::Forbidden(match (by.role, to) {
                (Role::Agent, _) => {
                    "only the assigned agent may start, pause or resolve this ticket"
                }
                (_, Status::Pending) => {
                    "only the assigned agent or an admin sets a ticket to Pending (waiting on \
                     the customer); a reply from the customer takes it out"
                }
                _ => "only the requester may close or reopen a resolved ticket",
            }))
        }
    }

    /// Puts the ticket in `to` with its clocks: resolving meets the resolution target, leaving
    /// `Resolved` unmeets it. A reopened ticket goes back to the backlog and is routed like a
    /// new one (its agent's slot may already serve another ticket); returns that agent.
    fn move_to(&mut self, to: Status, policy: &SlaPolicy, now: DateTime<Utc>) -> Option<UserId> {
        let from = self.status;
        let reopened_from = (to == Status::Open).then(|| self.assignee.take()).flatten();
        self.status = to;
        self.updated_at = now;
        // Waiting on the customer stops the resolution clock; any way out restarts it.
        if to == Status::Pending {
            self.pause_sla(now);
        } else {
            self.resume_sla(policy.calendar_under(&self.terms), now);
        }
        if to == Status::Resolved {
            self.resolved_at = Some(now);
            self.sla.resolution.met_at = Some(now);
        } else if from == Status::Resolved {
            self.resolved_at = None;
            self.sla.resolution.met_at = None;
        }
        self.touch_sla(now);
        reopened_from
    }

    /// `ticket.status_changed` for a move from `from` to the current status.
    fn status_changed_event(
        &self,
        by: &Principal,
        from: Status,
        note: Option<String>,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Envelope {
        Envelope::new(
            Event::TicketStatusChanged(TicketStatusChanged {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                from,
                to: self.status,
                changed_by: by.id,
                assigned_to: self.assignee,
                message: note,
            }),
            meta,
            now,
        )
    }

    /// `ticket.resolved`, in the original QuickFix's shape.
    fn resolved_event(&self, by: &Principal, now: DateTime<Utc>, meta: EventMetadata) -> Envelope {
        Envelope::new(
            Event::TicketResolved(TicketResolved {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                agent_id: self.assignee,
                resolved_by: by.id,
                resolved_at: now,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                priority: self.priority,
            }),
            meta,
            now,
        )
    }

    /// Gives the ticket to `agent` (a first assignment or a reassignment) and returns the
    /// `ticket.assigned` event. `actor` is a user id or `system`.
    ///
    /// # Errors
    /// If the ticket is resolved or closed, or already held by `agent`.
    pub fn assign(
        &mut self,
        agent: UserId,
        actor: &str,
        note: Option<String>,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Result<Envelope, AssignError> {
        if !self.status.is_active() {
            return Err(AssignError::NotActive(self.status));
        }
        if self.assignee == Some(agent) {
            return Err(AssignError::AlreadyAssigned);
        }
        let previous = self.assignee.replace(agent);
        let from_status = self.status;
        self.status = Status::Assigned;
        self.assigned_at = Some(now);
        self.updated_at = now;
        self.touch_sla(now);
        self.history.push(HistoryEntry {
            at: now,
            actor: actor.to_owned(),
            kind: HistoryKind::Assigned,
            from: previous.map(|p| p.to_string()),
            to: Some(agent.to_string()),
            note,
        });
        Ok(Envelope::new(
            Event::TicketAssigned(TicketAssigned {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                category: self.category.as_str().to_owned(),
                priority: self.priority,
                assigned_to: agent,
                previous_assignee: previous,
                previous_status: from_status,
            }),
            meta,
            now,
        ))
    }
}

impl Ticket {
    /// Raises the priority to `to` by the rule `rule` (a keyword), recomputing the SLA due
    /// times under `policy`, and returns the `automation.prioritization_applied` event; `None`
    /// when the ticket is already at or above `to`, which makes a redelivered message change
    /// nothing.
    pub fn raise_priority(
        &mut self,
        to: Priority,
        rule: &str,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Option<Envelope> {
        if to <= self.priority {
            return None;
        }
        let from = self.priority;
        self.set_priority(to, format!("prioritisation rule `{rule}`"), policy, now);
        Some(Envelope::new(
            Event::PrioritizationApplied(PrioritizationApplied {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                from,
                to,
                rule: rule.to_owned(),
            }),
            meta,
            now,
        ))
    }

    /// Appends a history entry made by QuickFix itself (actor `system`).
    pub(crate) fn record_system(
        &mut self,
        kind: HistoryKind,
        from: Option<String>,
        to: Option<String>,
        note: Option<String>,
        now: DateTime<Utc>,
    ) {
        self.history.push(HistoryEntry {
            at: now,
            actor: "system".into(),
            kind,
            from,
            to,
            note,
        });
    }

    /// Changes the priority on the system's behalf, recomputing the SLA due times under
    /// `policy` and recording why.
    pub(crate) fn set_priority(
        &mut self,
        to: Priority,
        why: String,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
    ) {
        let from = self.priority;
        self.priority = to;
        self.updated_at = now;
        self.retarget_sla(policy);
        self.touch_sla(now);
        self.record_system(
            HistoryKind::PriorityChanged,
            Some(from.to_string()),
            Some(to.to_string()),
            Some(why),
            now,
        );
    }

    /// Sends an assigned-but-not-started ticket back to the backlog (its agent went offline),
    /// returning the `ticket.requeued` event; `None` unless it is `Assigned` to `agent`.
    pub fn requeue(
        &mut self,
        agent: UserId,
        reason: &str,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Option<Envelope> {
        if self.status != Status::Assigned || self.assignee != Some(agent) {
            return None;
        }
        self.status = Status::Open;
        self.assignee = None;
        self.updated_at = now;
        self.touch_sla(now);
        self.record_system(
            HistoryKind::Requeued,
            Some(agent.to_string()),
            None,
            Some(reason.to_owned()),
            now,
        );
        Some(self.requeued_event(Some(agent), reason, now, meta))
    }

    /// The `ticket.requeued` event: the ticket is back in the backlog, to be routed again.
    fn requeued_event(
        &self,
        previous: Option<UserId>,
        reason: &str,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Envelope {
        Envelope::new(
            Event::TicketRequeued(TicketRequeued {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                category: self.category.as_str().to_owned(),
                priority: self.priority,
                previous_assignee: previous,
                reason: reason.to_owned(),
            }),
            meta,
            now,
        )
    }

    /// The summary every notification about this ticket carries.
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "id": self.id.to_string(),
            "complaintId": self.complaint_id.to_string(),
            "title": self.title.as_str(),
            "category": self.category.as_str(),
            "priority": self.priority,
            "status": self.status,
            "userId": self.requester.to_string(),
            "assignedTo": self.assignee.map(|a| a.to_string()),
            "updatedAt": self.updated_at,
        })
    }
}

/// The status graph, independent of who asks.
pub(super) fn is_legal_transition(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Open, Closed)
            | (Assigned, InProgress)
            | (Assigned, Resolved)
            | (InProgress, Resolved)
            | (Assigned, Pending)
            | (InProgress, Pending)
            | (Pending, InProgress)
            | (Pending, Resolved)
            | (Pending, Closed)
            | (Resolved, Closed)
            | (Resolved, Open)
    )
}
