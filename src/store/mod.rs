//! The store: one port per job, each with a MongoDB adapter for production and a memory
//! adapter for `dev` and tests.
//!
//! - [`TicketStore`] holds tickets, their numbering and the worker's and SLA scan's queries;
//! - [`UserStore`] holds accounts;
//! - [`Organizations`] holds the customers' organizations;
//! - [`AgentSlots`] claims and releases agents' slots, atomically;
//! - [`Inbox`] holds notifications;
//! - [`Outbox`] holds the events each write stores, and the relays' leases on them;
//! - [`Answers`] holds stored answers to requests with an `Idempotency-Key`;
//! - [`EventLog`] holds every published event, searchable and replayable.
//!
//! [`Store`] is all of them on one database. Both adapters keep the same promises, checked by
//! one contract suite (`tests/store_contract*.rs`, `tests/event_log.rs`): unique complaint ids,
//! emails and organization names, conditional (revision-checked) updates, atomic slot claims,
//! and an outbox whose events are written in the same document write as the change they
//! describe.

mod answers;
pub mod event_log;
mod inbox;
mod memory;
mod mongo;
mod organizations;
mod outbox;
mod retry;
mod slots;
mod tickets;
mod users;

use async_trait::async_trait;

pub use answers::{Answers, IDEMPOTENCY_KEY, StoredAnswer};
pub use event_log::EventLog;
pub use inbox::{Inbox, NotificationStream, ResumeToken};
pub use memory::{MemoryEventLog, MemoryStore};
pub use mongo::{MongoEventLog, MongoStore, MongoStoreOptions, SLA_CHECK_INDEX};
pub use organizations::Organizations;
pub use outbox::{Outbox, OutboxLease, OutboxOwner, PendingEvents};
pub use retry::{Attempt, CONFLICT_ATTEMPTS, retry_on_conflict};
pub use slots::{AgentSlots, commit_claimed};
pub use tickets::{SlaRecord, TicketQuery, TicketStore};
pub use users::{UserQuery, UserStore};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (the API answers 503).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A unique field already holds this value (the API answers 409 naming the field).
    #[error("{field} is already taken")]
    Conflict {
        /// The field, as the API names it (`email`, `Idempotency-Key`).
        field: &'static str,
    },
    /// A document the operation needs is not there (any more).
    #[error("{what} not found")]
    NotFound {
        /// Which document.
        what: &'static str,
    },
    /// A stored document could not be read back into the domain.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which kind of document.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other database failure.
    #[error("store operation failed: {0}")]
    Other(String),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// The whole store: every port, on one database. Each caller names the ports it uses.
#[async_trait]
pub trait Store:
    TicketStore + UserStore + Organizations + AgentSlots + Inbox + Outbox + Answers
{
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// The log of published events, kept in the same database.
    fn event_log(&self) -> std::sync::Arc<dyn EventLog>;
}
