use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::error::bounded_text;
use super::event::payload::{
    PrioritizationApplied, TicketAssigned, TicketCreated, TicketRequeued, TicketResolved,
    TicketStatusChanged,
};
use super::sla::{SlaPolicy, TicketSla};
use super::{Envelope, Event, EventMetadata, Principal, Role, UserId, ValidationError};

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

/// Serialises an id as its `Display` text and reads it back with `$parse` (its `FromStr`-like
/// constructor), so ids travel in events as the strings the API shows.
macro_rules! text_serde {
    ($ty:ty, $parse:expr, $schema:tt) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                ($parse)(text.as_str()).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use text_serde;

text_serde!(TicketId, TicketId::parse, {
    "type": "string", "format": "uuid", "description": "A ticket's id"
});
text_serde!(ComplaintId, ComplaintId::parse, {
    "type": "string", "pattern": "^COMP-[0-9]{5,}$", "description": "A ticket's number"
});

/// Defines a fieldless enum whose JSON, storage and `as_str` names are the given wire names.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in JSON and storage.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses a name, ignoring case, reporting errors against `field`.
            ///
            /// # Errors
            /// If `raw` names no value.
            pub fn parse_field(field: &str, raw: &str) -> Result<Self, ValidationError> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(raw.trim()))
                    .ok_or_else(|| {
                        let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        ValidationError::new(field, format!("must be one of: {}", names.join(", ")))
                    })
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_field($field, s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

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
        /// Fixed; the requester may close or reopen it.
        Resolved = "Resolved",
        /// Done.
        Closed = "Closed",
    }
);

