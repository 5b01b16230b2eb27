use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
}

/// The event types the worker queue subscribes to (its SNS filter policy): those it routes on,
/// and those that notify someone.
pub const WORKER_EVENT_TYPES: [EventType; 8] = [
    EventType::TicketCreated,
    EventType::TicketResolved,
    EventType::AgentAvailabilityChanged,
    EventType::TicketAssigned,
    EventType::TicketStatusChanged,
    EventType::TicketRequeued,
    EventType::TicketEscalated,
    EventType::SlaBreach,
];

impl EventType {
    /// All event types, in documentation order.
    pub const ALL: [EventType; 10] = [
        EventType::TicketCreated,
        EventType::TicketAssigned,
        EventType::TicketStatusChanged,
        EventType::TicketResolved,
        EventType::TicketEscalated,
        EventType::TicketRequeued,
        EventType::AgentAvailabilityChanged,
        EventType::PrioritizationApplied,
        EventType::SlaWarning,
        EventType::SlaBreach,
    ];

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The SNS message body: one event, as documented in DESIGN.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Unique per event; consumers use it to spot duplicates.
    pub event_id: Uuid,
    /// What happened.
    pub event_type: EventType,
    /// Schema version of `data`.
    pub version: u32,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The event's payload; its fields depend on `event_type`.
    pub data: serde_json::Value,
    /// Correlation, causation and actor.
    pub metadata: EventMetadata,
}

impl Envelope {
    /// The schema version this build writes.
    pub const VERSION: u32 = 1;

    /// Wraps `data` in a new envelope.
    ///
    /// # Panics
    /// If `data` cannot be represented as JSON, which would be a bug in a payload type.
    pub fn new(
        event_type: EventType,
        data: impl Serialize,
        metadata: EventMetadata,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            event_type,
            version: Self::VERSION,
            timestamp,
            data: serde_json::to_value(data).expect("BUG: event payload is not JSON"),
            metadata,
        }
    }

    /// The JSON text published to SNS.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("BUG: envelope is not JSON")
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
        let e = Envelope::new(
            EventType::TicketCreated,
            serde_json::json!({"a": 1}),
            meta,
            Utc::now(),
        );
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
    }
}
