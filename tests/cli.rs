//! The `quickfix` binary as a user runs it: `dev` with its demo accounts and a clean stop on
//! SIGTERM, `api` refusing to start without its secret, `provision` creating the topology.

mod common;

use common::process::{assert_stops_cleanly_on_sigterm, quickfix, start_dev};

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

#[tokio::test]
async fn dev_serves_the_demo_accounts_and_stops_cleanly_on_sigterm() {
    let mut dev = start_dev();
    let base = dev.base.clone();

    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "customer1@quickfix.dev", "password": "quickfix"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("demo customer signs in");
    let created = client
        .post(format!("{base}/api/complaints"))
        .bearer_auth(token)
        .json(&json!({"title": "Test Ticket", "description": "Testing event-driven assignment", "category": "Technical"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ticket: Value = created.json().await.unwrap();
    let ticket_url = format!("{base}/api/complaints/{}", ticket["id"].as_str().unwrap());

    // The in-process worker assigns it live.
    let assigned = common::eventually(Duration::from_secs(30), || async {
        let t: Value = client
            .get(&ticket_url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (t["status"] == "Assigned").then_some(t)
    })
    .await
    .expect("dev assigns new tickets");
    let admin = login_token(&client, &base, "admin@quickfix.dev").await;
    let agents: Value = client
        .get(format!("{base}/api/agents"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let availability = |id: &Value| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| &a["id"] == id)
            .unwrap()["agent"]["availability"]
            .clone()
    };
    assert_eq!(availability(&assigned["assignedTo"]), "busy");
    let available = agents
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["agent"]["availability"] == "available")
        .count();
    assert_eq!(available, 2, "the other two demo agents are still free");

    assert_stops_cleanly_on_sigterm(&mut dev.child, Duration::from_secs(20));
}

async fn login_token(client: &reqwest::Client, base: &str, email: &str) -> String {
    let reply: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": "quickfix"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["token"].as_str().unwrap().to_owned()
}

#[test]
fn api_refuses_to_start_without_a_token_secret() {
    let out = quickfix()
        .args(["api", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

/// `quickfix provision` of names tagged `tag` on the emulator at `endpoint`.
fn provision(tag: &str, endpoint: &str) -> Command {
    let mut cmd = quickfix();
    cmd.arg("provision")
        .args(["--topic-name", &format!("qf-{tag}-events")])
        .args(["--queue-name", &format!("qf-{tag}-worker")])
        .args(["--dead-letter-queue-name", &format!("qf-{tag}-dlq")])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1");
    cmd
}

#[tokio::test]
async fn provision_creates_the_documented_topology() {
    let Some(endpoint) = common::aws_endpoint() else {
        return;
    };
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let out = provision(tag, &endpoint).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let setting = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing from:\n{stdout}"))
            .to_owned()
    };
    let topic_arn = setting("SNS_TOPIC_ARN");
    let queue_url = setting("SQS_QUEUE_URL");
    assert!(topic_arn.ends_with(&format!("qf-{tag}-events")));
    assert_eq!(setting("AWS_ENDPOINT_URL"), endpoint);

    let config = quickfix::aws_config(&common::aws_options(&endpoint)).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "30");
    let redrive: Value =
        serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with(&format!("qf-{tag}-dlq"))
    );

    let sns = aws_sdk_sns::Client::new(&config);
    let subscriptions = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic_arn)
        .send()
        .await
        .unwrap();
    let subscription = &subscriptions.subscriptions()[0];
    let sub_attributes = sns
        .get_subscription_attributes()
        .subscription_arn(subscription.subscription_arn().unwrap())
        .send()
        .await
        .unwrap();
    let sub_attributes = sub_attributes.attributes().unwrap();
    assert_eq!(sub_attributes["RawMessageDelivery"], "true");
    let filter: Value = serde_json::from_str(&sub_attributes["FilterPolicy"]).unwrap();
    assert_eq!(
        filter,
        json!({"eventType": quickfix::domain::WORKER_EVENT_TYPES.iter().map(|t| t.as_str()).collect::<Vec<_>>()})
    );

    // Running it again changes nothing and succeeds.
    let again = provision(tag, &endpoint).output().unwrap();
    assert!(again.status.success());
    let subscriptions = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        subscriptions.subscriptions().len(),
        1,
        "no duplicate subscription"
    );
}

#[tokio::test]
async fn the_worker_stops_cleanly_on_sigterm() {
    let (Some(mongo), Some(endpoint)) = (common::mongo_uri(), common::aws_endpoint()) else {
        return;
    };
    let spec = common::unique_spec(quickfix::domain::WORKER_EVENT_TYPES.to_vec());
    let topology = common::aws_topology(&endpoint, &spec).await;
    let db = format!("qf_test_{}", uuid::Uuid::new_v4().simple());
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickfix"))
        .arg("worker")
        .env("MONGODB_URI", &mongo)
        .env("MONGODB_DATABASE", &db)
        .env("SQS_QUEUE_URL", &topology.queue_url)
        .env("SNS_TOPIC_ARN", &topology.topic_arn)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("WORKER_WAIT_SECONDS", "20")
        .env("WORKER_METRICS_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is consuming (it logs so), then stop it in the middle of a long poll.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the worker logs that it consumes");
        lines.push(line.clone());
        if line.contains("worker consuming") {
            break;
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("redrives to its dead-letter queue")),
        "{lines:?}"
    );
    // Operators can scrape it.
    let metrics_line = lines
        .iter()
        .find(|l| l.contains("worker metrics on"))
        .expect("metrics address logged");
    let addr = metrics_line
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_stops_cleanly_on_sigterm(&mut child, Duration::from_secs(30));
}

