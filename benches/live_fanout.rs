//! Live notification benchmark: 1,000 Socket.IO clients connected to `quickfix dev` (a child
//! process, so its memory is measured alone), signed in as the admin; an agent's presence is
//! toggled at a steady rate, so the worker writes one `agentAvailabilityChanged` notification
//! per toggle and the API fans it out to all 1,000 sockets.
//!
//! Prints delivery latency p50/p99 from the worker's write (the notification's `createdAt`) to
//! the client's receipt, and the API's resident memory per connected socket.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload};
use serde_json::{Value, json};

const CLIENTS: usize = 1_000;
const TOGGLES_PER_SECOND: u64 = 5;
const SECONDS: u64 = 10;

fn start_dev() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickfix"))
        .args(["dev", "--addr", "127.0.0.1:0"])
        .env_remove("MONGODB_URI")
        .env_remove("SNS_TOPIC_ARN")
        .env("RUST_LOG", "warn")
        // A thousand sockets from one address: the per-address limits would measure
        // themselves, not the fan-out.
        .env("QUICKFIX_SOCKET_CONNECTS_BURST", "1000000")
        .env("QUICKFIX_SIGN_IN_BURST", "1000000")
        .env("QUICKFIX_RATE_LIMIT_BURST", "1000000")
        .env("QUICKFIX_MAX_IN_FLIGHT", "100000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("quickfix dev starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("dev prints its address").unwrap();
        if line.contains("API:") {
            break line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .trim_end_matches("/api/complaints")
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn login(http: &reqwest::Client, base: &str, email: &str) -> Value {
    http.post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": "quickfix"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let (mut child, base) = start_dev();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let admin = login(&http, &base, "admin@quickfix.dev").await;
        let token = admin["token"].as_str().unwrap().to_owned();
        let agents: Value = http
            .get(format!("{base}/api/agents"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let agent_id = agents[0]["id"].as_str().unwrap().to_owned();

        // Let the process settle before the baseline.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = rss_kib(child.id());
        let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
        let connected = Arc::new(tokio::sync::Semaphore::new(0));
        let mut clients: Vec<Client> = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            let seen = latencies.clone();
            let up = connected.clone();
            let client = ClientBuilder::new(base.clone())
                .auth(json!({"token": token}))
                .reconnect(false)
                .on(Event::Connect, move |_, _| {
                    let up = up.clone();
                    async move { up.add_permits(1) }.boxed()
                })
                .on("agentAvailabilityChanged", move |payload: Payload, _| {
                    let seen = seen.clone();
                    async move {
                        if let Payload::Text(values) = payload
                            && let Some(at) = values[0]["createdAt"].as_str()
                            && let Ok(at) = chrono::DateTime::parse_from_rfc3339(at)
                        {
                            let ms = (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
                                .num_microseconds()
                                .unwrap_or(0) as f64
                                / 1000.0;
                            seen.lock().unwrap().push(ms);
                        }
                    }
                    .boxed()
                })
                .connect()
                .await
                .expect("client connects");
            clients.push(client);
        }
        let _all = connected
            .acquire_many(CLIENTS as u32)
            .await
            .expect("every client joins");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_kib(child.id());

        let started = Instant::now();
        let mut ticker = tokio::time::interval(Duration::from_millis(1000 / TOGGLES_PER_SECOND));
        let toggles = TOGGLES_PER_SECOND * SECONDS;
        for i in 0..toggles {
            ticker.tick().await;
            let presence = if i % 2 == 0 { "offline" } else { "online" };
            http.patch(format!("{base}/api/agents/{agent_id}/presence"))
                .bearer_auth(&token)
                .json(&json!({"presence": presence}))
                .send()
                .await
                .unwrap();
        }
        let expected = toggles as usize * CLIENTS;
        let deadline = Instant::now() + Duration::from_secs(30);
        while latencies.lock().unwrap().len() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let elapsed = started.elapsed();
        let mut seen = latencies.lock().unwrap().clone();
        seen.sort_by(f64::total_cmp);
        for client in &clients {
            let _ = client.disconnect().await;
        }
        println!();
        println!(
            "| clients | notifications | deliveries | p50 ms | p99 ms | max ms | API memory per socket |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {CLIENTS} | {toggles} | {} of {expected} in {:.1} s | {:.2} | {:.2} | {:.2} | {:.1} KiB ({} → {} KiB) |",
            seen.len(),
            elapsed.as_secs_f64(),
            percentile(&seen, 0.50),
            percentile(&seen, 0.99),
            seen.last().copied().unwrap_or(f64::NAN),
            (after.saturating_sub(before)) as f64 / CLIENTS as f64,
            before,
            after,
        );
        println!();
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
