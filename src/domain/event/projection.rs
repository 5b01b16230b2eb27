//! A ticket rebuilt from its events: what the event log says the ticket was at a given time.

use chrono::{DateTime, Utc};

use super::{Event, LoggedEvent};
use crate::domain::{ComplaintId, Priority, Status, TicketId, UserId};

/// A ticket as its events tell it at `as_of`: every field an event carries.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketAsOf {
    /// Internal id.
    pub id: TicketId,
    /// Human id.
    pub complaint_id: ComplaintId,
    /// Summary.
    pub title: String,
    /// The customer's account (empty when its `ticket.created` was version 1).
    pub description: String,
    /// Category.
    pub category: String,
    /// Priority.
    pub priority: Priority,
    /// Status.
    pub status: Status,
    /// The customer who opened it.
    pub requester: UserId,
    /// The agent holding it.
    pub assignee: Option<UserId>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was last assigned.
    pub assigned_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The highest escalation rule applied.
    pub escalation_level: u32,
    /// The time it was rebuilt for.
    pub as_of: DateTime<Utc>,
    /// How many events it was rebuilt from.
    pub events: usize,
}

impl TicketAsOf {
    /// Folds one ticket's `events` (causes before effects) that happened at or before `at`;
    /// `None` when its `ticket.created` is not among them (it did not exist yet).
    pub fn rebuild(events: &[LoggedEvent], at: DateTime<Utc>) -> Option<Self> {
        let mut past = events.iter().filter(|e| e.timestamp() <= at);
        let (first, created) = past.find_map(|e| match &e.envelope.event {
            Event::TicketCreated(c) => Some((e, c)),
            _ => None,
        })?;
        let mut ticket = Self {
            id: created.ticket_id,
            complaint_id: created.complaint_id,
            title: created.title.clone(),
            description: created.description.clone(),
            category: created.category.clone(),
            priority: created.priority,
            status: Status::Open,
            requester: created.user_id,
            assignee: None,
            created_at: first.timestamp(),
            updated_at: first.timestamp(),
            assigned_at: None,
            resolved_at: None,
            escalation_level: 0,
            as_of: at,
            events: 1,
        };
        for e in past {
            ticket.apply(&e.envelope.event, e.timestamp());
            ticket.events += 1;
        }
        Some(ticket)
    }

    /// One event's change. Events written together (a status change and `ticket.resolved`,
    /// an escalation and its `ticket.assigned`) each carry the resulting state, so their
    /// order does not matter.
    fn apply(&mut self, event: &Event, at: DateTime<Utc>) {
        match event {
            Event::TicketCreated(_) | Event::AgentAvailabilityChanged(_) => {}
            Event::TicketAssigned(a) => {
                self.assignee = Some(a.assigned_to);
                self.status = Status::Assigned;
                self.priority = a.priority;
                self.assigned_at = Some(at);
                self.updated_at = at;
            }
            Event::TicketStatusChanged(c) => {
                self.status = c.to;
                if c.to == Status::Resolved {
                    self.resolved_at = Some(at);
                } else if c.from == Status::Resolved {
                    self.resolved_at = None;
                }
                if c.to == Status::Open {
                    self.assignee = None;
                }
                self.updated_at = at;
            }
            Event::TicketResolved(r) => {
                self.status = Status::Resolved;
                self.resolved_at = Some(r.resolved_at);
                self.updated_at = at;
            }
            Event::TicketRequeued(_) => {
                self.status = Status::Open;
                self.assignee = None;
                self.updated_at = at;
            }
            Event::PrioritizationApplied(p) => {
                self.priority = p.to;
                self.updated_at = at;
            }
            Event::TicketEscalated(e) => {
                self.priority = e.priority;
                self.status = e.status;
                self.assignee = e.assigned_to;
                self.escalation_level = e.level;
                self.updated_at = at;
            }
            // A warning or a breach is recorded in the history; the ticket's fields stay.
            Event::SlaWarning(_) | Event::SlaBreach(_) => {}
            // A reply is a change the requester sees; a note is not.
            Event::TicketReplied(_) => self.updated_at = at,
            // The `ticket.assigned` that goes with a reassignment carries the new state.
            Event::TicketNoteAdded(_)
            | Event::SlaBreachAcknowledged(_)
            | Event::TicketReassigned(_) => {}
        }
    }
}
