//! The default of every setting, in one place. The command line (`config`) shows and applies
//! them; the runtime settings' `Default` impls (`ConsumerSettings`, `RelaySettings`,
//! `TopologySpec`, `AccessSettings`) are built from the same constants, so an embedded
//! QuickFix and a `quickfix` process started without settings behave alike.

use crate::domain::Priority;

/// `QUICKFIX_ADDR`: where the API listens.
pub const ADDR: &str = "127.0.0.1:5001";
/// `QUICKFIX_CATEGORIES`: the ticket categories.
pub const CATEGORIES: &str = "Technical,Billing,Account,General";
/// `QUICKFIX_BODY_LIMIT_BYTES`: the largest request body.
pub const BODY_LIMIT_BYTES: usize = 65_536;
/// `QUICKFIX_DEMO_PASSWORD`: the password of `dev`'s demo accounts.
pub const DEMO_PASSWORD: &str = "quickfix";

/// `JWT_TTL_SECONDS`: how long a bearer token stays valid (8 hours).
pub const JWT_TTL_SECONDS: u64 = 28_800;
/// `QUICKFIX_AUTH_CACHE_SECONDS`: how long an account's role and state are cached.
pub const AUTH_CACHE_SECONDS: u64 = 5;
/// `QUICKFIX_SESSION_CHECK_SECONDS`: how often live sockets are checked for ended sessions.
pub const SESSION_CHECK_SECONDS: u64 = 5;
/// `QUICKFIX_HASH_WAIT_MS`: how long a sign-in waits for a hashing slot.
pub const HASH_WAIT_MS: u64 = 500;
/// `QUICKFIX_CUSTOMER_MAX_PRIORITY`: the highest priority a customer may choose.
pub const CUSTOMER_MAX_PRIORITY: Priority = Priority::High;

/// `QUICKFIX_RATE_LIMIT_PER_SECOND`: requests per second per client address.
pub const RATE_LIMIT_PER_SECOND: u32 = 50;
/// `QUICKFIX_RATE_LIMIT_BURST`: requests per client address back to back.
pub const RATE_LIMIT_BURST: u32 = 100;
/// `QUICKFIX_SIGN_IN_PER_MINUTE`: sign-ins per minute per client address.
pub const SIGN_IN_PER_MINUTE: u32 = 20;
/// `QUICKFIX_SIGN_IN_BURST`: sign-ins per client address back to back.
pub const SIGN_IN_BURST: u32 = 10;
/// `QUICKFIX_ACCOUNT_FAILURES_BURST`: failed sign-ins on one account before they slow down.
pub const ACCOUNT_FAILURES_BURST: u32 = 5;
/// `QUICKFIX_ACCOUNT_FAILURES_PER_MINUTE`: failed sign-ins per minute on one account after that.
pub const ACCOUNT_FAILURES_PER_MINUTE: u32 = 1;
/// `QUICKFIX_SOCKET_CONNECTS_PER_MINUTE`: Socket.IO connects per minute per client address.
pub const SOCKET_CONNECTS_PER_MINUTE: u32 = 60;
/// `QUICKFIX_SOCKET_CONNECTS_BURST`: Socket.IO connects per client address back to back.
pub const SOCKET_CONNECTS_BURST: u32 = 20;
/// `QUICKFIX_REQUEST_TIMEOUT_SECONDS`: how long a request may run.
pub const REQUEST_TIMEOUT_SECONDS: u64 = 15;
/// `QUICKFIX_MAX_IN_FLIGHT`: requests handled at once.
pub const MAX_IN_FLIGHT: usize = 512;
/// `QUICKFIX_IDEMPOTENCY_HOURS`: how long an answer to an `Idempotency-Key` is kept.
pub const IDEMPOTENCY_HOURS: u64 = 24;

/// `MONGODB_DATABASE`: the database name.
pub const MONGODB_DATABASE: &str = "quickfix";
/// `MONGODB_TIMEOUT_MS`: how long to wait for MongoDB.
pub const MONGODB_TIMEOUT_MS: u64 = 5000;
/// `EVENT_LOG_RETENTION_DAYS`: how long the event log keeps an event.
pub const EVENT_LOG_RETENTION_DAYS: u64 = 90;

