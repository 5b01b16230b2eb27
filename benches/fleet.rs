//! Fleet benchmark: 1, 2 and 4 `quickfix worker` processes on the MongoDB-compatible server and
//! the SNS/SQS emulator (`QUICKFIX_TEST_MONGODB_URI`, `QUICKFIX_TEST_AWS_ENDPOINT`, set by
//! scripts/bench.sh). Each run writes `FLEET_TICKETS` (400) tickets the way the API does (ticket
//! and `ticket.created` in one write) straight into the store; the workers' outbox relays
//! publish them, the workers assign them to 20 agents with 50 slots each. Printed per run:
//! throughput from the first write to the last assignment and its ratio to one worker,
//! publishes per event (every message a queue subscribed to the whole topic received, over the
//! distinct event ids), and creation → assignment p50/p95 across the processes.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use quickfix::domain::{
    Categories, ComplaintId, Description, EventType, NewTicket, Priority, SlaPolicy, Status,
    Ticket, Title, UserId, WORKER_EVENT_TYPES,
};
use quickfix::{
    AwsOptions, MongoStore, MongoStoreOptions, Queue, SqsQueue, Store, TicketQuery, TopologySpec,
    aws_config, provision,
};
use support::{meta, percentile, seed_agents};

const WORKER_COUNTS: [usize; 3] = [1, 2, 4];

/// Worker processes, killed when dropped (also when the benchmark panics).
struct Fleet(Vec<Child>);

impl Fleet {
    /// SIGTERM to every worker, then waits: each publishes what its last handlers wrote.
    fn stop(mut self) {
        for child in &self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Row {
    workers: usize,
    tickets: usize,
    seconds: f64,
    messages: usize,
    events: usize,
    p50: f64,
    p95: f64,
}

/// Starts `n` workers and waits until each says it consumes.
fn start_workers(n: usize, env: &[(&str, String)]) -> Fleet {
    let mut fleet = Fleet(Vec::new());
    for _ in 0..n {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_quickfix"));
        cmd.arg("worker")
            .env_remove("JWT_SECRET")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("quickfix worker starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("QuickFix worker started") {
                    let _ = tx.send(());
                }
            }
        });
        fleet.0.push(child);
        rx.recv_timeout(Duration::from_secs(120))
            .expect("the worker says it consumes");
    }
    fleet
}

async fn run(workers: usize, mongo_uri: &str, endpoint: &str, tickets: usize) -> Row {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let db = format!("qf_fleet_{tag}");
    let store: Arc<dyn Store> = Arc::new(
        MongoStore::connect(mongo_uri, &db, MongoStoreOptions::default())
            .await
            .expect("connect"),
    );
    seed_agents(store.as_ref(), "fleet.dev").await;
    let aws = aws_config(&AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        region: Some("us-east-1".into()),
    })
    .await;
    let spec = TopologySpec {
        topic_name: format!("qf-{tag}-events"),
        queue_name: format!("qf-{tag}-worker"),
        dead_letter_queue_name: format!("qf-{tag}-dlq"),
        event_types: WORKER_EVENT_TYPES.to_vec(),
        ..TopologySpec::default()
    };
    let topology = provision(&aws, &spec).await.expect("provision");
    let observer_spec = TopologySpec {
        queue_name: format!("qf-{tag}-observer"),
        dead_letter_queue_name: format!("qf-{tag}-observer-dlq"),
        event_types: EventType::ALL.to_vec(),
        ..spec.clone()
    };
    let observer = provision(&aws, &observer_spec).await.expect("observer");
    let observer = SqsQueue::new(&aws, &observer.queue_url);

    let env = [
        ("MONGODB_URI", mongo_uri.to_owned()),
        ("MONGODB_DATABASE", db.clone()),
        ("SNS_TOPIC_ARN", topology.topic_arn.clone()),
        ("SQS_QUEUE_URL", topology.queue_url.clone()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("WORKER_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("WORKER_WAIT_SECONDS", "1".to_owned()),
        ("OUTBOX_SWEEP_INTERVAL_MS", "100".to_owned()),
    ];
    let fleet = start_workers(workers, &env);

    let started = Instant::now();
    let category = Categories::default().parse("category", "General").unwrap();
    for n in 0..tickets {
        let seq = store.next_complaint_number().await.unwrap();
        let new = NewTicket {
            title: Title::parse(&format!("Fleet ticket {n}")).unwrap(),
            description: Description::parse("d").unwrap(),
            category: category.clone(),
            priority: Priority::Medium,
            terms: Default::default(),
        };
        let (ticket, event) = Ticket::open(
            new,
            ComplaintId::from_sequence(seq),
            UserId::generate(),
            &SlaPolicy::default(),
            Utc::now(),
            meta(),
        );
        store.insert_ticket(&ticket, &[event]).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    while store.count_open_tickets().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "tickets were not all assigned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    fleet.stop();

    let query = TicketQuery {
        status: Some(Status::Assigned),
        limit: tickets,
        ..TicketQuery::default()
    };
    let mut latencies: Vec<f64> = store
        .list_tickets(&query)
        .await
        .unwrap()
        .iter()
        .filter_map(|t| {
            t.assigned_at
                .map(|a| (a - t.created_at).num_milliseconds() as f64)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);

    // Everything the topic carried: ticket.created and ticket.assigned for each ticket.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(5) {
        let batch = observer
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive");
        if batch.is_empty() {
            continue;
        }
        quiet_since = Instant::now();
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        for d in batch {
            let e: quickfix::domain::Envelope = serde_json::from_str(&d.body).unwrap();
            *seen.entry(e.event_id.to_string()).or_default() += 1;
        }
        observer.delete(&receipts).await.expect("delete");
    }
    Row {
        workers,
        tickets: latencies.len(),
        seconds,
        messages: seen.values().sum(),
        events: seen.len(),
        p50: percentile(&latencies, 50.0),
        p95: percentile(&latencies, 95.0),
    }
}

#[tokio::main]
async fn main() {
    let (Ok(mongo_uri), Ok(endpoint)) = (
        std::env::var("QUICKFIX_TEST_MONGODB_URI"),
        std::env::var("QUICKFIX_TEST_AWS_ENDPOINT"),
    ) else {
        eprintln!(
            "QUICKFIX_TEST_MONGODB_URI and QUICKFIX_TEST_AWS_ENDPOINT are not set: nothing to run \
             (scripts/bench.sh starts the services and sets them)"
        );
        return;
    };
    let tickets: usize = std::env::var("FLEET_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut rows = Vec::new();
    for workers in WORKER_COUNTS {
        rows.push(run(workers, &mongo_uri, &endpoint, tickets).await);
    }
    let base = rows[0].tickets as f64 / rows[0].seconds;
    println!();
    println!(
        "| workers | tickets | seconds | tickets/s | scaling | messages | events | publishes/event | p50 ms | p95 ms |"
    );
    println!(
        "|--------:|--------:|--------:|----------:|--------:|---------:|-------:|----------------:|-------:|-------:|"
    );
    for r in &rows {
        let rate = r.tickets as f64 / r.seconds;
        println!(
            "| {:>7} | {:>7} | {:>7.1} | {:>9.1} | {:>6.2}x | {:>8} | {:>6} | {:>15.3} | {:>6.0} | {:>6.0} |",
            r.workers,
            r.tickets,
            r.seconds,
            rate,
            rate / base,
            r.messages,
            r.events,
            r.messages as f64 / r.events.max(1) as f64,
            r.p50,
            r.p95,
        );
    }
}
