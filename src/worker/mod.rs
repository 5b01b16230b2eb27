//! The worker: consumes the worker queue and turns events into routing decisions.
//!
//! - `consumer`: receive, handle with bounded concurrency and a visibility heartbeat, delete;
//!   retries with backoff; poison to the dead-letter queue.
//! - `handlers`: one per event type (`ticket.created`, `ticket.resolved`,
//!   `agent.availability_changed`, and the notifications).
//! - `routing`: claim-then-assign, backlog draining, requeueing.
//! - `sweep`: periodic repair of slots and backlog.
//! - `escalation`: the SLA scan: warnings, breaches and escalation rules.
//! - `dead_letters`: list and redrive the dead-letter queue.

mod consumer;
pub mod dead_letters;
mod escalation;
mod handlers;
mod metadata;
mod routing;
mod sweep;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::domain::{Clock, PriorityRules, SlaPolicy};
use crate::store::Store;

pub use consumer::{ConsumerSettings, StepReport, Worker, retry_delay};
pub use escalation::{ScanReport, run_escalations, scan};
pub use handlers::{HandlerError, dispatch};
pub use sweep::{SweepReport, run_sweeps, sweep};

/// What every handler works with.
#[derive(Clone)]
pub struct Context {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Prioritisation rules applied to new tickets.
    pub rules: PriorityRules,
    /// SLA targets and escalation rules.
    pub sla: Arc<SlaPolicy>,
    /// Wakes this process's outbox relay after a write with events.
    pub outbox: Arc<Notify>,
    /// Whether an agent going offline has their not-yet-started tickets requeued.
    pub requeue_on_offline: bool,
}

impl Context {
    /// Raises `ticket`'s priority by the best matching prioritisation rule, if that raises it,
    /// and returns the `automation.prioritization_applied` event to store with the change.
    /// Idempotent (priorities only go up), so whoever takes a ticket from the backlog first,
    /// its `ticket.created` handler or a drain, applies the rules exactly once.
    pub fn apply_rules(
        &self,
        ticket: &mut crate::domain::Ticket,
        now: chrono::DateTime<chrono::Utc>,
        cause: crate::domain::EventMetadata,
    ) -> Option<crate::domain::Envelope> {
        let rule = self
            .rules
            .best_match(ticket.title.as_str(), ticket.description.as_str())?;
        ticket.raise_priority(rule.priority, &rule.keyword, &self.sla, now, cause)
    }
}
