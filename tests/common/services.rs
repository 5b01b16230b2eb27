//! The real services the tests may use (MongoDB, the SNS/SQS emulator, Node.js, Chromium,
//! Terraform's Python, compose): each is `None` (skip, with a message) outside CI when its
//! variable is unset, and a failure under `CI=true`. Fresh resources on them: a database, a
//! topology with names unique to the test. `on_both_stores!` runs a test on each store.

use quickfix::domain::EventType;
use quickfix::{
    AwsOptions, MongoStore, MongoStoreOptions, Topology, TopologySpec, aws_config, provision,
};

/// Whether the tests run in CI (`CI=true` or `CI=1`): a missing service fails, not skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn service(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if in_ci() => panic!(
            "CI=true but {var} is not set: the {what} tests must run in CI (scripts/test.sh starts it)"
        ),
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set, so the {what} tests do not run here; scripts/test.sh starts {what} and sets it"
            );
            None
        }
    }
}

/// The MongoDB-compatible server for tests, or `None` (skip) outside CI.
pub fn mongo_uri() -> Option<String> {
    service("QUICKFIX_TEST_MONGODB_URI", "MongoDB")
}

/// The folder of the Node.js end-to-end checks with their packages installed, or `None`
/// (skip) outside CI.
pub fn e2e_dir() -> Option<String> {
    service("QUICKFIX_TEST_E2E_DIR", "Node.js end-to-end")
}

/// A Python with python-hcl2 (the Terraform checks), or `None` (skip) outside CI.
pub fn python_with_hcl2() -> Option<String> {
    service("QUICKFIX_TEST_PYTHON", "Terraform")
}

/// The compose command (`docker compose` or `docker-compose`), or `None` (skip) outside CI.
pub fn compose() -> Option<String> {
    service("QUICKFIX_TEST_COMPOSE", "docker compose")
}

/// The Chromium binary for the browser test, or `None` (skip) outside CI.
pub fn chromium() -> Option<String> {
    service("QUICKFIX_TEST_CHROMIUM", "browser")
}

/// The SNS/SQS emulator endpoint for tests, or `None` (skip) outside CI.
pub fn aws_endpoint() -> Option<String> {
    service("QUICKFIX_TEST_AWS_ENDPOINT", "SNS/SQS")
}

/// A fresh database on the test server.
pub async fn mongo_store() -> Option<MongoStore> {
    let uri = mongo_uri()?;
    let db = format!("qf_test_{}", uuid::Uuid::new_v4().simple());
    Some(
        MongoStore::connect(&uri, &db, MongoStoreOptions::default())
            .await
            .expect("connect to the test MongoDB"),
    )
}

/// AWS options for the emulator at `endpoint`.
pub fn aws_options(endpoint: &str) -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        region: Some("us-east-1".into()),
    }
}

/// A spec with names unique to this test, subscribed to `event_types`.
pub fn unique_spec(event_types: Vec<EventType>) -> TopologySpec {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
    TopologySpec {
        topic_name: format!("qf-{tag}-events"),
        queue_name: format!("qf-{tag}-worker"),
        dead_letter_queue_name: format!("qf-{tag}-dlq"),
        event_types,
        ..TopologySpec::default()
    }
}

/// A fresh topology on the emulator.
pub async fn aws_topology(endpoint: &str, spec: &TopologySpec) -> Topology {
    let config = aws_config(&aws_options(endpoint)).await;
    provision(&config, spec)
        .await
        .expect("provision the test topology")
}

/// Generates one `#[tokio::test]` per store adapter (memory, MongoDB with a fresh database)
/// for each listed async test function taking an `Arc<dyn Store>`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(std::sync::Arc::new(quickfix::MemoryStore::new())).await;
                }
            )+
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = $crate::common::mongo_store().await else { return };
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }
    };
}
