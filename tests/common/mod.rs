//! Shared test harness, one module per topic:
//! - `services`: which real services are available (skip outside CI, fail in CI), a fresh
//!   database and topology on them, and `on_both_stores!`;
//! - `app`: `spawn_app` on either backend, with the demo accounts, and `on_both_backends!`;
//! - `requests`: typed requests and sessions against a test app, and the replies' assertions;
//! - `events`: observing the events a queue receives, and building events by hand;
//! - `publisher`: a publisher that can be switched off to simulate an outage;
//! - `system`: the API and workers on one backend's worker queue (`on_both_backends_system!`);
//! - `escalation`: a store, a manual clock and a worker context to run the escalation scan;
//! - `fixtures`: records written straight to a store for the store contract suite;
//! - `commands`: counting the commands a MongoDB client sends (the driver's command monitoring);
//! - `faulty_store`: a store that freezes on its first ticket update, like a worker killed
//!   mid-handler;
//! - `process`: the `quickfix` binary as a child process;
//! - `proxy`: a TCP forwarder that refuses connections until started, like a service that is
//!   down;
//! - `socket`: a Socket.IO client that records what it hears.
//!
//! Everything is re-exported here, so tests write `common::spawn_app`, `common::Backend`.
#![allow(dead_code)]

pub mod app;
pub mod commands;
pub mod escalation;
pub mod events;
pub mod faulty_store;
pub mod fixtures;
pub mod process;
pub mod proxy;
pub mod publisher;
pub mod requests;
pub mod services;
pub mod socket;
pub mod system;

use std::time::Duration;

// Each test binary uses only some of the re-exports; the rest would warn as unused imports.
#[allow(unused_imports)]
pub use app::{
    AppOptions, Backend, TestApp, backends, embedded_app_with, seed, spawn_app, spawn_app_with,
    spawn_app_with_policy, start, start_configured, start_without_seed, test_access,
};
#[allow(unused_imports)]
pub use events::{collect_bodies, collect_events, envelope, logged, some_event, wire_event};
#[allow(unused_imports)]
pub use publisher::SwitchablePublisher;
#[allow(unused_imports)]
pub use requests::{Reply, Session, assert_error};
#[allow(unused_imports)]
pub use services::{
    aws_endpoint, aws_options, aws_topology, chromium, compose, e2e_dir, in_ci, mongo_store,
    mongo_uri, python_with_hcl2, unique_spec,
};

/// Password of the demo accounts every test app starts with.
pub const PASSWORD: &str = "quickfix";
/// Secret that signs the test apps' tokens.
pub const JWT_SECRET: &str = "test-secret-for-quickfix-tests";
/// How long a test app's stop waits for what is still running before aborting it.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Polls `check` until it returns `Some` or `deadline` passes.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