impl Status {
    /// Whether the ticket still needs work (it holds or waits for an agent).
    pub fn is_active(self) -> bool {
        matches!(self, Status::Open | Status::Assigned | Status::InProgress)
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
    /// Service-level targets, their due times and the escalation level.
    pub sla: TicketSla,
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
            sla: policy.start(new.priority, now),
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
    /// Who may do what: the assigned agent starts and resolves work; the requester closes or
    /// reopens a resolved ticket; an admin makes any legal transition. `Open → Assigned` happens
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
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Result<Vec<Envelope>, StatusChangeError> {
        let from = self.status;
        if !is_legal_transition(from, to) || (to == Status::InProgress && self.assignee.is_none()) {
            return Err(StatusChangeError::IllegalTransition { from, to });
        }
        let is_assignee = self.assignee == Some(by.id);
        let allowed = match by.role {
            Role::Admin => true,
            Role::Agent => {
                is_assignee
                    && matches!(to, Status::InProgress | Status::Resolved)
                    && from != Status::Resolved
            }
            Role::Customer => self.requester == by.id && from == Status::Resolved,
        };
        if !allowed {
            return Err(StatusChangeError::Forbidden(match by.role {
                Role::Agent => "only the assigned agent may start or resolve this ticket",
                _ => "only the requester may close or reopen a resolved ticket",
            }));
        }

        // A reopened ticket goes back to the backlog and is routed like a new one: its agent's
        // slot may already serve another ticket.
        let reopened_from = (to == Status::Open).then(|| self.assignee.take()).flatten();
        self.status = to;
        self.updated_at = now;
        if to == Status::Resolved {
            self.resolved_at = Some(now);
            self.sla.resolution.met_at = Some(now);
        } else if from == Status::Resolved {
            self.resolved_at = None;
            self.sla.resolution.met_at = None;
        }
        self.touch_sla(now);
        self.history.push(HistoryEntry {
            at: now,
            actor: by.id.to_string(),
            kind: HistoryKind::StatusChanged,
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            note: note.clone(),
        });

        let mut events = vec![Envelope::new(
            Event::TicketStatusChanged(TicketStatusChanged {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                from,
                to,
                changed_by: by.id,
                assigned_to: self.assignee,
                message: note,
            }),
            meta.clone(),
            now,
        )];
        if to == Status::Open {
            events.push(self.requeued_event(
                reopened_from,
                "reopened by the requester",
                now,
                meta.clone(),
            ));
        }
        if to == Status::Resolved {
            events.push(Envelope::new(
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
            ));
        }
        Ok(events)
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
        self.sla.first_response.met_at.get_or_insert(now);
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
fn is_legal_transition(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Open, Closed)
            | (Assigned, InProgress)
            | (Assigned, Resolved)
            | (InProgress, Resolved)
            | (Resolved, Closed)
            | (Resolved, Open)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventType;
    use proptest::prelude::*;

    fn meta() -> EventMetadata {
        EventMetadata::requested("c", "a")
    }

    fn principal(role: Role) -> Principal {
        Principal {
            id: UserId::generate(),
            role,
        }
    }

    fn open_ticket(requester: UserId) -> Ticket {
        let new = NewTicket {
            title: Title::parse("Printer on fire").unwrap(),
            description: Description::parse("It smokes").unwrap(),
            category: Categories::default()
                .parse("category", "technical")
                .unwrap(),
            priority: Priority::Medium,
        };
        Ticket::open(
            new,
            ComplaintId::from_sequence(7),
            requester,
            &SlaPolicy::default(),
            Utc::now(),
            meta(),
        )
        .0
    }

    #[test]
    fn complaint_ids_format_and_parse() {
        let id = ComplaintId::from_sequence(42);
        assert_eq!(id.to_string(), "COMP-00042");
        assert_eq!(ComplaintId::parse("comp-00042").unwrap(), id);
        assert_eq!(
            ComplaintId::parse("COMP-1234567").unwrap().to_string(),
            "COMP-1234567"
        );
        for bad in ["COMP-", "COMP-12a", "42", "", "CMP-00001"] {
            assert!(ComplaintId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn created_event_carries_the_seed_fields() {
        let user = UserId::generate();
        let new = NewTicket {
            title: Title::parse("Internet issue").unwrap(),
            description: Description::parse("down").unwrap(),
            category: Categories::default()
                .parse("category", "Technical")
                .unwrap(),
            priority: Priority::High,
        };
        let (t, e) = Ticket::open(
            new,
            ComplaintId::from_sequence(12345),
            user,
            &SlaPolicy::default(),
            Utc::now(),
            meta(),
        );
        assert_eq!(e.event_type(), EventType::TicketCreated);
        assert_eq!(e.data()["ticketId"], t.id.to_string());
        assert_eq!(e.data()["complaintId"], "COMP-12345");
        assert_eq!(e.data()["userId"], user.to_string());
        assert_eq!(e.data()["title"], "Internet issue");
        assert_eq!(e.data()["category"], "Technical");
        assert_eq!(e.data()["priority"], "High");
        assert!(e.data()["assignedTo"].is_null());
    }

    #[test]
    fn assigned_agent_resolves_and_the_resolved_event_follows() {
        let customer = principal(Role::Customer);
        let agent = principal(Role::Agent);
        let mut t = open_ticket(customer.id);
        t.assign(agent.id, "system", None, Utc::now(), meta())
            .unwrap();
        let events = t
            .change_status(
                &agent,
                Status::Resolved,
                Some("fixed".into()),
                Utc::now(),
                meta(),
            )
            .unwrap();
        let kinds: Vec<_> = events.iter().map(|e| e.event_type()).collect();
        assert_eq!(
            kinds,
            [EventType::TicketStatusChanged, EventType::TicketResolved]
        );
        assert_eq!(events[1].data()["agentId"], agent.id.to_string());
        assert_eq!(events[1].data()["resolvedBy"], agent.id.to_string());
        assert!(t.resolved_at.is_some());
        assert_eq!(t.history.last().unwrap().note.as_deref(), Some("fixed"));
    }

    #[test]
    fn another_agent_may_not_resolve() {
        let mut t = open_ticket(UserId::generate());
        t.assign(UserId::generate(), "system", None, Utc::now(), meta())
            .unwrap();
        let err = t
            .change_status(
                &principal(Role::Agent),
                Status::Resolved,
                None,
                Utc::now(),
                meta(),
            )
            .unwrap_err();
        assert!(matches!(err, StatusChangeError::Forbidden(_)));
        assert_eq!(t.status, Status::Assigned);
    }

    #[test]
    fn open_ticket_cannot_be_resolved_or_started() {
        let admin = principal(Role::Admin);
        for to in [
            Status::Resolved,
            Status::InProgress,
            Status::Assigned,
            Status::Open,
        ] {
            let mut t = open_ticket(UserId::generate());
            let err = t
                .change_status(&admin, to, None, Utc::now(), meta())
                .unwrap_err();
            assert!(
                matches!(err, StatusChangeError::IllegalTransition { .. }),
                "{to}"
            );
        }
    }

    proptest! {
        #[test]
        fn titles_are_bounded(s in "\\PC{0,300}") {
            match Title::parse(&s) {
                Ok(t) => {
                    let n = t.as_str().chars().count();
                    prop_assert!((3..=Title::MAX_CHARS).contains(&n));
                    prop_assert_eq!(t.as_str(), s.trim());
                }
                Err(e) => prop_assert_eq!(e.field, "title"),
            }
        }

        #[test]
        fn any_path_segment_parses_or_errors_without_panicking(s in "\\PC{0,40}") {
            let _ = TicketRef::parse(&s);
        }

        #[test]
        fn only_legal_transitions_change_the_status(from_i in 0usize..5, to_i in 0usize..5) {
            let (from, to) = (Status::ALL[from_i], Status::ALL[to_i]);
            let admin = principal(Role::Admin);
            let mut t = open_ticket(UserId::generate());
            t.status = from;
            t.assignee = Some(UserId::generate());
            let result = t.change_status(&admin, to, None, Utc::now(), meta());
            prop_assert_eq!(result.is_ok(), is_legal_transition(from, to));
            prop_assert_eq!(t.status, if result.is_ok() { to } else { from });
        }
    }
}
