//! A QuickFix deployment as separate processes: `quickfix api` replicas on fixed ports and
//! `quickfix worker` replicas, all on one database and one topic, each logging to its own file.
//! Dropping the cluster kills every process it started (a failing test leaves nothing running)
//! and, when the test is failing, prints the end of every log.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::process::{log_tail, quickfix};

/// How long a process may take to become ready on a loaded machine.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// Where the processes connect and how they are tuned.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mongo_uri: String,
    pub database: String,
    pub endpoint: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub jwt_secret: String,
    /// `OUTBOX_LEASE_SECONDS` of every process.
    pub lease_seconds: u64,
    /// Where each process's log file goes.
    pub log_dir: PathBuf,
    /// More settings for every process.
    pub extra_env: Vec<(String, String)>,
}

impl Settings {
    /// The environment every process shares: store, topic, credentials, a brisk outbox, JSON
    /// logs, and per-address limits raised because every client here is 127.0.0.1.
    fn common_env(&self, cmd: &mut Command) {
        cmd.env("MONGODB_URI", &self.mongo_uri)
            .env("MONGODB_DATABASE", &self.database)
            .env("SNS_TOPIC_ARN", &self.topic_arn)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("OUTBOX_SWEEP_INTERVAL_MS", "200")
            .env("OUTBOX_LEASE_SECONDS", self.lease_seconds.to_string())
            .env("LOG_FORMAT", "json")
            // QuickFix's own info lines (started, consuming, ticket assigned) make a failure
            // readable; everything else only from warnings up.
            .env("RUST_LOG", "warn,quickfix=info")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)));
    }
}

/// One process the cluster started.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

/// The processes of one deployment.
pub struct Cluster {
    pub settings: Settings,
    /// The API replicas' ports, chosen up front so a restarted replica comes back on its
    /// address.
    pub api_ports: Vec<u16>,
    procs: Mutex<Vec<Proc>>,
}

impl Cluster {
    pub fn new(settings: Settings, api_ports: Vec<u16>) -> Self {
        std::fs::create_dir_all(&settings.log_dir).expect("create the log folder");
        Self {
            settings,
            api_ports,
            procs: Mutex::new(Vec::new()),
        }
    }

