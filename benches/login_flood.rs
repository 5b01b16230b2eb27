//! Sign-in flood benchmark: `quickfix api` (a child process on the in-memory store and bus,
//! default abuse limits, so its memory is measured alone) behind a trusted `x-forwarded-for`
//! header, so that one machine can present many client addresses.
//!
//! Twenty victim accounts are flooded by `FLOOD_CONNECTIONS` (500) concurrent connections from
//! 50 addresses, each sending sign-ins back to back for `BENCH_SECONDS` (default 10): mostly
//! wrong passwords, one in ten right. Meanwhile a legitimate customer signs in
//! `LEGIT_ATTEMPTS` (20) times, one at a time and spread over the flood, each time from an
//! address of its own (a user the per-address limits have no reason to slow down).
//!
//! Prints the flood's answers by status, the API's peak resident memory against the 256 MiB
//! target, and the legitimate sign-ins' latency against the 1 s target. Exits non-zero when any
//! request got a server error other than 503 or no answer at all.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::percentile;

const FLOOD_CONNECTIONS: usize = 500;
const FLOOD_ADDRESSES: usize = 50;
const VICTIMS: usize = 20;
/// One flood sign-in in this many carries the victim's right password.
const RIGHT_PASSWORD_EVERY: usize = 10;
const LEGIT_ATTEMPTS: usize = 20;
const RSS_TARGET_MIB: f64 = 256.0;
const LATENCY_TARGET: Duration = Duration::from_secs(1);
const VICTIM_PASSWORD: &str = "victim-passphrase";
const LEGIT_EMAIL: &str = "legit@flood.example";
const LEGIT_PASSWORD: &str = "legit-user-passphrase";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn victim_email(i: usize) -> String {
    format!("victim{i}@flood.example")
}

/// The `quickfix api` child process; killed if the benchmark ends without stopping it.
struct Api {
    child: Child,
    base: String,
    stopped: bool,
}

impl Api {
    fn start() -> Self {
        let secret: String = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
        .chars()
        .take(48)
        .collect();
        let mut command = Command::new(env!("CARGO_BIN_EXE_quickfix"));
        // The defaults are what is measured: no limit, store or bus setting is inherited.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("QUICKFIX_")
                || name.starts_with("JWT_")
                || name.starts_with("MONGODB_")
                || name == "SNS_TOPIC_ARN"
            {
                command.env_remove(&*name);
            }
        }
        let mut child = command
            .args([
                "api",
                "--store",
                "memory",
                "--bus",
                "memory",
                "--addr",
                "127.0.0.1:0",
            ])
            .env("JWT_SECRET", secret)
            .env("QUICKFIX_TRUSTED_PROXY_HEADER", "x-forwarded-for")
            .env("RUST_LOG", "warn,quickfix::app=info")
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("quickfix api starts");
        let stderr = child.stderr.take().unwrap();
        let mut api = Self {
            child,
            base: String::new(),
            stopped: false,
        };
        let mut lines = BufReader::new(stderr).lines();
        api.base = loop {
            let line = lines
                .next()
                .expect("quickfix api logs its address before exiting")
                .unwrap();
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if event["message"] == "QuickFix API listening" {
                break format!("http://{}", event["addr"].as_str().expect("addr field"));
            }
        };
        std::thread::spawn(move || for _ in lines {});
        api
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for the process to exit.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let _ = self.child.wait();
        self.stopped = true;
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Answers by status, and requests that got none.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    failures: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.failures.extend(other.failures);
    }

    fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.failures.len() as u64
    }

    fn other(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| ![200, 401, 429, 503].contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// Server errors other than 503 (which is the API shedding load, as designed).
    fn server_errors(&self) -> Vec<(u16, u64)> {
        self.statuses
            .iter()
            .filter(|(s, _)| (500..600).contains(*s) && **s != 503)
            .map(|(s, n)| (*s, *n))
            .collect()
    }
}

