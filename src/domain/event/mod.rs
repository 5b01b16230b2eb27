//! Events: the catalog of types ([`EventType`], [`Event`] and its payloads in [`payload`]),
//! their metadata, and the envelope every SNS message carries.

pub mod log;
pub mod payload;
mod projection;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use log::{
    BadCursor, DEFAULT_RETENTION, EventCursor, EventQuery, LoggedEvent, causal_order, to_micros,
};
pub use payload::{Event, PayloadError};
pub use projection::TicketAsOf;

/// Every kind of event QuickFix publishes; the wire name is the SNS `eventType` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A customer opened a ticket.
    #[serde(rename = "ticket.created")]
    TicketCreated,
    /// A ticket was given to an agent.
    #[serde(rename = "ticket.assigned")]
    TicketAssigned,
    /// A ticket moved from one status to another.
    #[serde(rename = "ticket.status_changed")]
    TicketStatusChanged,
    /// A ticket was resolved; the agent's slot is to be given back.
    #[serde(rename = "ticket.resolved")]
    TicketResolved,
    /// A ticket was escalated by an SLA rule.
    #[serde(rename = "ticket.escalated")]
    TicketEscalated,
    /// A ticket went back to the backlog (its agent went offline).
    #[serde(rename = "ticket.requeued")]
    TicketRequeued,
    /// An agent's presence, and so their availability, changed.
    #[serde(rename = "agent.availability_changed")]
    AgentAvailabilityChanged,
    /// A prioritisation rule changed a ticket's priority.
    #[serde(rename = "automation.prioritization_applied")]
    PrioritizationApplied,
    /// A ticket is close to missing an SLA target.
    #[serde(rename = "sla.warning")]
    SlaWarning,
    /// A ticket missed an SLA target.
    #[serde(rename = "sla.breach")]
    SlaBreach,
    /// Someone acknowledged a missed SLA target; its escalation stops.
    #[serde(rename = "sla.breach_acknowledged")]
    SlaBreachAcknowledged,
    /// A ticket went to another agent because its agent did not act on it in time.
    #[serde(rename = "ticket.reassigned")]
    TicketReassigned,
    /// A public reply was added to a ticket's conversation.
    #[serde(rename = "ticket.replied")]
    TicketReplied,
    /// An internal note (staff only) was added to a ticket's conversation.
    #[serde(rename = "ticket.note_added")]
    TicketNoteAdded,
}

/// The event types the worker queue subscribes to (its SNS filter policy): those it routes on,
/// and those that notify someone.
pub const WORKER_EVENT_TYPES: [EventType; 10] = [
    EventType::TicketCreated,
    EventType::TicketResolved,
    EventType::AgentAvailabilityChanged,
    EventType::TicketAssigned,
    EventType::TicketStatusChanged,
    EventType::TicketRequeued,
    EventType::TicketEscalated,
    EventType::SlaBreach,
    EventType::TicketReplied,
    EventType::TicketNoteAdded,
];

impl EventType {
    /// All event types, in documentation order.
    pub const ALL: [EventType; 14] = [
        EventType::TicketCreated,
        EventType::TicketAssigned,
        EventType::TicketStatusChanged,
        EventType::TicketResolved,
        EventType::TicketEscalated,
        EventType::TicketRequeued,
        EventType::TicketReplied,
        EventType::TicketNoteAdded,
        EventType::TicketReassigned,
        EventType::AgentAvailabilityChanged,
        EventType::PrioritizationApplied,
        EventType::SlaWarning,
        EventType::SlaBreach,
        EventType::SlaBreachAcknowledged,
    ];

    /// The payload version this build writes for the type. `ticket.created` is at 2 (it
    /// carries the description); every other type is at 1. Older versions are read and
    /// upcast ([`Event::from_payload`]).
    pub fn version(self) -> u32 {
        match self {
            EventType::TicketCreated => 2,
            _ => 1,
        }
    }

