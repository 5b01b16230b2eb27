//! The event catalog: one typed payload per event type, and [`Event`], the one type producers,
//! the relay, the worker's handlers and the live feed share. The wire names are the JSON field
//! names (camelCase); `ticket.created` and `ticket.resolved` keep the fields of the original
//! QuickFix.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::EventType;
use crate::domain::{
    Availability, ComplaintId, MessageId, Presence, Priority, Role, SlaTarget, Status, TicketId,
    Tier, UserId,
};

/// `ticket.created`: a customer opened a ticket (the original QuickFix payload, which is
/// version 1, plus the description since version 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketCreated {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    /// The requester.
    pub user_id: UserId,
    pub title: String,
    pub category: String,
    pub priority: Priority,
    /// Always `null` at creation; kept for the original contract.
    pub assigned_to: Option<UserId>,
    /// The customer's account of the problem (version 2; empty when read from version 1).
    pub description: String,
}

/// `ticket.assigned`: a ticket was given to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketAssigned {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub category: String,
    pub priority: Priority,
    /// The agent who has it now.
    pub assigned_to: UserId,
    pub previous_assignee: Option<UserId>,
    pub previous_status: Status,
}

/// `ticket.status_changed`: a ticket moved from one status to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketStatusChanged {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub from: Status,
    pub to: Status,
    pub changed_by: UserId,
    pub assigned_to: Option<UserId>,
    /// The note given with the change.
    pub message: Option<String>,
}

/// `ticket.resolved`: a ticket was resolved (the original QuickFix payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketResolved {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    /// The agent who held it, whose slot is to be given back.
    pub agent_id: Option<UserId>,
    pub resolved_by: UserId,
    pub resolved_at: DateTime<Utc>,
    pub user_id: UserId,
    pub title: String,
    pub priority: Priority,
}

/// `ticket.escalated`: an SLA escalation rule acted on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketEscalated {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub category: String,
    pub status: Status,
    pub priority: Priority,
    pub previous_priority: Priority,
    pub assigned_to: Option<UserId>,
    pub previous_assignee: Option<UserId>,
    /// The rule's name.
    pub rule: String,
    /// The escalation level reached (1 is the first rule).
    pub level: u32,
    /// What the rule does (`raise_priority`, `reassign_higher_tier`, `notify_managers`).
    pub actions: Vec<String>,
    /// Whether managers are to be told.
    pub notify_managers: bool,
}

/// `ticket.requeued`: a ticket went back to the backlog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketRequeued {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub category: String,
    pub priority: Priority,
    pub previous_assignee: Option<UserId>,
    pub reason: String,
}

/// `agent.availability_changed`: an agent's presence, and so their availability, changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentAvailabilityChanged {
    pub agent_id: UserId,
    pub name: String,
    pub presence: Presence,
    pub availability: Availability,
    pub previous_availability: Availability,
    pub free_slots: u32,
    pub capacity: u32,
    pub skills: Vec<String>,
    pub tier: Tier,
}

/// `automation.prioritization_applied`: a prioritisation rule raised a ticket's priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrioritizationApplied {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub from: Priority,
    pub to: Priority,
    /// The keyword rule that matched.
    pub rule: String,
}

/// `sla.warning` and `sla.breach`: a ticket is close to missing, or missed, an SLA target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlaAlert {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub priority: Priority,
    pub status: Status,
    pub assigned_to: Option<UserId>,
    pub target: SlaTarget,
    pub due_at: DateTime<Utc>,
    /// The target as a sentence, e.g. `High first response target 4h`.
    pub rule: String,
}

/// `ticket.replied` and `ticket.note_added`: a message was added to a ticket's conversation, a
/// public reply or an internal note. A note's event goes to the staff only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageAdded {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    /// The requester.
    pub user_id: UserId,
    pub title: String,
    pub status: Status,
    pub assigned_to: Option<UserId>,
    pub message_id: MessageId,
    pub author_id: UserId,
    /// The author's role: a customer's reply is answered by the staff, and the other way round.
    pub author_role: Role,
    /// The text, up to 5,000 characters.
    pub body: String,
}

/// `sla.breach_acknowledged`: someone acknowledged a missed SLA target; escalation rules that
/// measure from it stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreachAcknowledged {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub priority: Priority,
    pub target: SlaTarget,
    pub due_at: DateTime<Utc>,
    pub breached_at: DateTime<Utc>,
    /// Who acknowledged it.
    pub acknowledged_by: UserId,
}

