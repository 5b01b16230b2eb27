//! The metadata of the events the worker emits, each carrying the current trace: follow-ups
//! of an event it handles, and the starts of its own runs (an agent sweep, an SLA scan).

use uuid::Uuid;

use crate::domain::{Envelope, EventMetadata};
use crate::telemetry::trace::current_traceparent;

/// Metadata for an event the worker emits because of `cause`: same correlation, caused by it.
pub(crate) fn caused_by(cause: &Envelope) -> EventMetadata {
    EventMetadata::caused_by(cause).traced(current_traceparent())
}

/// Metadata for the events of one run of `kind` (`sweep`, `sla`): a causal chain of its own,
/// correlated as `{kind}-{uuid}`.
pub(crate) fn run(kind: &str) -> EventMetadata {
    EventMetadata::system(format!("{kind}-{}", Uuid::new_v4())).traced(current_traceparent())
}
