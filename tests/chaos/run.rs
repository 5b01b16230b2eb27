//! What the chaos run shares between its tasks: the people signed in, the tickets sent, the
//! fault timeline and windows, the broken promises seen while running, and the counters the
//! figures report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::analysis::Window;
use crate::client::Apis;
use crate::{AGENTS, LEASE_SECONDS};

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub id: String,
    pub token: String,
}

/// Something that happened to the deployment, for the timeline.
#[derive(Debug, Clone)]
pub struct Mark {
    pub at: DateTime<Utc>,
    pub what: String,
}

/// One ticket as its customer sent it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub key: String,
    pub title: String,
    pub ticket_id: String,
    /// Answered with the stored answer of an earlier send (`Idempotent-Replayed`).
    pub replayed: bool,
    /// The API replica that answered.
    pub api: usize,
    pub attempts: u32,
}

/// State shared by every task of the run.
pub struct Run {
    pub apis: Apis,
    pub started: DateTime<Utc>,
    /// Next ticket number to send.
    pub next: AtomicUsize,
    /// Tickets whose create was answered.
    pub created: AtomicUsize,
    /// Set once everything is resolved: agents and the sampler stop.
    pub finished: AtomicBool,
    /// Per agent: do not start new tickets (the agent is about to go, or is, offline).
    pub paused: Vec<AtomicBool>,
    pub sent: Mutex<Vec<Sent>>,
    pub timeline: Mutex<Vec<Mark>>,
    pub windows: Mutex<Vec<Window>>,
    /// Broken promises seen while running.
    pub violations: Mutex<Vec<String>>,
    pub agent_samples: AtomicUsize,
    pub resolved_by_agents: AtomicUsize,
    /// Status changes refused because the ticket moved on (requeued, changed concurrently).
    pub agent_refusals: AtomicUsize,
    /// Creates in flight on the killed API when it was killed.
    pub creates_in_flight_at_kill: AtomicUsize,
}

impl Run {
    /// A run on `apis` starting now, nothing sent yet.
    pub fn new(apis: Apis) -> Self {
        Self {
            apis,
            started: Utc::now(),
            next: AtomicUsize::new(0),
            created: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            paused: AGENTS.iter().map(|_| AtomicBool::new(false)).collect(),
            sent: Mutex::new(Vec::new()),
            timeline: Mutex::new(Vec::new()),
            windows: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            agent_samples: AtomicUsize::new(0),
            resolved_by_agents: AtomicUsize::new(0),
            agent_refusals: AtomicUsize::new(0),
            creates_in_flight_at_kill: AtomicUsize::new(0),
        }
    }

    /// Prints `what` with the time since the start and adds it to the timeline; returns when.
    pub fn mark(&self, what: impl Into<String>) -> DateTime<Utc> {
        let at = Utc::now();
        let what = what.into();
        println!(
            "[chaos +{:>6.1}s] {what}",
            (at - self.started).num_milliseconds() as f64 / 1000.0
        );
        self.timeline.lock().unwrap().push(Mark { at, what });
        at
    }

    /// Records the fault window `[from - lease, to + lease]`.
    pub fn window(&self, label: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
        let lease = chrono::Duration::seconds(LEASE_SECONDS as i64);
        self.windows.lock().unwrap().push(Window {
            label: label.to_owned(),
            from: from - lease,
            to: to + lease,
        });
    }

    /// Records a broken promise, printing it at once.
    pub fn violation(&self, what: String) {
        eprintln!("[chaos] VIOLATION: {what}");
        self.violations.lock().unwrap().push(what);
    }

    /// Waits until `count` creates have been answered.
    pub async fn wait_created(&self, count: usize) {
        while self.created.load(Ordering::SeqCst) < count {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