    /// Base URL of API replica `index`.
    pub fn api_base(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.api_ports[index])
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.settings.log_dir.join(format!("{name}.log"))
    }

    fn spawn(&self, name: &str, mut cmd: Command) {
        let log = self.log_path(name);
        let file = File::create(&log).expect("create a log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        self.procs.lock().unwrap().push(Proc {
            name: name.to_owned(),
            child,
            log,
        });
    }

    /// Starts API replica `index` as the process `name` (a restart takes a new name, so the
    /// killed replica's log is kept).
    pub fn start_api(&self, name: &str, index: usize) {
        let mut cmd = quickfix();
        cmd.arg("api");
        cmd.env("JWT_SECRET", &self.settings.jwt_secret)
            .env(
                "QUICKFIX_ADDR",
                format!("127.0.0.1:{}", self.api_ports[index]),
            )
            .env("QUICKFIX_RATE_LIMIT_PER_SECOND", "100000")
            .env("QUICKFIX_RATE_LIMIT_BURST", "100000")
            .env("QUICKFIX_SIGN_IN_PER_MINUTE", "100000")
            .env("QUICKFIX_SIGN_IN_BURST", "100000")
            .env("QUICKFIX_ACCOUNT_FAILURES_BURST", "100000")
            .env("QUICKFIX_SOCKET_CONNECTS_BURST", "100000");
        // Last, so that a test's `extra_env` overrides what is set above.
        self.settings.common_env(&mut cmd);
        self.spawn(name, cmd);
    }

    /// Starts a worker as the process `name`.
    pub fn start_worker(&self, name: &str) {
        let mut cmd = quickfix();
        cmd.arg("worker");
        cmd.env("SQS_QUEUE_URL", &self.settings.queue_url)
            .env("WORKER_METRICS_ADDR", "127.0.0.1:0")
            .env("WORKER_WAIT_SECONDS", "1")
            .env("WORKER_VISIBILITY_TIMEOUT_SECONDS", "10")
            .env("WORKER_SWEEP_INTERVAL_SECONDS", "2")
            .env("WORKER_HOLD_GRACE_SECONDS", "5");
        // Last, so that a test's `extra_env` overrides what is set above.
        self.settings.common_env(&mut cmd);
        self.spawn(name, cmd);
    }

    /// Panics (with its log) if the process `name` has exited.
    fn assert_running(&self, name: &str) {
        let mut procs = self.procs.lock().unwrap();
        let proc = procs
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process named {name}"));
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!(
                "{name} exited ({status}) before it was ready; its log:\n{}",
                log_tail(&proc.log, 60)
            );
        }
    }

    /// Waits until API replica `index`, running as `name`, answers `GET /readyz` with 200.
    pub async fn wait_api_ready(&self, name: &str, index: usize) {
        let url = format!("{}/readyz", self.api_base(index));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let until = Instant::now() + READY_WITHIN;
        loop {
            self.assert_running(name);
            if let Ok(res) = http.get(&url).send().await
                && res.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < until,
                "{name} was not ready within {READY_WITHIN:?}; its log:\n{}",
                log_tail(&self.log_path(name), 60)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the worker `name` logs that it consumes its queue.
    pub async fn wait_worker_ready(&self, name: &str) {
        let log = self.log_path(name);
        let until = Instant::now() + READY_WITHIN;
        loop {
            self.assert_running(name);
            if std::fs::read_to_string(&log).is_ok_and(|text| text.contains("worker consuming")) {
                return;
            }
            assert!(
                Instant::now() < until,
                "{name} did not start consuming within {READY_WITHIN:?}; its log:\n{}",
                log_tail(&log, 60)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the process `name` with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(&self, name: &str) {
        let mut procs = self.procs.lock().unwrap();
        let proc = procs
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process named {name}"));
        proc.child.kill().expect("SIGKILL");
        proc.child.wait().expect("reap");
    }

    /// Names of processes that exited without being killed by the test, with their status.
    pub fn unexpected_exits(&self, killed: &[&str]) -> Vec<String> {
        let mut procs = self.procs.lock().unwrap();
        procs
            .iter_mut()
            .filter(|p| !killed.contains(&p.name.as_str()))
            .filter_map(|p| match p.child.try_wait() {
                Ok(Some(status)) => Some(format!(
                    "{} exited ({status}); its log:\n{}",
                    p.name,
                    log_tail(&p.log, 40)
                )),
                _ => None,
            })
            .collect()
    }

    /// Lines of every log that are warnings or errors, by process.
    pub fn warnings(&self) -> Vec<(String, Vec<String>)> {
        let procs = self.procs.lock().unwrap();
        procs
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p.log).unwrap_or_default();
                let lines = text
                    .lines()
                    .filter(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\""))
                    .map(str::to_owned)
                    .collect();
                (p.name.clone(), lines)
            })
            .collect()
    }

    /// The sum of the numeric field `field` over every log line of every process that
    /// contains `message`.
    pub fn sum_logged(&self, message: &str, field: &str) -> u64 {
        let procs = self.procs.lock().unwrap();
        let key = format!("\"{field}\":");
        procs
            .iter()
            .flat_map(|p| {
                let text = std::fs::read_to_string(&p.log).unwrap_or_default();
                text.lines()
                    .filter(|l| l.contains(message))
                    .filter_map(|l| {
                        let rest = &l[l.find(&key)? + key.len()..];
                        let digits: String =
                            rest.chars().take_while(char::is_ascii_digit).collect();
                        digits.parse::<u64>().ok()
                    })
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    pub fn log_dir(&self) -> &Path {
        &self.settings.log_dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        let procs = self.procs.get_mut().unwrap_or_else(|e| e.into_inner());
        for proc in procs.iter_mut() {
            if let Ok(None) = proc.child.try_wait() {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
            }
            if failing {
                let text = std::fs::read_to_string(&proc.log).unwrap_or_default();
                let problems: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\""))
                    .collect();
                eprintln!(
                    "----- {} ({}): last warnings and errors -----\n{}\n----- last lines -----\n{}",
                    proc.name,
                    proc.log.display(),
                    problems[problems.len().saturating_sub(15)..].join("\n"),
                    log_tail(&proc.log, 5)
                );
            }
        }
    }
}

/// The SNS/SQS emulator stopped with SIGSTOP: it holds every connection without answering,
/// like a stalled AWS endpoint, and keeps its queues. Thawed with SIGCONT by [`Freeze::thaw`]
/// or, whatever happens, when dropped.
pub struct Freeze {
    pid: u32,
    frozen: bool,
}

impl Freeze {
    pub fn start(pid: u32) -> Self {
        signal(pid, "-STOP");
        Self { pid, frozen: true }
    }

    pub fn thaw(mut self) {
        signal(self.pid, "-CONT");
        self.frozen = false;
    }
}

impl Drop for Freeze {
    fn drop(&mut self) {
        if self.frozen {
            signal(self.pid, "-CONT");
        }
    }
}

fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}
