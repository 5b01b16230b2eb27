//! Load benchmark for the REST API: `POST /api/complaints` and `GET /api/complaints` driven over
//! HTTP by a load generator on its own thread, against the embedded backends and, when
//! `QUICKFIX_TEST_MONGODB_URI` is set (scripts/bench.sh starts SecantusDB), against MongoDB.
//!
//! Closed loop: `BENCH_CONCURRENCY` connections (default 16) each send the next request as soon
//! as the last answers, for `BENCH_SECONDS` (default 10) per row after a one-second warm-up.
//! Prints one table row per backend and operation.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use quickfix::app::{AppConfig, Server};
use quickfix::domain::{Categories, Clock, SystemClock};
use quickfix::{
    ApiLimits, MemoryStore, MemoryTopology, MongoStore, MongoStoreOptions, Publisher,
    RelaySettings, Store, TokenKeys, TopologySpec,
};
use secrecy::SecretString;
use serde_json::json;
use support::percentile;

const PASSWORD: &str = "quickfix";

#[derive(Clone, Copy)]
enum Op {
    Create,
    List,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Create => "POST /api/complaints",
            Op::List => "GET /api/complaints",
        }
    }
}

struct Row {
    backend: &'static str,
    op: Op,
    concurrency: usize,
    requests: usize,
    errors: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Which store the server runs on.
enum StoreKind {
    Memory,
    Mongo(String),
}

impl StoreKind {
    /// Built inside the server's runtime: the MongoDB driver runs its connection pool on the
    /// runtime that creates the client.
    async fn build(self) -> Arc<dyn Store> {
        match self {
            StoreKind::Memory => Arc::new(MemoryStore::new()),
            StoreKind::Mongo(uri) => {
                let db = format!("qf_bench_{}", uuid::Uuid::new_v4().simple());
                let store = MongoStore::connect(&uri, &db, MongoStoreOptions::default())
                    .await
                    .expect("connect MongoDB");
                Arc::new(store)
            }
        }
    }
}

/// Starts the server on its own two-worker runtime (the API's share of the machine) and
/// returns its base URL.
fn start_server(store: StoreKind, publisher: Arc<dyn Publisher>, record_events: bool) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let store = store.build().await;
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let categories = Categories::default();
            quickfix::demo::seed(
                store.as_ref(),
                &categories,
                clock.as_ref(),
                &SecretString::from(PASSWORD),
            )
            .await
            .expect("seed");
            let config = AppConfig {
                store,
                publisher,
                clock,
                tokens: TokenKeys::new(
                    &SecretString::from("bench-secret"),
                    Duration::from_secs(3600),
                ),
                categories,
                sla: Arc::new(quickfix::domain::SlaPolicy::default()),
                relay: RelaySettings {
                    record_events,
                    ..RelaySettings::default()
                },
                // The load comes from one address: the per-client limits would measure
                // themselves, not the API.
                limits: ApiLimits::generous(65_536),
                access: quickfix::app::AccessSettings::default(),
                metrics_addr: None,
                shutdown_grace: Duration::from_secs(20),
            };
            let server = Server::start(config, "127.0.0.1:0".parse().unwrap())
                .await
                .expect("start");
            tx.send(format!("http://{}", server.addr())).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("server address")
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let reply: serde_json::Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "customer1@quickfix.dev", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    reply["token"].as_str().expect("token").to_owned()
}

async fn one_request(client: &reqwest::Client, base: &str, token: &str, op: Op, n: usize) -> bool {
    let request = match op {
        Op::Create => client.post(format!("{base}/api/complaints")).json(&json!({
            "title": format!("Benchmark ticket {n}"),
            "description": "Printer on fire again",
            "category": "Technical",
        })),
        Op::List => client.get(format!("{base}/api/complaints?limit=20")),
    };
    match request.bearer_auth(token).send().await {
        Ok(res) => {
            let ok = res.status().is_success();
            let _ = res.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

/// Runs `concurrency` closed-loop connections for `duration`; returns latencies and errors.
async fn drive(
    base: &str,
    token: &str,
    op: Op,
    concurrency: usize,
    duration: Duration,
) -> (Vec<Duration>, usize, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let (base, token, stop) = (base.to_owned(), token.to_owned(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut latencies = Vec::with_capacity(65_536);
            let mut errors = 0;
            let mut n = c;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if one_request(&client, &base, &token, op, n).await {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
                n += concurrency;
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    (all, errors, started.elapsed())
}

async fn bench_backend(
    backend: &'static str,
    base: String,
    ops: &[Op],
    concurrency: usize,
    seconds: u64,
) -> Vec<Row> {
    let client = reqwest::Client::new();
    let token = login(&client, &base).await;
    let mut rows = Vec::new();
    for &op in ops {
        drive(&base, &token, op, concurrency, Duration::from_secs(1)).await; // warm-up
        let (mut latencies, errors, elapsed) =
            drive(&base, &token, op, concurrency, Duration::from_secs(seconds)).await;
        latencies.sort_unstable();
        rows.push(Row {
            backend,
            op,
            concurrency,
            requests: latencies.len(),
            errors,
            per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
        });
    }
    rows
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 16) as usize;
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("load runtime");
    let mut rows = Vec::new();

    let topology = MemoryTopology::provision(&TopologySpec::default());
    let base = start_server(StoreKind::Memory, topology.topic.clone(), true);
    let both = [Op::Create, Op::List];
    rows.extend(load.block_on(bench_backend("embedded", base, &both, concurrency, seconds)));
    // The same creates with the event log off: what recording every event costs.
    let topology = MemoryTopology::provision(&TopologySpec::default());
    let base = start_server(StoreKind::Memory, topology.topic.clone(), false);
    rows.extend(load.block_on(bench_backend(
        "embedded, no event log",
        base,
        &[Op::Create],
        concurrency,
        seconds,
    )));

    match std::env::var("QUICKFIX_TEST_MONGODB_URI") {
        Ok(uri) => {
            let topic = MemoryTopology::provision(&TopologySpec::default()).topic;
            let base = start_server(StoreKind::Mongo(uri), topic, true);
            rows.extend(load.block_on(bench_backend("mongodb", base, &both, concurrency, seconds)));
        }
        Err(_) => eprintln!(
            "QUICKFIX_TEST_MONGODB_URI not set: MongoDB rows skipped (scripts/bench.sh sets it)"
        ),
    }

    println!();
    println!(
        "| backend                | operation            | conns | requests | errors |   req/s | p50 ms | p99 ms |"
    );
    println!(
        "|------------------------|----------------------|------:|---------:|-------:|--------:|-------:|-------:|"
    );
    for r in rows {
        println!(
            "| {:<22} | {:<20} | {:>5} | {:>8} | {:>6} | {:>7.0} | {:>6.2} | {:>6.2} |",
            r.backend,
            r.op.label(),
            r.concurrency,
            r.requests,
            r.errors,
            r.per_second,
            r.p50.as_secs_f64() * 1000.0,
            r.p99.as_secs_f64() * 1000.0,
        );
    }
    // The topology is kept alive for the whole run so the topic has its subscriber.
    drop(topology);
}
