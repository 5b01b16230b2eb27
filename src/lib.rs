//! QuickFix: a helpdesk backend that routes tickets to agents through events.
//!
//! The map, one job per module:
//! - [`domain`]: tickets, users, agents, events and their rules; no I/O.
//! - `store`: the [`Store`] port with its MongoDB and in-memory adapters.
//! - `bus`: the [`Publisher`] and [`Queue`] ports with SNS/SQS and in-process adapters, and the
//!   topology provisioning for LocalStack or moto.
//! - [`live`]: live notifications: the feed relay and the Socket.IO endpoint.
//! - `outbox`: the relay that publishes events stored with each change, then clears them.
//! - `auth`: password hashing (bounded), bearer tokens, sessions checked against the store.
//! - [`admin`]: `quickfix admin create`, the first admin of a deployment.
//! - `api`: the axum REST API, one router per resource (accounts, complaints, agents,
//!   notifications, operations).
//! - `config`: typed settings from flags and the environment; [`sla_file`]: the SLA policy file.
//! - `app`: wires adapters, API, worker and relay together and runs them until shutdown.
//! - [`worker`]: the SQS consumer, its handlers, the sweep and dead-letter operations.
//! - `demo`: the demo accounts `quickfix dev` starts with.
//! - `telemetry`: logs, traces and metrics.
//! - [`asyncapi`]: the AsyncAPI document of the events topic.

pub mod admin;
mod api;
pub mod app;
pub mod asyncapi;
mod auth;
mod bus;
pub mod config;
pub mod defaults;
pub mod demo;
pub mod domain;
pub mod live;
mod outbox;
pub mod replay;
pub mod sla_file;
mod store;
pub mod telemetry;
pub mod worker;

pub use api::{
    ApiDoc, ApiError, ApiLimits, AppState, CONTENT_SECURITY_POLICY, ClientAddress, ErrorBody,
    RateLimit, router,
};
pub use auth::{
    MAX_CACHE_TTL, PasswordWork, Session, Sessions, TokenClaims, TokenError, TokenKeys,
    hash_password, verify_password,
};
pub use bus::{
    AwsOptions, BusError, DeadLetterQueue, Delivery, MemoryQueue, MemoryTopic, MemoryTopology,
    PublishReport, Publisher, Queue, QueueSettings, REPLAYED_ATTRIBUTE, SnsPublisher, SqsQueue,
    Topology, TopologySpec, aws_config, provision,
};
pub use outbox::{OutboxRelay, RelayError, RelayPass, RelaySettings};
pub use store::event_log::{TIMELINE_LIMIT, ticket_timeline};
pub use store::{
    AgentSlots, Answers, EventLog, Inbox, MemoryEventLog, MemoryStore, MongoEventLog, MongoStore,
    MongoStoreOptions, Organizations, Outbox, OutboxLease, OutboxOwner, PendingEvents, ResumeToken,
    SLA_CHECK_INDEX, SlaRecord, Store, StoreError, StoreResult, StoredAnswer, TicketQuery,
    TicketStore, UserQuery, UserStore, commit_claimed,
};
