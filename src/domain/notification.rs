use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::named::named_enum;
use super::{Envelope, UserId, ValidationError};

named_enum!(
    /// What a notification tells; the names are also the Socket.IO event names.
    NotificationKind, "kind" {
        /// A ticket was given to the recipient (an agent).
        TicketAssigned = "ticketAssigned",
        /// The recipient's ticket changed status or assignee.
        ComplaintUpdated = "complaintUpdated",
        /// A ticket was escalated.
        TicketEscalated = "ticketEscalated",
        /// A ticket missed an SLA target.
        SlaBreached = "slaBreached",
        /// An agent's availability changed (to admins).
        AgentAvailabilityChanged = "agentAvailabilityChanged",
        /// A reply on the recipient's ticket: the staff's to its requester, the requester's to
        /// its agent.
        TicketReplied = "ticketReplied",
        /// An internal note on a ticket the recipient (its agent) holds; staff only.
        NoteAdded = "noteAdded",
    }
);

/// One message for one person, kept in their inbox until read.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `<eventId>:<recipient>:<kind>`: the same event never notifies the same person twice.
    pub id: String,
    /// Who it is for.
    pub recipient: UserId,
    /// What it tells.
    pub kind: NotificationKind,
    /// One line for a person to read.
    pub message: String,
    /// The ticket (or agent) summary, so a client needs no extra request.
    pub data: serde_json::Value,
    /// The event that caused it.
    pub event_id: Uuid,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When the recipient marked it read.
    pub read_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// A notification of `event` for `recipient`.
    pub fn of(
        event: &Envelope,
        recipient: UserId,
        kind: NotificationKind,
        message: String,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: format!("{}:{recipient}:{kind}", event.event_id),
            recipient,
            kind,
            message,
            data,
            event_id: event.event_id,
            created_at: now,
            read_at: None,
        }
    }
}
