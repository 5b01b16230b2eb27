//! How a ticket's SLA state is stored in MongoDB: a `sla` subdocument with two indexed fields,
//! `checkAt` (the escalation scan) and `nextDueAt` (the at-risk and breached lists), both
//! absent once the ticket is no longer active so the indexes hold only live tickets.

use chrono::TimeDelta;
use mongodb::bson;
use serde::{Deserialize, Serialize};

use super::{bson_time as to_bson, chrono_time as to_chrono};
use crate::domain::{TargetClock, Ticket, TicketSla};

/// The `sla` subdocument of a ticket.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SlaDoc {
    first_response: TargetDoc,
    /// Absent until the customer first replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_reply: Option<TargetDoc>,
    #[serde(default)]
    replies_met: i64,
    #[serde(default)]
    replies_missed: i64,
    resolution: TargetDoc,
    escalation_level: i64,
    /// Absent unless the ticket waits on the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paused_since: Option<bson::DateTime>,
    /// SLA time paused in earlier pauses, in milliseconds (absent in older tickets).
    #[serde(default)]
    paused_ms: i64,
    #[serde(default)]
    reassignments: i64,
    #[serde(default)]
    acceptance_escalated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check_at: Option<bson::DateTime>,
    /// Derived from the targets; written for the index, never read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_due_at: Option<bson::DateTime>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetDoc {
    due_at: bson::DateTime,
    warn_at: bson::DateTime,
    met_at: Option<bson::DateTime>,
    warned_at: Option<bson::DateTime>,
    breached_at: Option<bson::DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acknowledged_at: Option<bson::DateTime>,
}

impl TargetDoc {
    fn from_domain(c: &TargetClock) -> Self {
        Self {
            due_at: to_bson(c.due_at),
            warn_at: to_bson(c.warn_at),
            met_at: c.met_at.map(to_bson),
            warned_at: c.warned_at.map(to_bson),
            breached_at: c.breached_at.map(to_bson),
            acknowledged_at: c.acknowledged_at.map(to_bson),
        }
    }

    fn into_domain(self) -> TargetClock {
        TargetClock {
            due_at: to_chrono(self.due_at),
            warn_at: to_chrono(self.warn_at),
            met_at: self.met_at.map(to_chrono),
            warned_at: self.warned_at.map(to_chrono),
            breached_at: self.breached_at.map(to_chrono),
            acknowledged_at: self.acknowledged_at.map(to_chrono),
        }
    }
}

impl SlaDoc {
    pub(super) fn from_domain(t: &Ticket) -> Self {
        Self {
            first_response: TargetDoc::from_domain(&t.sla.first_response),
            next_reply: t.sla.next_reply.as_ref().map(TargetDoc::from_domain),
            replies_met: i64::from(t.sla.replies_met),
            replies_missed: i64::from(t.sla.replies_missed),
            resolution: TargetDoc::from_domain(&t.sla.resolution),
            escalation_level: i64::from(t.sla.escalation_level),
            paused_since: t.sla.paused_since.map(to_bson),
            paused_ms: t.sla.paused.num_milliseconds(),
            reassignments: i64::from(t.sla.reassignments),
            acceptance_escalated: t.sla.acceptance_escalated,
            check_at: t.sla_check_at().map(to_bson),
            next_due_at: t.sla_next_due().map(to_bson),
        }
    }

    pub(super) fn into_domain(self) -> TicketSla {
        TicketSla {
            first_response: self.first_response.into_domain(),
            next_reply: self.next_reply.map(TargetDoc::into_domain),
            replies_met: u32::try_from(self.replies_met).unwrap_or(0),
            replies_missed: u32::try_from(self.replies_missed).unwrap_or(0),
            resolution: self.resolution.into_domain(),
            escalation_level: u32::try_from(self.escalation_level).unwrap_or(u32::MAX),
            paused_since: self.paused_since.map(to_chrono),
            paused: TimeDelta::milliseconds(self.paused_ms),
            reassignments: u32::try_from(self.reassignments).unwrap_or(0),
            acceptance_escalated: self.acceptance_escalated,
            check_at: self.check_at.map(to_chrono),
        }
    }
}