/// `ticket.reassigned`: a ticket went to another agent because the agent who had it did not
/// act on it (a reply, or `InProgress`) in time; `ticket.assigned` for the new agent goes with
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketReassigned {
    pub ticket_id: TicketId,
    pub complaint_id: ComplaintId,
    pub user_id: UserId,
    pub title: String,
    pub priority: Priority,
    /// The agent who did not act.
    pub from: UserId,
    /// The agent who has it now.
    pub to: UserId,
    /// Why, e.g. `not accepted within 15m`.
    pub reason: String,
    /// How many times the ticket has been reassigned this way.
    pub reassignments: u32,
}

/// One event of the catalog, with its typed payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    TicketCreated(TicketCreated),
    TicketAssigned(TicketAssigned),
    TicketStatusChanged(TicketStatusChanged),
    TicketResolved(TicketResolved),
    TicketEscalated(TicketEscalated),
    TicketRequeued(TicketRequeued),
    AgentAvailabilityChanged(AgentAvailabilityChanged),
    PrioritizationApplied(PrioritizationApplied),
    SlaWarning(SlaAlert),
    SlaBreach(SlaAlert),
    TicketReplied(MessageAdded),
    TicketNoteAdded(MessageAdded),
    SlaBreachAcknowledged(BreachAcknowledged),
    TicketReassigned(TicketReassigned),
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// A version this build does not know (newer than it writes, or never written).
    #[error("unsupported {event_type} version {version} (this build reads 1 to {current})")]
    UnsupportedVersion {
        event_type: EventType,
        version: u32,
        current: u32,
    },
    /// The payload does not have the fields its type and version require.
    #[error("invalid {event_type} payload: {reason}")]
    Invalid {
        event_type: EventType,
        reason: String,
    },
}

impl Event {
    /// The event's type (its `eventType`).
    pub fn event_type(&self) -> EventType {
        match self {
            Self::TicketCreated(_) => EventType::TicketCreated,
            Self::TicketAssigned(_) => EventType::TicketAssigned,
            Self::TicketStatusChanged(_) => EventType::TicketStatusChanged,
            Self::TicketResolved(_) => EventType::TicketResolved,
            Self::TicketEscalated(_) => EventType::TicketEscalated,
            Self::TicketRequeued(_) => EventType::TicketRequeued,
            Self::AgentAvailabilityChanged(_) => EventType::AgentAvailabilityChanged,
            Self::PrioritizationApplied(_) => EventType::PrioritizationApplied,
            Self::SlaWarning(_) => EventType::SlaWarning,
            Self::SlaBreach(_) => EventType::SlaBreach,
            Self::TicketReplied(_) => EventType::TicketReplied,
            Self::TicketNoteAdded(_) => EventType::TicketNoteAdded,
            Self::SlaBreachAcknowledged(_) => EventType::SlaBreachAcknowledged,
            Self::TicketReassigned(_) => EventType::TicketReassigned,
        }
    }

    /// The ticket the event is about, if it is about one.
    pub fn ticket_id(&self) -> Option<TicketId> {
        match self {
            Self::TicketCreated(p) => Some(p.ticket_id),
            Self::TicketAssigned(p) => Some(p.ticket_id),
            Self::TicketStatusChanged(p) => Some(p.ticket_id),
            Self::TicketResolved(p) => Some(p.ticket_id),
            Self::TicketEscalated(p) => Some(p.ticket_id),
            Self::TicketRequeued(p) => Some(p.ticket_id),
            Self::PrioritizationApplied(p) => Some(p.ticket_id),
            Self::SlaWarning(p) | Self::SlaBreach(p) => Some(p.ticket_id),
            Self::TicketReplied(p) | Self::TicketNoteAdded(p) => Some(p.ticket_id),
            Self::SlaBreachAcknowledged(p) => Some(p.ticket_id),
            Self::TicketReassigned(p) => Some(p.ticket_id),
            Self::AgentAvailabilityChanged(_) => None,
        }
    }

    /// The human id of the ticket the event is about, if it is about one.
    pub fn complaint_id(&self) -> Option<&ComplaintId> {
        match self {
            Self::TicketCreated(p) => Some(&p.complaint_id),
            Self::TicketAssigned(p) => Some(&p.complaint_id),
            Self::TicketStatusChanged(p) => Some(&p.complaint_id),
            Self::TicketResolved(p) => Some(&p.complaint_id),
            Self::TicketEscalated(p) => Some(&p.complaint_id),
            Self::TicketRequeued(p) => Some(&p.complaint_id),
            Self::PrioritizationApplied(p) => Some(&p.complaint_id),
            Self::SlaWarning(p) | Self::SlaBreach(p) => Some(&p.complaint_id),
            Self::TicketReplied(p) | Self::TicketNoteAdded(p) => Some(&p.complaint_id),
            Self::SlaBreachAcknowledged(p) => Some(&p.complaint_id),
            Self::TicketReassigned(p) => Some(&p.complaint_id),
            Self::AgentAvailabilityChanged(_) => None,
        }
    }

