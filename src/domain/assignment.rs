//! The rules that decide who gets a ticket and which tickets wait or are watched, stated once.
//!
//! Both store adapters follow them: the memory adapter calls them, and the MongoDB adapter
//! writes them as queries on fields it stores for the purpose (`agent.load`, `priorityRank`,
//! `sla.checkAt`, `sla.nextDueAt`). The shared contract suite checks with random inputs that
//! the two make the same choices (`tests/assignment.rs`).

use std::cmp::Reverse;

use chrono::{DateTime, Utc};

use super::{AgentProfile, Category, Presence, Priority, SlotHold, Status, Ticket, TicketId};
use super::{Tier, User, UserId};

impl Priority {
    /// 0 for `Low` up to 3 for `Critical`: the order of `Ord`, as a number a database can sort
    /// on.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The next priority up, if any.
    pub fn above(self) -> Option<Priority> {
        Priority::ALL.get(usize::from(self.rank()) + 1).copied()
    }
}

impl AgentProfile {
    /// Tickets the agent holds a slot for.
    pub fn load(&self) -> usize {
        self.holds.len()
    }

    /// Whether the agent can take a slot for `ticket` now: online, with a free slot, and not
    /// holding one for `ticket` already.
    pub fn can_take(&self, ticket: TicketId) -> bool {
        self.presence == Presence::Online
            && self.free_slots > 0
            && !self.holds.iter().any(|h| h.ticket == ticket)
    }

    /// Whether the agent takes tickets of `category` (and is of `tier`, when one is asked for).
    pub fn serves(&self, category: &Category, tier: Option<Tier>) -> bool {
        self.has_skill(category) && tier.is_none_or(|t| self.tier == t)
    }

    /// Takes a slot for `ticket` if [`AgentProfile::can_take`]: one free slot fewer, one hold
    /// more, and the time of the assignment. Returns whether it did.
    pub fn take_slot(&mut self, ticket: TicketId, now: DateTime<Utc>) -> bool {
        if !self.can_take(ticket) {
            return false;
        }
        self.free_slots -= 1;
        self.holds.push(SlotHold { ticket, since: now });
        self.last_assigned_at = Some(now);
        true
    }

    /// Gives back the slot held for `ticket`. Returns whether there was one: releasing twice
    /// releases once.
    pub fn release_slot(&mut self, ticket: TicketId) -> bool {
        let before = self.holds.len();
        self.holds.retain(|h| h.ticket != ticket);
        if self.holds.len() == before {
            return false;
        }
        self.free_slots += 1;
        true
    }
}

/// Where an agent stands in the queue for a new ticket: least loaded first, then longest idle
/// (never assigned before anyone assigned), then the oldest account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoutingKey {
    load: usize,
    last_assigned_at: Option<DateTime<Utc>>,
    id: UserId,
}

impl User {
    /// This agent's place in the queue for a new ticket (`None` for anyone who is not an
    /// agent).
    pub fn routing_key(&self) -> Option<RoutingKey> {
        self.agent.as_ref().map(|a| RoutingKey {
            load: a.load(),
            last_assigned_at: a.last_assigned_at,
            id: self.id,
        })
    }
}

impl Ticket {
    /// Whether the ticket waits in the backlog for an agent.
    pub fn in_backlog(&self) -> bool {
        self.status == Status::Open
    }

    /// The backlog's order: highest priority first, then the oldest ticket.
    pub fn backlog_key(&self) -> (Reverse<Priority>, TicketId) {
        (Reverse(self.priority), self.id)
    }

    /// When the escalation scan must look at the ticket next; only an active ticket is
    /// watched.
    pub fn sla_check_at(&self) -> Option<DateTime<Utc>> {
        self.sla.check_at.filter(|_| self.status.is_active())
    }

    /// The next unmet SLA due time of an active ticket, for the at-risk and breached lists.
    pub fn sla_next_due(&self) -> Option<DateTime<Utc>> {
        self.sla.next_due().filter(|_| self.status.is_active())
    }
}
