//! The helpdesk's vocabulary: tickets, people, events and the rules that bind them.
//!
//! Nothing here does I/O. Every type that carries user input is built through a `parse` function
//! that validates it, so the rest of QuickFix never re-checks a title, an email or a category.

mod assignment;
mod calendar;
mod clock;
mod conversation;
mod error;
mod event;
mod named;
mod notification;
mod organization;
mod routing;
mod sla;
mod status;
mod ticket;
mod user;

pub use assignment::RoutingKey;
pub use calendar::{BusinessHours, Calendar};
pub use clock::{Clock, ManualClock, SystemClock};
pub use conversation::{
    ConversationError, MAX_MESSAGES, Message, MessageBody, MessageId, Visibility,
};
pub use error::ValidationError;
pub use event::payload::{
    AgentAvailabilityChanged, BreachAcknowledged, MessageAdded, PrioritizationApplied, SlaAlert,
    TicketAssigned, TicketCreated, TicketEscalated, TicketReassigned, TicketRequeued,
    TicketResolved, TicketStatusChanged, payload_schema,
};
pub use event::{
    BadCursor, DEFAULT_RETENTION, Envelope, EnvelopeError, Event, EventCursor, EventMetadata,
    EventQuery, EventType, LoggedEvent, PayloadError, TicketAsOf, UnknownEventType,
    WORKER_EVENT_TYPES, causal_order, to_micros,
};
pub use notification::{Notification, NotificationKind};
pub use organization::{MAX_ORGANIZATION_NAME, Organization, OrganizationId};
pub use routing::{PriorityRule, PriorityRules};
pub use sla::{
    Compliance, EscalationAction, EscalationRule, EscalationStep, MAX_TERM_NAME, Mark, Outcome,
    SlaMark, SlaPolicy, SlaTarget, SlaTerms, TargetClock, Targets, TicketSla, check_term_name,
    default_rules, humanize,
};
pub use status::{Priority, Status};
pub use ticket::{
    AcceptanceStep, AcknowledgeError, AssignError, Categories, Category, ComplaintId, Description,
    HistoryEntry, HistoryKind, NewTicket, StatusChangeError, Ticket, TicketId, TicketRef, Title,
};
pub use user::{
    AgentProfile, Availability, Email, Password, PasswordHash, PersonName, Presence, Principal,
    Role, SlotHold, Tier, User, UserId,
};