#[tokio::test]
async fn dlq_list_shows_dead_letters_and_redrive_moves_them_back() {
    let Some(endpoint) = common::aws_endpoint() else {
        return;
    };
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let out = provision(tag, &endpoint).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let setting = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let (queue_url, dlq_url) = (
        setting("SQS_QUEUE_URL"),
        setting("SQS_DEAD_LETTER_QUEUE_URL"),
    );
    let config = quickfix::aws_config(&common::aws_options(&endpoint)).await;
    let dlq = quickfix::SqsQueue::new(&config, &dlq_url);
    let body = json!({"eventType": "ticket.created", "data": {"ticketId": "0199aaaa-0000-7000-8000-000000000001"}});
    let attributes = vec![
        ("eventType".to_owned(), "ticket.created".to_owned()),
        (
            "reason".to_owned(),
            "unsupported event version 9".to_owned(),
        ),
    ];
    quickfix::Queue::send(&dlq, &body.to_string(), &attributes)
        .await
        .unwrap();

    let dlq_cmd = |action: &str| {
        quickfix()
            .args(["dlq", action])
            .env("SQS_QUEUE_URL", &queue_url)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let listed = dlq_cmd("list");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{text}");
    assert!(text.contains("ticket.created"), "{text}");
    assert!(
        text.contains("0199aaaa-0000-7000-8000-000000000001"),
        "{text}"
    );
    assert!(text.contains("unsupported event version 9"), "{text}");
    assert!(
        text.contains("1 message(s) in the dead-letter queue"),
        "{text}"
    );

    let redriven = dlq_cmd("redrive");
    let text = String::from_utf8_lossy(&redriven.stdout);
    assert!(redriven.status.success(), "{text}");
    assert!(
        text.contains("moved 1 message(s) back to the worker queue"),
        "{text}"
    );
    let queue = quickfix::SqsQueue::new(&config, &queue_url);
    let back = common::collect_bodies(&queue, 1, Duration::from_secs(20)).await;
    assert_eq!(back, vec![body.to_string()]);
    let empty = dlq_cmd("list");
    assert!(String::from_utf8_lossy(&empty.stdout).contains("0 message(s)"));
}
