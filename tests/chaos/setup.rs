//! Bringing the chaos deployment up as an operator would: the topology through `quickfix
//! provision`, the first admin through `quickfix admin create`, two APIs and three workers, a
//! queue that observes the topic, then the agents and customers through the API.

use std::collections::HashMap;
use std::sync::Arc;

use quickfix::domain::EventType;
use quickfix::{SqsQueue, TopologySpec};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::client::{Apis, Request};
use crate::cluster::{Cluster, Settings};
use crate::common::process::{free_port, quickfix};
use crate::observer::Observer;
use crate::run::Person;
use crate::{ADMIN_EMAIL, AGENTS, CUSTOMERS, LEASE_SECONDS, PASSWORD};

/// The deployment under test, with the queues the checks read.
pub struct Deployment {
    pub cluster: Arc<Cluster>,
    /// Reads every event on the topic in the background.
    pub observer: Arc<Observer>,
    pub observer_task: tokio::task::JoinHandle<()>,
    /// The worker queue's dead-letter queue.
    pub dead_letters: SqsQueue,
}

/// The SNS/SQS emulator's process id (it is frozen and thawed), or `None` (skip) outside CI.
pub fn aws_pid() -> Option<u32> {
    match std::env::var("QUICKFIX_TEST_AWS_PID") {
        Ok(v) if !v.is_empty() => Some(
            v.trim()
                .parse()
                .expect("QUICKFIX_TEST_AWS_PID is a process id"),
        ),
        _ if crate::common::in_ci() => panic!(
            "CI=true but QUICKFIX_TEST_AWS_PID is not set: the chaos suite must run in CI (scripts/test.sh starts the emulator and sets it)"
        ),
        _ => {
            eprintln!(
                "SKIPPED: QUICKFIX_TEST_AWS_PID is not set, so the chaos suite does not run here; scripts/test.sh starts the emulator and sets it"
            );
            None
        }
    }
}

/// Provisions the topology and an observer queue on it under names tagged `tag`, creates the
/// first admin, and starts `api-1`, `api-2` and `worker-1` to `worker-3`; returns once all are
/// ready.
pub async fn deploy(tag: &str, mongo_uri: String, endpoint: String) -> Deployment {
    // The topology, as an operator creates it.
    let topology = provision_cli(tag, &endpoint);
    let aws = quickfix::aws_config(&crate::common::aws_options(&endpoint)).await;
    let observer_topology = quickfix::provision(
        &aws,
        &TopologySpec {
            topic_name: format!("qf-{tag}-events"),
            queue_name: format!("qf-{tag}-observer"),
            dead_letter_queue_name: format!("qf-{tag}-observer-dlq"),
            event_types: EventType::ALL.to_vec(),
            ..TopologySpec::default()
        },
    )
    .await
    .expect("provision the observer queue");
    let (observer, observer_task) =
        Observer::spawn(SqsQueue::new(&aws, &observer_topology.queue_url));

    let settings = Settings {
        mongo_uri,
        database: format!("qf_chaos_{tag}"),
        endpoint: endpoint.clone(),
        topic_arn: topology["SNS_TOPIC_ARN"].clone(),
        queue_url: topology["SQS_QUEUE_URL"].clone(),
        jwt_secret: format!(
            "chaos-{}{}",
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple()
        ),
        lease_seconds: LEASE_SECONDS,
        log_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chaos-{tag}")),
        extra_env: Vec::new(),
    };
    create_admin(&settings);
    let cluster = Arc::new(Cluster::new(settings, vec![free_port(), free_port()]));
    println!("[chaos] logs in {}", cluster.log_dir().display());
    cluster.start_api("api-1", 0);
    cluster.start_api("api-2", 1);
    for n in 1..=3 {
        cluster.start_worker(&format!("worker-{n}"));
    }
    tokio::join!(
        cluster.wait_api_ready("api-1", 0),
        cluster.wait_api_ready("api-2", 1),
        cluster.wait_worker_ready("worker-1"),
        cluster.wait_worker_ready("worker-2"),
        cluster.wait_worker_ready("worker-3"),
    );

    let dead_letters = SqsQueue::new(&aws, &topology["SQS_DEAD_LETTER_QUEUE_URL"]);
    Deployment {
        cluster,
        observer,
        observer_task,
        dead_letters,
    }
}

/// `quickfix provision` of names tagged `tag`; its settings by name.
pub fn provision_cli(tag: &str, endpoint: &str) -> HashMap<String, String> {
    let out = quickfix()
        .arg("provision")
        .args(["--topic-name", &format!("qf-{tag}-events")])
        .args(["--queue-name", &format!("qf-{tag}-worker")])
        .args(["--dead-letter-queue-name", &format!("qf-{tag}-dlq")])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("run quickfix provision");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "provision failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// `quickfix admin create`, as an operator makes the first admin.
pub fn create_admin(settings: &Settings) {
    let out = quickfix()
        .args(["admin", "create", "--email", ADMIN_EMAIL, "--name", "Admin"])
        .env("MONGODB_URI", &settings.mongo_uri)
        .env("MONGODB_DATABASE", &settings.database)
        .env("QUICKFIX_ADMIN_PASSWORD", PASSWORD)
        .output()
        .expect("run quickfix admin create");
    assert!(
        out.status.success(),
        "admin create failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Signs the admin in, creates the agents (online) and registers the customers.
pub async fn people(apis: &Apis) -> (Person, Vec<Person>, Vec<Person>) {
    let (token, id) = apis.login(ADMIN_EMAIL, PASSWORD).await;
    let admin = Person {
        name: "Admin".into(),
        id,
        token,
    };
    let mut agents = Vec::new();
    for (i, (name, skills, capacity)) in AGENTS.iter().enumerate() {
        let email = format!("{}@chaos.test", name.to_lowercase());
        let body = json!({
            "name": name, "email": email, "password": PASSWORD, "role": "agent",
            "skills": skills, "capacity": capacity, "presence": "online",
        });
        apis.send(
            i,
            &Request::with_body(Method::POST, "/api/users", Some(&admin.token), &body),
        )
        .await
        .expect(201);
        let (token, id) = apis.login(&email, PASSWORD).await;
        agents.push(Person {
            name: (*name).to_owned(),
            id,
            token,
        });
    }
    let mut customers = Vec::new();
    for n in 1..=CUSTOMERS {
        let name = format!("Customer {n}");
        let body =
            json!({"name": name, "email": format!("customer{n}@chaos.test"), "password": PASSWORD});
        let session = apis
            .send(
                n,
                &Request::with_body(Method::POST, "/api/auth/register", None, &body),
            )
            .await
            .expect(201);
        customers.push(Person {
            name,
            id: session["user"]["id"].as_str().unwrap().to_owned(),
            token: session["token"].as_str().unwrap().to_owned(),
        });
    }
    (admin, agents, customers)
}