    /// The payload as it goes on the wire (`data`).
    ///
    /// # Panics
    /// Never for these types: every payload is plain JSON.
    pub fn payload_json(&self) -> serde_json::Value {
        let value = match self {
            Self::TicketCreated(p) => serde_json::to_value(p),
            Self::TicketAssigned(p) => serde_json::to_value(p),
            Self::TicketStatusChanged(p) => serde_json::to_value(p),
            Self::TicketResolved(p) => serde_json::to_value(p),
            Self::TicketEscalated(p) => serde_json::to_value(p),
            Self::TicketRequeued(p) => serde_json::to_value(p),
            Self::AgentAvailabilityChanged(p) => serde_json::to_value(p),
            Self::PrioritizationApplied(p) => serde_json::to_value(p),
            Self::SlaWarning(p) | Self::SlaBreach(p) => serde_json::to_value(p),
            Self::TicketReplied(p) | Self::TicketNoteAdded(p) => serde_json::to_value(p),
            Self::SlaBreachAcknowledged(p) => serde_json::to_value(p),
            Self::TicketReassigned(p) => serde_json::to_value(p),
        };
        value.expect("BUG: an event payload is not JSON")
    }

    /// Reads the payload `data` of an `event_type` event written at `version`, upcasting an
    /// older version to the current one.
    ///
    /// # Errors
    /// [`PayloadError`] for a version this build does not read, or a payload without the
    /// fields its type requires.
    pub fn from_payload(
        event_type: EventType,
        version: u32,
        data: serde_json::Value,
    ) -> Result<Self, PayloadError> {
        let current = event_type.version();
        if version == 0 || version > current {
            return Err(PayloadError::UnsupportedVersion {
                event_type,
                version,
                current,
            });
        }
        let data = upcast(event_type, version, data);
        let invalid = |e: serde_json::Error| PayloadError::Invalid {
            event_type,
            reason: e.to_string(),
        };
        // Each event type decodes into the variant of the same name.
        macro_rules! decode {
            ($($variant:ident),+ $(,)?) => {
                match event_type {
                    $(EventType::$variant => {
                        Self::$variant(serde_json::from_value(data).map_err(invalid)?)
                    })+
                }
            };
        }
        Ok(decode!(
            TicketCreated,
            TicketAssigned,
            TicketStatusChanged,
            TicketResolved,
            TicketEscalated,
            TicketRequeued,
            AgentAvailabilityChanged,
            PrioritizationApplied,
            SlaWarning,
            SlaBreach,
            TicketReplied,
            TicketNoteAdded,
            SlaBreachAcknowledged,
            TicketReassigned,
        ))
    }
}

/// The JSON Schema of `event_type`'s payload, its definitions added to `generator`.
pub fn payload_schema(
    event_type: EventType,
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    match event_type {
        EventType::TicketCreated => generator.subschema_for::<TicketCreated>(),
        EventType::TicketAssigned => generator.subschema_for::<TicketAssigned>(),
        EventType::TicketStatusChanged => generator.subschema_for::<TicketStatusChanged>(),
        EventType::TicketResolved => generator.subschema_for::<TicketResolved>(),
        EventType::TicketEscalated => generator.subschema_for::<TicketEscalated>(),
        EventType::TicketRequeued => generator.subschema_for::<TicketRequeued>(),
        EventType::AgentAvailabilityChanged => {
            generator.subschema_for::<AgentAvailabilityChanged>()
        }
        EventType::PrioritizationApplied => generator.subschema_for::<PrioritizationApplied>(),
        EventType::SlaWarning | EventType::SlaBreach => generator.subschema_for::<SlaAlert>(),
        EventType::TicketReplied | EventType::TicketNoteAdded => {
            generator.subschema_for::<MessageAdded>()
        }
        EventType::SlaBreachAcknowledged => generator.subschema_for::<BreachAcknowledged>(),
        EventType::TicketReassigned => generator.subschema_for::<TicketReassigned>(),
    }
}

/// Rewrites a payload of an older `version` into the current one, one version at a time: each
/// type's new version adds its step here.
fn upcast(event_type: EventType, version: u32, mut data: serde_json::Value) -> serde_json::Value {
    debug_assert!(version <= event_type.version());
    // ticket.created 1 → 2: the description was added; a version-1 event (the original
    // QuickFix's) did not say it.
    if event_type == EventType::TicketCreated
        && version < 2
        && let Some(fields) = data.as_object_mut()
    {
        fields
            .entry("description")
            .or_insert_with(|| serde_json::Value::String(String::new()));
    }
    data
}