/// `OUTBOX_SWEEP_INTERVAL_MS`: the longest the outbox relay waits between sweeps.
pub const OUTBOX_SWEEP_INTERVAL_MS: u64 = 2000;
/// `OUTBOX_LEASE_SECONDS`: how long a relay's claim on a document lasts.
pub const OUTBOX_LEASE_SECONDS: u64 = 30;
/// `OUTBOX_BATCH_SIZE`: documents the relay reads per round.
pub const OUTBOX_BATCH_SIZE: usize = 100;

/// `WORKER_CONCURRENCY`: messages handled at once.
pub const WORKER_CONCURRENCY: usize = 10;
/// `WORKER_WAIT_SECONDS`: how long a receive long-polls.
pub const WORKER_WAIT_SECONDS: u64 = 20;
/// `WORKER_VISIBILITY_TIMEOUT_SECONDS`: the worker queue's visibility timeout.
pub const WORKER_VISIBILITY_TIMEOUT_SECONDS: u64 = 30;
/// `WORKER_BACKOFF_SECONDS`: the first retry delay of a failed message.
pub const WORKER_BACKOFF_SECONDS: u64 = 2;
/// The longest retry delay of a failed message, in seconds.
pub const WORKER_BACKOFF_MAX_SECONDS: u64 = 300;
/// Messages asked for per receive (SQS allows 1 to 10).
pub const WORKER_RECEIVE_BATCH: usize = 10;
/// `WORKER_SWEEP_INTERVAL_SECONDS`: time between sweeps of stale slots and the backlog.
pub const WORKER_SWEEP_INTERVAL_SECONDS: u64 = 30;
/// `WORKER_HOLD_GRACE_SECONDS`: how long a slot may be held for a ticket the agent lacks.
pub const WORKER_HOLD_GRACE_SECONDS: u64 = 60;
/// `QUICKFIX_SHUTDOWN_GRACE_SECONDS`: time a stopping API gives requests, sockets and the last
/// outbox pass (inside the task definition's `stopTimeout` of 60 s).
pub const SHUTDOWN_GRACE_SECONDS: u64 = 20;
/// `WORKER_SHUTDOWN_GRACE_SECONDS`: time to finish in-flight messages after SIGTERM.
pub const WORKER_SHUTDOWN_GRACE_SECONDS: u64 = 30;
/// `WORKER_ESCALATION_INTERVAL_SECONDS`: time between escalation scans.
pub const WORKER_ESCALATION_INTERVAL_SECONDS: u64 = 30;
/// `WORKER_METRICS_ADDR`: the standalone worker's `/metrics` and `/healthz`.
pub const WORKER_METRICS_ADDR: &str = "127.0.0.1:9091";
/// `QUICKFIX_PRIORITY_RULES`: the prioritisation rules.
pub const PRIORITY_RULES: &str = "outage:Critical,down:Critical,urgent:High";
/// `QUICKFIX_REQUEUE_ON_OFFLINE`: requeue an agent's unstarted tickets when it goes offline.
pub const REQUEUE_ON_OFFLINE: bool = true;

/// `QUICKFIX_TOPIC_NAME`: the SNS topic `provision` creates.
pub const TOPIC_NAME: &str = "quickfix-events";
/// `QUICKFIX_QUEUE_NAME`: the worker queue `provision` creates.
pub const QUEUE_NAME: &str = "quickfix-worker";
/// `QUICKFIX_DLQ_NAME`: the dead-letter queue `provision` creates.
pub const DEAD_LETTER_QUEUE_NAME: &str = "quickfix-worker-dlq";
/// `QUICKFIX_MAX_RECEIVE_COUNT`: receives before a message is dead-lettered.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// `QUICKFIX_VISIBILITY_TIMEOUT_SECONDS`: the visibility timeout `provision` gives the queue.
pub const QUEUE_VISIBILITY_TIMEOUT_SECONDS: u64 = 30;
/// How long the dead-letter queue keeps messages (14 days, the SQS maximum).
pub const DEAD_LETTER_RETENTION_SECONDS: u64 = 14 * 24 * 3600;

/// `quickfix dlq list --max`: dead letters shown.
pub const DLQ_LIST_MAX: usize = 100;
/// `quickfix events tail --poll-ms`: time between polls of the event log.
pub const TAIL_POLL_MS: u64 = 1000;