    /// What an event of the type says, in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            EventType::TicketCreated => "A customer opened a ticket.",
            EventType::TicketAssigned => "A ticket was given to an agent.",
            EventType::TicketStatusChanged => "A ticket moved from one status to another.",
            EventType::TicketResolved => {
                "A ticket was resolved; the agent's slot is to be given back."
            }
            EventType::TicketEscalated => "A ticket was escalated by an SLA rule.",
            EventType::TicketRequeued => "A ticket went back to the backlog.",
            EventType::AgentAvailabilityChanged => {
                "An agent's presence, and so their availability, changed."
            }
            EventType::PrioritizationApplied => "A prioritisation rule raised a ticket's priority.",
            EventType::SlaWarning => "A ticket is close to missing an SLA target.",
            EventType::SlaBreach => "A ticket missed an SLA target.",
            EventType::SlaBreachAcknowledged => {
                "Someone acknowledged a missed SLA target; its escalation stops."
            }
            EventType::TicketReassigned => {
                "A ticket went to another agent because its agent did not act on it in time."
            }
            EventType::TicketReplied => "A public reply was added to a ticket's conversation.",
            EventType::TicketNoteAdded => {
                "An internal note was added to a ticket's conversation (staff only)."
            }
        }
    }

    /// Whether only the staff may see events of the type: an internal note's, whose text is
    /// never shown to a customer.
    pub fn is_staff_only(self) -> bool {
        self == EventType::TicketNoteAdded
    }

    /// The wire name, e.g. `ticket.created`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TicketCreated => "ticket.created",
            EventType::TicketAssigned => "ticket.assigned",
            EventType::TicketStatusChanged => "ticket.status_changed",
            EventType::TicketResolved => "ticket.resolved",
            EventType::TicketEscalated => "ticket.escalated",
            EventType::TicketRequeued => "ticket.requeued",
            EventType::AgentAvailabilityChanged => "agent.availability_changed",
            EventType::PrioritizationApplied => "automation.prioritization_applied",
            EventType::SlaWarning => "sla.warning",
            EventType::SlaBreach => "sla.breach",
            EventType::SlaBreachAcknowledged => "sla.breach_acknowledged",
            EventType::TicketReassigned => "ticket.reassigned",
            EventType::TicketReplied => "ticket.replied",
            EventType::TicketNoteAdded => "ticket.note_added",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no QuickFix event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl EventType {
    /// The types `names` name, each once, in the order first named (blank names skipped).
    ///
    /// # Errors
    /// [`UnknownEventType`] for the first name outside the catalog.
    pub fn parse_distinct<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<EventType>, UnknownEventType> {
        let mut types = Vec::new();
        for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
            let t: EventType = name.parse()?;
            if !types.contains(&t) {
                types.push(t);
            }
        }
        Ok(types)
    }
}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// Tracing context carried by every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventMetadata {
    /// Shared by every event that one request or message set off.
    pub correlation_id: String,
    /// The `eventId` of the event that caused this one, `None` for a request.
    pub causation_id: Option<String>,
    /// The user id of who acted, or `system`.
    pub actor: String,
    /// The W3C trace context (`traceparent`) of the span that emitted the event, when traces
    /// are exported: the consumer's span joins the same trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// Who acts for QuickFix itself.
const SYSTEM_ACTOR: &str = "system";

impl EventMetadata {
    /// A change `actor` asked for, in the request or session `correlation_id` names.
    pub fn requested(correlation_id: impl Into<String>, actor: impl Into<String>) -> Self {
        Self {
            correlation_id: correlation_id.into(),
            causation_id: None,
            actor: actor.into(),
            traceparent: None,
        }
    }

    /// A change QuickFix starts on its own (a sweep, an SLA scan, demo data): the start of a
    /// causal chain `correlation_id` names.
    pub fn system(correlation_id: impl Into<String>) -> Self {
        Self::requested(correlation_id, SYSTEM_ACTOR)
    }

    /// An event QuickFix emits because of `cause`: same correlation, caused by `cause`.
    pub fn caused_by(cause: &Envelope) -> Self {
        Self {
            correlation_id: cause.metadata.correlation_id.clone(),
            causation_id: Some(cause.event_id.to_string()),
            actor: SYSTEM_ACTOR.into(),
            traceparent: None,
        }
    }

    /// The same metadata, carrying the trace context `traceparent` (none: not traced).
    #[must_use]
    pub fn traced(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }
}

/// The SNS message body: one event, as documented in the README.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireEnvelope", try_from = "WireEnvelope")]
pub struct Envelope {
    /// Unique per event; consumers use it to spot duplicates.
    pub event_id: Uuid,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// What happened, with its typed payload.
    pub event: Event,
    /// Correlation, causation, actor and trace context.
    pub metadata: EventMetadata,
}

/// Why a message body is not an envelope this build can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON, or not the envelope's shape.
    #[error("not an event envelope: {0}")]
    Malformed(String),
    /// An `eventType` outside the catalog.
    #[error("unknown eventType `{0}`")]
    UnknownType(String),
    /// A version or payload this build cannot read.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// The envelope as it is on the wire.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvelope {
    event_id: Uuid,
    event_type: String,
    version: u32,
    timestamp: DateTime<Utc>,
    data: serde_json::Value,
    metadata: EventMetadata,
}

impl From<Envelope> for WireEnvelope {
    fn from(e: Envelope) -> Self {
        let event_type = e.event.event_type();
        Self {
            event_id: e.event_id,
            event_type: event_type.as_str().to_owned(),
            version: event_type.version(),
            timestamp: e.timestamp,
            data: e.event.payload_json(),
            metadata: e.metadata,
        }
    }
}

impl TryFrom<WireEnvelope> for Envelope {
    type Error = EnvelopeError;

    fn try_from(w: WireEnvelope) -> Result<Self, Self::Error> {
        let event_type: EventType = w
            .event_type
            .parse()
            .map_err(|_| EnvelopeError::UnknownType(w.event_type.clone()))?;
        Ok(Self {
            event_id: w.event_id,
            timestamp: w.timestamp,
            event: Event::from_payload(event_type, w.version, w.data)?,
            metadata: w.metadata,
        })
    }
}

