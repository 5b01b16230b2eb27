//! A ticket's priority and status: the vocabulary tickets, the SLA policy and the events
//! share.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::named::named_enum;

named_enum!(
    /// How urgent a ticket is; ordered so that `Critical` is the greatest.
    Priority, "priority" {
        /// Can wait.
        Low = "Low",
        /// The default.
        Medium = "Medium",
        /// Hurts a customer now.
        High = "High",
        /// An outage.
        Critical = "Critical",
    }
);

named_enum!(
    /// Where a ticket is in its life.
    Status, "status" {
        /// Waiting for an agent (the backlog).
        Open = "Open",
        /// Held by an agent, not started.
        Assigned = "Assigned",
        /// Being worked on.
        InProgress = "InProgress",
        /// Waiting on the customer: its agent keeps it, and the resolution clock is paused until
        /// the customer replies or an agent picks it up again.
        Pending = "Pending",
        /// Fixed; the requester may close or reopen it.
        Resolved = "Resolved",
        /// Done.
        Closed = "Closed",
    }
);

impl Status {
    /// Whether the ticket still needs work (it holds or waits for an agent).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Open | Status::Assigned | Status::InProgress | Status::Pending
        )
    }
}