async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    address: &str,
    email: &str,
    password: &str,
) -> Result<u16, String> {
    let res = http
        .post(format!("{base}/api/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = res.status().as_u16();
    let _ = res.bytes().await;
    Ok(status)
}

async fn register(http: &reqwest::Client, base: &str, address: &str, email: &str, password: &str) {
    let res = http
        .post(format!("{base}/api/auth/register"))
        .header("x-forwarded-for", address)
        .json(&json!({"name": "Flood Test", "email": email, "password": password}))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status().as_u16(), 201, "registering {email}");
}

/// One flood connection: sign-ins back to back from `address` until `stop`.
async fn attack(
    http: reqwest::Client,
    base: String,
    address: String,
    next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    while !stop.load(Ordering::Relaxed) {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let email = victim_email(n % VICTIMS);
        let password = if n.is_multiple_of(RIGHT_PASSWORD_EVERY) {
            VICTIM_PASSWORD.to_owned()
        } else {
            format!("guess-{n}")
        };
        match sign_in(&http, &base, &address, &email, &password).await {
            Ok(status) => *tally.statuses.entry(status).or_default() += 1,
            Err(e) => tally.failures.push(e),
        }
    }
    tally
}

/// The legitimate customer: `LEGIT_ATTEMPTS` sign-ins spread over `over`, each from an
/// address of its own, on a runtime of its own so the flood's tasks do not delay its clock.
fn legit_user(base: String, over: Duration) -> (Vec<Duration>, Tally) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let every = over / LEGIT_ATTEMPTS as u32;
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(LEGIT_ATTEMPTS);
        let mut tally = Tally::default();
        for i in 0..LEGIT_ATTEMPTS {
            tokio::time::sleep_until((started + every * i as u32).into()).await;
            let address = format!("10.3.0.{}", i + 1);
            let t = Instant::now();
            match sign_in(&http, &base, &address, LEGIT_EMAIL, LEGIT_PASSWORD).await {
                Ok(status) => {
                    latencies.push(t.elapsed());
                    *tally.statuses.entry(status).or_default() += 1;
                }
                Err(e) => tally.failures.push(e),
            }
        }
        (latencies, tally)
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", 10);
    let flood_for = Duration::from_secs(seconds);
    let mut api = Api::start();
    let base = api.base.clone();
    let pid = api.pid();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Registration is limited per address like sign-in: each account comes from its own.
    runtime.block_on(async {
        register(&http, &base, "10.1.1.1", LEGIT_EMAIL, LEGIT_PASSWORD).await;
        for i in 0..VICTIMS {
            let address = format!("10.1.0.{}", i + 1);
            register(&http, &base, &address, &victim_email(i), VICTIM_PASSWORD).await;
        }
    });
    let rss_before = proc_status_kib(pid, "VmRSS:");

    // The API's resident memory, polled through the flood.
    let polling = Arc::new(AtomicBool::new(true));
    let rss_peak = Arc::new(AtomicU64::new(rss_before));
    let poller = {
        let (polling, rss_peak) = (polling.clone(), rss_peak.clone());
        std::thread::spawn(move || {
            while polling.load(Ordering::Relaxed) {
                rss_peak.fetch_max(proc_status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let attackers: Vec<_> = (0..FLOOD_CONNECTIONS)
        .map(|i| {
            let address = format!("10.2.0.{}", i % FLOOD_ADDRESSES + 1);
            runtime.spawn(attack(
                http.clone(),
                base.clone(),
                address,
                next.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let legit = {
        let base = base.clone();
        std::thread::spawn(move || legit_user(base, flood_for))
    };
    let flood = runtime.block_on(async {
        tokio::time::sleep(flood_for).await;
        stop.store(true, Ordering::Relaxed);
        let mut flood = Tally::default();
        for attacker in attackers {
            flood.merge(attacker.await.expect("flood connection"));
        }
        flood
    });
    let elapsed = started.elapsed();
    let (mut latencies, legit) = legit.join().expect("legitimate user");
    polling.store(false, Ordering::Relaxed);
    poller.join().unwrap();
    let rss_polled = rss_peak.load(Ordering::Relaxed);
    let rss_hwm = proc_status_kib(pid, "VmHWM:");
    let peak_mib = mib(rss_hwm.max(rss_polled));
    latencies.sort_unstable();
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    let max = latencies.last().copied().unwrap_or_default();
    let successes = legit.count(200);
    let legit_other: Vec<String> = legit
        .statuses
        .iter()
        .filter(|(s, _)| **s != 200)
        .map(|(s, n)| format!("{s}×{n}"))
        .chain((!legit.failures.is_empty()).then(|| format!("no answer×{}", legit.failures.len())))
        .collect();

    println!();
    println!(
        "| flood: conns | addresses | accounts | seconds | requests |    200 |    401 |     429 |    503 | other | API RSS MiB (before → peak) | target < {RSS_TARGET_MIB:.0} MiB |"
    );
    println!(
        "|-------------:|----------:|---------:|--------:|---------:|-------:|-------:|--------:|-------:|------:|----------------------------:|-----------------:|"
    );
    println!(
        "| {:>12} | {:>9} | {:>8} | {:>7.1} | {:>8} | {:>6} | {:>6} | {:>7} | {:>6} | {:>5} | {:>27} | {:>16} |",
        FLOOD_CONNECTIONS,
        FLOOD_ADDRESSES,
        VICTIMS,
        elapsed.as_secs_f64(),
        flood.total(),
        flood.count(200),
        flood.count(401),
        flood.count(429),
        flood.count(503),
        flood.other() + flood.failures.len() as u64,
        format!("{:.1} → {:.1}", mib(rss_before), peak_mib),
        verdict(peak_mib < RSS_TARGET_MIB),
    );
    println!();
    println!(
        "| legitimate sign-ins | succeeded | other answers | p50 ms | p99 ms | max ms | target < {} ms |",
        LATENCY_TARGET.as_millis()
    );
    println!(
        "|--------------------:|----------:|---------------|-------:|-------:|-------:|-----------------:|"
    );
    println!(
        "| {:>19} | {:>9} | {:<13} | {:>6.1} | {:>6.1} | {:>6.1} | {:>16} |",
        LEGIT_ATTEMPTS,
        successes,
        if legit_other.is_empty() {
            "-".to_owned()
        } else {
            legit_other.join(", ")
        },
        ms(p50),
        ms(p99),
        ms(max),
        verdict(max < LATENCY_TARGET && successes == LEGIT_ATTEMPTS as u64),
    );
    println!();

    let mut broken = false;
    for (who, tally) in [("flood", &flood), ("legitimate user", &legit)] {
        for (status, n) in tally.server_errors() {
            eprintln!("{who}: {n} answers with status {status}");
            broken = true;
        }
        if !tally.failures.is_empty() {
            eprintln!(
                "{who}: {} requests got no answer, e.g. {}",
                tally.failures.len(),
                tally.failures[0]
            );
            broken = true;
        }
    }
    api.stop();
    if broken {
        std::process::exit(1);
    }
}