impl Envelope {
    /// Wraps `event` in a new envelope with a fresh id.
    pub fn new(event: Event, metadata: EventMetadata, timestamp: DateTime<Utc>) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            timestamp,
            event,
            metadata,
        }
    }

    /// What happened.
    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }

    /// The JSON text published to SNS.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("BUG: envelope is not JSON")
    }

    /// The payload as it is on the wire (`data`).
    pub fn data(&self) -> serde_json::Value {
        self.event.payload_json()
    }

    /// Reads a message body, saying precisely why it cannot be read (for the dead-letter
    /// queue's `reason`).
    ///
    /// # Errors
    /// [`EnvelopeError`] when the body is not an envelope of the catalog.
    pub fn from_json(body: &str) -> Result<Self, EnvelopeError> {
        let value: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| EnvelopeError::Malformed(format!("body is not JSON: {e}")))?;
        // The type and the version first: they say more than a missing field would.
        if let Some(name) = value.get("eventType").and_then(|t| t.as_str()) {
            let event_type: EventType = name
                .parse()
                .map_err(|_| EnvelopeError::UnknownType(name.to_owned()))?;
            if let Some(version) = value.get("version").and_then(serde_json::Value::as_u64) {
                let current = event_type.version();
                if version == 0 || version > u64::from(current) {
                    return Err(PayloadError::UnsupportedVersion {
                        event_type,
                        version: u32::try_from(version).unwrap_or(u32::MAX),
                        current,
                    }
                    .into());
                }
            }
        }
        let wire: WireEnvelope =
            serde_json::from_value(value).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        Self::try_from(wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert!("ticket.deleted".parse::<EventType>().is_err());
    }

    #[test]
    fn envelope_serialises_with_the_documented_field_names() {
        let meta = EventMetadata::requested("c", "u");
        let e = Envelope::new(sample_created(), meta, Utc::now());
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        for key in [
            "eventId",
            "eventType",
            "version",
            "timestamp",
            "data",
            "metadata",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["metadata"]["causationId"], serde_json::Value::Null);
        assert_eq!(v["eventType"], "ticket.created");
        assert_eq!(v["version"], 2);
        assert_eq!(Envelope::from_json(&e.to_json()).unwrap(), e);
    }

    fn sample_created() -> Event {
        Event::TicketCreated(payload::TicketCreated {
            ticket_id: crate::domain::TicketId::generate(),
            complaint_id: crate::domain::ComplaintId::from_sequence(7),
            user_id: crate::domain::UserId::generate(),
            title: "Internet issue".into(),
            category: "Technical".into(),
            priority: crate::domain::Priority::High,
            assigned_to: None,
            description: "The router blinks red".into(),
        })
    }

    #[test]
    fn a_version_1_ticket_created_is_upcast_to_the_current_version() {
        let current: serde_json::Value = serde_json::from_str(
            &Envelope::new(sample_created(), EventMetadata::system("c"), Utc::now()).to_json(),
        )
        .unwrap();
        // What the original QuickFix publishes: version 1, no description.
        let mut original = current.clone();
        original["version"] = 1.into();
        original["data"]
            .as_object_mut()
            .unwrap()
            .remove("description");
        let read = Envelope::from_json(&original.to_string()).expect("version 1 is read");
        let Event::TicketCreated(created) = &read.event else {
            panic!("{read:?}")
        };
        assert_eq!(created.description, "");
        assert_eq!(created.title, "Internet issue");
        // Written again, it is the current version.
        let rewritten: serde_json::Value = serde_json::from_str(&read.to_json()).unwrap();
        assert_eq!(rewritten["version"], 2);
        assert_eq!(rewritten["data"]["description"], "");
        // A version-2 event without its description is invalid, not upcast.
        let mut broken = current;
        broken["data"]
            .as_object_mut()
            .unwrap()
            .remove("description");
        assert!(matches!(
            Envelope::from_json(&broken.to_string()).unwrap_err(),
            EnvelopeError::Payload(PayloadError::Invalid { .. })
        ));
    }

    #[test]
    fn unreadable_envelopes_say_why() {
        let good: serde_json::Value = serde_json::from_str(
            &Envelope::new(sample_created(), EventMetadata::system("c"), Utc::now()).to_json(),
        )
        .unwrap();
        let with = |key: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[key] = value;
            Envelope::from_json(&v.to_string()).unwrap_err()
        };
        assert!(matches!(
            with("eventType", "ticket.deleted".into()),
            EnvelopeError::UnknownType(t) if t == "ticket.deleted"
        ));
        assert!(matches!(
            with("version", 3.into()),
            EnvelopeError::Payload(PayloadError::UnsupportedVersion {
                version: 3,
                current: 2,
                ..
            })
        ));
        assert!(matches!(
            with("data", serde_json::json!({"ticketId": "not-an-id"})),
            EnvelopeError::Payload(PayloadError::Invalid { .. })
        ));
        assert!(matches!(
            Envelope::from_json("{").unwrap_err(),
            EnvelopeError::Malformed(_)
        ));
    }
}
