//! Tickets: their ids, fields and history, and (in the submodules) how they move through
//! their life and their SLA.

mod acceptance;
mod conversation;
mod lifecycle;
mod sla;

pub use acceptance::AcceptanceStep;
pub use sla::AcknowledgeError;
#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::bounded_text;
use super::event::payload::{
    PrioritizationApplied, TicketAssigned, TicketCreated, TicketRequeued, TicketResolved,
    TicketStatusChanged,
};
use super::named::text_serde;
use super::sla::{SlaTerms, TicketSla};
use super::status::{Priority, Status};
use super::{Envelope, Event, EventMetadata, Message, Principal, Role, UserId, ValidationError};

/// A ticket's internal id: a time-ordered UUID (v7), so sorting by id sorts by creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketId(Uuid);

impl TicketId {
    /// A fresh id, later than every id made before it in this process.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses the hyphenated form.
    ///
    /// # Errors
    /// If `s` is not a UUID.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| ValidationError::new("id", "is not a ticket id"))
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

/// The human-facing ticket number, shown as `COMP-00042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComplaintId(u64);

impl ComplaintId {
    /// The id with sequence number `n` (from the store's atomic counter).
    pub fn from_sequence(n: u64) -> Self {
        Self(n)
    }

    /// The sequence number.
    pub fn sequence(self) -> u64 {
        self.0
    }

    /// Parses `COMP-00042` (case-insensitive prefix).
    ///
    /// # Errors
    /// If `s` is not of that form.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let digits = s
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("COMP-"))
            .map(|_| &s[5..])
            .ok_or_else(|| ValidationError::new("complaintId", "must look like COMP-00001"))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(
                "complaintId",
                "must look like COMP-00001",
            ));
        }
        digits
            .parse()
            .map(Self)
            .map_err(|_| ValidationError::new("complaintId", "number is too large"))
    }
}

impl fmt::Display for ComplaintId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "COMP-{:05}", self.0)
    }
}

/// How a request names a ticket: by id or by complaint id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRef {
    /// The internal id.
    Id(TicketId),
    /// The `COMP-…` number.
    Complaint(ComplaintId),
}

impl TicketRef {
    /// Reads a path segment: `COMP-00001` or a UUID.
    ///
    /// # Errors
    /// If it is neither.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("COMP-")) {
            ComplaintId::parse(s).map(Self::Complaint)
        } else {
            TicketId::parse(s).map(Self::Id)
        }
    }
}

/// A ticket title: 3 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// Longest title accepted.
    pub const MAX_CHARS: usize = 200;

    /// Validates a title.
    ///
    /// # Errors
    /// If it is shorter than 3 or longer than 200 characters, or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        bounded_text("title", raw, 3, Self::MAX_CHARS).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket description: 1 to 5,000 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Longest description accepted.
    pub const MAX_CHARS: usize = 5000;

    /// Validates a description.
    ///
    /// # Errors
    /// If it is empty, longer than 5,000 characters, or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        bounded_text("description", raw, 1, Self::MAX_CHARS).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One of the configured ticket categories (agents' skills use the same names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(String);

impl Category {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A category read back from the store. Stored data was validated when written; a category
    /// since removed from configuration must still load.
    pub(crate) fn stored(name: String) -> Self {
        Self(name)
    }
}

/// The set of categories this deployment accepts, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Categories(Vec<Category>);

impl Categories {
    /// Builds the set from names; blank entries are ignored and duplicates merged.
    ///
    /// # Errors
    /// If no category is left.
    pub fn new<I, S>(names: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out: Vec<Category> = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            if !name.is_empty() && !out.iter().any(|c| c.0.eq_ignore_ascii_case(name)) {
                out.push(Category(name.to_owned()));
            }
        }
        if out.is_empty() {
            return Err(ValidationError::new(
                "categories",
                "at least one category is required",
            ));
        }
        Ok(Self(out))
    }

    /// Finds `raw` among the categories, ignoring case, for the field `field`.
    ///
    /// # Errors
    /// If it is not one of them; the message lists the accepted names.
    pub fn parse(&self, field: &str, raw: &str) -> Result<Category, ValidationError> {
        let raw = raw.trim();
        self.0
            .iter()
            .find(|c| c.0.eq_ignore_ascii_case(raw))
            .cloned()
            .ok_or_else(|| {
                ValidationError::new(
                    field,
                    format!("must be one of: {}", self.names().join(", ")),
                )
            })
    }

    /// The names, in configuration order.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|c| c.as_str()).collect()
    }
}

impl Default for Categories {
    fn default() -> Self {
        Self::new(["Technical", "Billing", "Account", "General"])
            .expect("BUG: default categories are valid")
    }
}

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// The ticket was opened.
    Created,
    /// Its status changed.
    StatusChanged,
    /// It was given to an agent.
    Assigned,
    /// Its priority changed.
    PriorityChanged,
    /// It went back to the backlog.
    Requeued,
    /// The warning fraction of an SLA target passed (`to` names the target).
    SlaWarning,
    /// An SLA target was missed (`to` names the target).
    SlaBreach,
    /// Someone acknowledged a missed SLA target (`to` names it): no more escalation from it.
    SlaAcknowledged,
    /// An escalation rule fired (`from`/`to` are escalation levels, the note names the rule).
    Escalated,
}

/// One change in a ticket's life: who, what, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The user id of who did it, or `system`.
    pub actor: String,
    /// What kind of change.
    pub kind: HistoryKind,
    /// The value before, where there is one.
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
    /// Why, in the actor's words.
    pub note: Option<String>,
}

/// A ticket (the original QuickFix called it a complaint).
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// Internal id.
    pub id: TicketId,
    /// Human id, unique.
    pub complaint_id: ComplaintId,
    /// Short summary.
    pub title: Title,
    /// The customer's account of the problem.
    pub description: Description,
    /// Which kind of agent can take it.
    pub category: Category,
    /// How urgent.
    pub priority: Priority,
    /// Where it is in its life.
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
    /// Every change, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The conversation: replies and notes, oldest first (at most [`MAX_MESSAGES`]).
    ///
    /// [`MAX_MESSAGES`]: crate::domain::MAX_MESSAGES
    pub messages: Vec<Message>,
    /// Service-level targets, their due times and the escalation level.
    pub sla: TicketSla,
    /// The plan and region its SLA runs on (its requester's organization's when it opened).
    pub terms: SlaTerms,
    /// Bumped by the store on every write; updates are conditional on it.
    pub revision: u64,
}

/// What a customer supplies to open a ticket, already validated.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// Summary.
    pub title: Title,
    /// Details.
    pub description: Description,
    /// Category.
    pub category: Category,
    /// Priority; `Medium` when the customer gives none.
    pub priority: Priority,
    /// The plan and region its SLA runs on, from the requester's organization.
    pub terms: SlaTerms,
}

/// Why a status change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    /// The person may not make this change on this ticket.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The change is not a legal transition from the current status.
    #[error("cannot change status from {from} to {to}")]
    IllegalTransition {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
    },
}

/// Why an assignment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    /// Resolved and closed tickets are not assigned.
    #[error("a {0} ticket cannot be assigned")]
    NotActive(Status),
    /// The ticket already belongs to that agent.
    #[error("the ticket is already assigned to this agent")]
    AlreadyAssigned,
}

text_serde!(TicketId, TicketId::parse, {
    "type": "string", "format": "uuid", "description": "A ticket's id"
});
text_serde!(ComplaintId, ComplaintId::parse, {
    "type": "string", "pattern": "^COMP-[0-9]{5,}$", "description": "A ticket's number"
});
