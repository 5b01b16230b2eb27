//! Chaos: QuickFix as it is deployed — two `quickfix api` and three `quickfix worker` processes
//! on the MongoDB-compatible server and the SNS/SQS emulator — under a steady stream of tickets
//! from several customers, while a worker and an API are killed with SIGKILL, the emulator
//! stalls for seconds, and an agent goes offline and back. Agents work their tickets the whole
//! time, until everything is resolved.
//!
//! Then every promise of the delivery contract is checked against what happened:
//! - one ticket per `Idempotency-Key`, however often a request was retried on another replica;
//! - every ticket's `ticket.created` published, and events published twice only around a fault
//!   (outside the fault windows, at most 1.05 publishes per event);
//! - no ticket assigned twice in one assignment cycle (between two requeues);
//! - no agent over capacity and no slot given back twice, sampled every 250 ms, and no slot
//!   left held once everything is resolved;
//! - everything resolved, an empty dead-letter queue, no inbox holding a notification twice.
//!
//! The figures (publishes per event, create→assigned latency, time to drain, the fault
//! timeline) are printed at the end; run with `--nocapture` to see them.

mod common;

#[path = "chaos/analysis.rs"]
mod analysis;
#[path = "chaos/client.rs"]
mod client;
#[path = "chaos/cluster.rs"]
mod cluster;
#[path = "chaos/observer.rs"]
mod observer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use quickfix::domain::{EventType, Status};
use quickfix::{Queue, SqsQueue, TopologySpec};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use analysis::{Publish, Window};
use client::{Apis, Request};
use cluster::{Cluster, Freeze, Settings};
use common::process::{free_port, quickfix};
use observer::Observer;

/// Tickets the customers open.
const TICKETS: usize = 320;
/// Customer clients sending at once.
const CLIENTS: usize = 8;
/// Tickets opened per second over all clients: slow enough that the faults land while tickets
/// are still coming in, fast enough to keep a backlog.
const CREATES_PER_SECOND: f64 = 3.0;
/// `OUTBOX_LEASE_SECONDS` of every process.
const LEASE_SECONDS: u64 = 5;
/// How long an offline agent's untouched tickets may take to return to the backlog.
const REQUEUE_WITHIN: Duration = Duration::from_secs(120);
/// How long the emulator stays frozen.
const FREEZE: Duration = Duration::from_secs(4);
/// From the last ticket opened until everything must be resolved, on a loaded 2-core machine.
const DRAIN_WITHIN: Duration = Duration::from_secs(8 * 60);
/// From everything resolved until every stored event must have been published.
const OUTBOX_DRAIN_WITHIN: Duration = Duration::from_secs(8 * 60);
/// Publishes per event allowed outside the fault windows.
const MAX_PUBLISHES_PER_EVENT: f64 = 1.05;
const PASSWORD: &str = "chaos-password-1";
const ADMIN_EMAIL: &str = "admin@chaos.test";
const CATEGORIES: [&str; 4] = ["Technical", "Billing", "Account", "General"];

/// The agents: every category is taken by at least two of them; capacities 1 to 3.
const AGENTS: [(&str, &[&str], u32); 6] = [
    ("Ada", &["Technical", "Account"], 3),
    ("Bo", &["Technical", "Billing"], 2),
    ("Cy", &["Billing", "General"], 1),
    ("Di", &["Account", "General"], 2),
    ("Ed", &["Technical", "General"], 3),
    ("Flo", &["Billing", "Account"], 1),
];
/// The agent who goes offline in the middle of the run (their categories stay covered).
const OFFLINE_AGENT: usize = 0;
const CUSTOMERS: usize = 5;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The SNS/SQS emulator's process id (it is frozen and thawed), or `None` (skip) outside CI.
fn aws_pid() -> Option<u32> {
    match std::env::var("QUICKFIX_TEST_AWS_PID") {
        Ok(v) if !v.is_empty() => Some(
            v.trim()
                .parse()
                .expect("QUICKFIX_TEST_AWS_PID is a process id"),
        ),
        _ if in_ci() => panic!(
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

/// A signed-in user.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    id: String,
    token: String,
}

/// Something that happened to the deployment, for the timeline.
#[derive(Debug, Clone)]
struct Mark {
    at: DateTime<Utc>,
    what: String,
}

/// One ticket as its customer sent it.
#[derive(Debug, Clone)]
struct Sent {
    key: String,
    title: String,
    ticket_id: String,
    /// Answered with the stored answer of an earlier send (`Idempotent-Replayed`).
    replayed: bool,
    /// The API replica that answered.
    api: usize,
    attempts: u32,
}

/// State shared by every task of the run.
struct Run {
    apis: Apis,
    started: DateTime<Utc>,
    /// Next ticket number to send.
    next: AtomicUsize,
    /// Tickets whose create was answered.
    created: AtomicUsize,
    /// Set once everything is resolved: agents and the sampler stop.
    finished: AtomicBool,
    /// Per agent: do not start new tickets (the agent is about to go, or is, offline).
    paused: Vec<AtomicBool>,
    sent: Mutex<Vec<Sent>>,
    timeline: Mutex<Vec<Mark>>,
    windows: Mutex<Vec<Window>>,
    /// Broken promises seen while running.
    violations: Mutex<Vec<String>>,
    agent_samples: AtomicUsize,
    resolved_by_agents: AtomicUsize,
    /// Status changes refused because the ticket moved on (requeued, changed concurrently).
    agent_refusals: AtomicUsize,
    /// Creates in flight on the killed API when it was killed.
    creates_in_flight_at_kill: AtomicUsize,
}

impl Run {
    fn mark(&self, what: impl Into<String>) -> DateTime<Utc> {
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
    fn window(&self, label: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
        let lease = chrono::Duration::seconds(LEASE_SECONDS as i64);
        self.windows.lock().unwrap().push(Window {
            label: label.to_owned(),
            from: from - lease,
            to: to + lease,
        });
    }

    fn violation(&self, what: String) {
        eprintln!("[chaos] VIOLATION: {what}");
        self.violations.lock().unwrap().push(what);
    }

    async fn wait_created(&self, count: usize) {
        while self.created.load(Ordering::SeqCst) < count {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "runs in its own step of scripts/test.sh, on an emptied database server: \
            `scripts/services.sh fresh-db; cargo test --test chaos -- --ignored --nocapture`"]
async fn the_delivery_contract_holds_through_kills_stalls_and_presence_changes() {
    let (Some(mongo_uri), Some(endpoint), Some(aws_pid)) =
        (common::mongo_uri(), common::aws_endpoint(), aws_pid())
    else {
        return;
    };
    let clock = Instant::now();
    let tag = Uuid::new_v4().simple().to_string()[..10].to_owned();

    // The topology, as an operator creates it.
    let topology = provision_cli(&tag, &endpoint);
    let aws = quickfix::aws_config(&common::aws_options(&endpoint)).await;
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

    let run = Arc::new(Run {
        apis: Apis::new(vec![cluster.api_base(0), cluster.api_base(1)]),
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
    });
    run.mark(format!(
        "2 APIs and 3 workers ready ({:.1}s after start)",
        clock.elapsed().as_secs_f64()
    ));
    let (admin, agents, customers) = people(&run.apis).await;

    // The run: customers open tickets, agents work them, a sampler watches capacity, and the
    // faults happen in between.
    let sampler = tokio::spawn(sample_agents(run.clone(), admin.clone()));
    let agent_tasks: Vec<_> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| tokio::spawn(work_as_agent(run.clone(), i, a.clone(), AGENTS[i].2)))
        .collect();
    let customers = Arc::new(customers);
    let client_tasks: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(open_tickets(run.clone(), customers.clone())))
        .collect();
    let chaos = tokio::spawn(inflict_faults(
        run.clone(),
        cluster.clone(),
        aws_pid,
        admin.clone(),
        agents[OFFLINE_AGENT].clone(),
    ));
    for task in client_tasks {
        task.await.expect("a customer client failed");
    }
    let last_create = Instant::now();
    run.mark(format!("all {TICKETS} tickets opened"));
    chaos.await.expect("the fault schedule failed");

    // Everything must end resolved.
    let drained = wait_all_resolved(&run, &admin, last_create).await;
    let drain_time = drained.map(|at| at - last_create);
    run.finished.store(true, Ordering::SeqCst);
    run.mark(match drain_time {
        Some(d) => format!(
            "all tickets resolved ({:.1}s after the last create)",
            d.as_secs_f64()
        ),
        None => format!("NOT all tickets resolved within {DRAIN_WITHIN:?}"),
    });
    sampler.await.expect("the capacity sampler failed");
    for task in agent_tasks {
        task.await.expect("an agent failed");
    }

    let mut failures: Vec<String> = run.violations.lock().unwrap().clone();
    if drain_time.is_none() {
        failures.push(stuck_tickets(&run, &admin).await);
    }
    failures.extend(slots_left_held(&run, &admin).await);

    // Every ticket in the store, as the admin lists them.
    let tickets = all_tickets(&run, &admin).await;
    let ticket_ids: HashSet<String> = tickets
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();

    // Every event stored must reach the topic: wait until no document holds an unpublished
    // event, then read the observer queue until nothing more arrives.
    let store = mongodb::Client::with_uri_str(&cluster.settings.mongo_uri)
        .await
        .expect("connect to the store")
        .database(&cluster.settings.database);
    let outbox_started = Instant::now();
    let mut outbox_drained: Option<Instant> = None;
    loop {
        if outbox_drained.is_none() && unpublished(&store).await == 0 {
            outbox_drained = Some(Instant::now());
        }
        if let Some(drained) = outbox_drained
            && observer.quiet_for(drained) >= Duration::from_secs(2 * LEASE_SECONDS)
        {
            break;
        }
        if outbox_started.elapsed() > OUTBOX_DRAIN_WITHIN {
            failures.push(format!(
                "{} documents still hold unpublished events {OUTBOX_DRAIN_WITHIN:?} after every ticket was resolved",
                unpublished(&store).await
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let outbox_drain_time = outbox_drained.map(|at| at - outbox_started);
    observer.stop();
    observer_task.await.unwrap();
    let observed = observer.messages();
    for malformed in observer.malformed() {
        failures.push(format!(
            "a message on the topic is not a valid event: {malformed}"
        ));
    }

    // One ticket per key.
    let sent = run.sent.lock().unwrap().clone();
    let keys: HashSet<&str> = sent.iter().map(|s| s.key.as_str()).collect();
    if tickets.len() != keys.len() {
        let mut per_title: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for t in &tickets {
            per_title
                .entry(t["title"].as_str().unwrap())
                .or_default()
                .push(t["complaintId"].as_str().unwrap());
        }
        let doubled: Vec<String> = per_title
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(title, ids)| {
                let attempts = sent
                    .iter()
                    .find(|s| s.title == *title)
                    .map_or(0, |s| s.attempts);
                format!("{title:?} → {ids:?} (sent {attempts} time(s))")
            })
            .collect();
        failures.push(format!(
            "{} tickets exist for {} distinct Idempotency-Keys; opened more than once: {doubled:#?}",
            tickets.len(),
            keys.len()
        ));
    }
    let answered: HashSet<&str> = sent.iter().map(|s| s.ticket_id.as_str()).collect();
    let missing: Vec<&&str> = answered
        .iter()
        .filter(|id| !ticket_ids.contains(**id))
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "tickets answered 201 but not in the store: {missing:?}"
        ));
    }

    // Events: every ticket created (and resolved) on the topic; duplicates only around faults.
    let publishes: Vec<Publish> = observed
        .iter()
        .map(|m| Publish {
            event_id: m.envelope.event_id,
            event_type: m.envelope.event_type(),
            timestamp: m.envelope.timestamp,
            ticket_id: m.envelope.data()["ticketId"].as_str().map(str::to_owned),
            seen_at: m.received_at,
        })
        .collect();
    let windows = run.windows.lock().unwrap().clone();
    let stats = analysis::publish_stats(&publishes, &windows);
    let per_type = |event_type: EventType| -> HashMap<&str, HashSet<Uuid>> {
        let mut map: HashMap<&str, HashSet<Uuid>> = HashMap::new();
        for p in publishes.iter().filter(|p| p.event_type == event_type) {
            if let Some(ticket) = &p.ticket_id {
                map.entry(ticket.as_str()).or_default().insert(p.event_id);
            }
        }
        map
    };
    let created_events = per_type(EventType::TicketCreated);
    let resolved_events = per_type(EventType::TicketResolved);
    let assigned_events = per_type(EventType::TicketAssigned);
    let requeued_events = per_type(EventType::TicketRequeued);
    let without_created: Vec<&String> = ticket_ids
        .iter()
        .filter(|id| !created_events.contains_key(id.as_str()))
        .collect();
    if !without_created.is_empty() {
        failures.push(format!(
            "{} tickets never appeared as ticket.created on the topic: {without_created:?}",
            without_created.len()
        ));
    }
    let without_resolved: Vec<&String> = ticket_ids
        .iter()
        .filter(|id| !resolved_events.contains_key(id.as_str()))
        .collect();
    if !without_resolved.is_empty() {
        failures.push(format!(
            "{} tickets never appeared as ticket.resolved on the topic: {without_resolved:?}",
            without_resolved.len()
        ));
    }
    for (ticket, ids) in created_events.iter().chain(resolved_events.iter()) {
        if ids.len() > 1 {
            failures.push(format!(
                "ticket {ticket} has {} different creation or resolution events: {ids:?}",
                ids.len()
            ));
        }
    }
    if stats.ratio_outside() > MAX_PUBLISHES_PER_EVENT {
        failures.push(format!(
            "{:.3} publishes per event outside the fault windows (at most {MAX_PUBLISHES_PER_EVENT}); duplicates there: {:#?}",
            stats.ratio_outside(),
            stats.duplicates_outside()
        ));
    }

    // One assignment per cycle: on the topic and in each ticket's history.
    for (ticket, events) in analysis::double_assignments(&publishes) {
        failures.push(format!(
            "ticket {ticket} was assigned {} times in one cycle (ticket.assigned {events:?})",
            events.len()
        ));
    }
    let mut requeued_in_history = 0;
    for ticket in &tickets {
        let id = ticket["id"].as_str().unwrap();
        let history = run
            .apis
            .send(
                0,
                &Request::get(format!("/api/complaints/{id}/history"), &admin.token),
            )
            .await
            .expect(200);
        let kinds: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["kind"].as_str().unwrap())
            .collect();
        requeued_in_history += kinds.iter().filter(|k| **k == "requeued").count();
        if analysis::history_assigns_twice(&kinds) {
            failures.push(format!(
                "ticket {id} ({}) was assigned twice in one cycle; history: {history}",
                ticket["complaintId"]
            ));
        }
        let assigned_in_history = kinds.iter().filter(|k| **k == "assigned").count();
        let assigned_published = assigned_events.get(id).map_or(0, HashSet::len);
        if assigned_in_history != assigned_published {
            failures.push(format!(
                "ticket {id}: {assigned_in_history} assignment(s) in its history but {assigned_published} ticket.assigned event(s) published"
            ));
        }
        if ticket["status"] != Status::Resolved.as_str() {
            failures.push(format!(
                "ticket {id} ({}) ended {} (assigned to {})",
                ticket["complaintId"], ticket["status"], ticket["assignedTo"]
            ));
        }
    }

    // Nothing dead-lettered.
    let dlq = SqsQueue::new(&aws, &topology["SQS_DEAD_LETTER_QUEUE_URL"]);
    let mut dead = Vec::new();
    for _ in 0..3 {
        dead.extend(
            dlq.receive(10, Duration::from_secs(1))
                .await
                .expect("read the dead-letter queue")
                .into_iter()
                .map(|d| format!("{:?}: {}", d.attributes, d.body)),
        );
    }
    if !dead.is_empty() {
        failures.push(format!(
            "{} message(s) in the dead-letter queue: {dead:#?}",
            dead.len()
        ));
    }

    // No inbox holds a notification twice.
    let mut notifications = 0;
    let everyone: Vec<&Person> = std::iter::once(&admin)
        .chain(agents.iter())
        .chain(customers.iter())
        .collect();
    for person in everyone {
        let (count, problems) = check_inbox(&run, person).await;
        notifications += count;
        failures.extend(problems);
    }

    for exit in cluster.unexpected_exits(&["worker-1", "api-1"]) {
        failures.push(format!("a process died on its own: {exit}"));
    }

    // The figures.
    let mut to_assigned: Vec<f64> = tickets
        .iter()
        .filter_map(|t| {
            let created: DateTime<Utc> = serde_json::from_value(t["createdAt"].clone()).ok()?;
            let assigned: DateTime<Utc> = serde_json::from_value(t["assignedAt"].clone()).ok()?;
            Some((assigned - created).num_milliseconds() as f64 / 1000.0)
        })
        .collect();
    to_assigned.sort_by(f64::total_cmp);
    let by_api = |api: usize| sent.iter().filter(|s| s.api == api).count();
    let retried = sent.iter().filter(|s| s.attempts > 1).count();
    let replayed = sent.iter().filter(|s| s.replayed).count();
    let timeline = run.timeline.lock().unwrap().clone();
    println!();
    println!("================ chaos figures ================");
    println!(
        "tickets: {} opened (distinct keys; answered by api-1 {}, api-2 {}), {} in the store, {} resolved",
        keys.len(),
        by_api(0),
        by_api(1),
        tickets.len(),
        tickets
            .iter()
            .filter(|t| t["status"] == Status::Resolved.as_str())
            .count()
    );
    println!(
        "creates: {retried} sent more than once, {} answered with the stored answer (Idempotent-Replayed), {} sends failed over to the other API ({} creates), {} creates in flight on the API when it was killed",
        replayed,
        run.apis.failovers.load(Ordering::SeqCst),
        run.apis.keyed_failovers.load(Ordering::SeqCst),
        run.creates_in_flight_at_kill.load(Ordering::SeqCst),
    );
    println!(
        "events: {} distinct, {} messages: {:.3} publishes per event overall; outside the fault windows {} events, {:.3} per event",
        stats.events,
        stats.messages,
        stats.ratio(),
        stats.events_outside,
        stats.ratio_outside()
    );
    for d in &stats.duplicates {
        println!(
            "  published {}x: {} {} at {} (ticket {}) — {}",
            d.publishes,
            d.event_type.as_str(),
            d.event_id,
            d.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
            d.ticket_id.as_deref().unwrap_or("-"),
            d.window.as_deref().unwrap_or("OUTSIDE every fault window")
        );
    }
    println!(
        "assignments: {} ticket.assigned, {} ticket.requeued events ({} requeues in histories)",
        assigned_events.values().map(HashSet::len).sum::<usize>(),
        requeued_events.values().map(HashSet::len).sum::<usize>(),
        requeued_in_history
    );
    println!(
        "create→assigned: p50 {:.2}s, p95 {:.2}s, max {:.2}s over {} tickets",
        analysis::percentile(&to_assigned, 50.0),
        analysis::percentile(&to_assigned, 95.0),
        to_assigned.last().copied().unwrap_or(f64::NAN),
        to_assigned.len()
    );
    let lags = analysis::first_seen_lags(&publishes);
    let mut all_lags: Vec<f64> = lags.iter().map(|(_, l)| *l).collect();
    all_lags.sort_by(f64::total_cmp);
    let presence_lags: Vec<String> = lags
        .iter()
        .filter(|(t, _)| *t == EventType::AgentAvailabilityChanged)
        .map(|(_, l)| format!("{l:.1}s"))
        .collect();
    println!(
        "event → observer queue: p50 {:.2}s, p95 {:.2}s, max {:.2}s; agent.availability_changed: {}",
        analysis::percentile(&all_lags, 50.0),
        analysis::percentile(&all_lags, 95.0),
        all_lags.last().copied().unwrap_or(f64::NAN),
        presence_lags.join(", ")
    );
    match outbox_drain_time {
        Some(d) => println!(
            "outbox empty {:.1}s after every ticket was resolved",
            d.as_secs_f64()
        ),
        None => {
            println!("outbox NOT empty {OUTBOX_DRAIN_WITHIN:?} after every ticket was resolved")
        }
    }
    match drain_time {
        Some(d) => println!(
            "time to drain (last create → all resolved): {:.1}s",
            d.as_secs_f64()
        ),
        None => println!("time to drain: NOT drained within {DRAIN_WITHIN:?}"),
    }
    println!(
        "agents: {} capacity samples, {} resolutions, {} status changes refused (ticket moved on); {} notifications checked",
        run.agent_samples.load(Ordering::SeqCst),
        run.resolved_by_agents.load(Ordering::SeqCst),
        run.agent_refusals.load(Ordering::SeqCst),
        notifications
    );
    println!(
        "observer: {} receive/delete errors (the emulator was frozen)",
        observer.errors.load(Ordering::SeqCst)
    );
    let warnings: Vec<String> = cluster
        .warnings()
        .into_iter()
        .map(|(name, lines)| format!("{name} {}", lines.len()))
        .collect();
    println!("warning/error log lines: {}", warnings.join(", "));
    println!(
        "outbox: {} documents taken over from relays whose lease expired",
        cluster.sum_logged(
            "took over events from a relay whose lease expired",
            "taken_over"
        )
    );
    println!("timeline:");
    for mark in &timeline {
        println!(
            "  +{:>6.1}s {} {}",
            (mark.at - run.started).num_milliseconds() as f64 / 1000.0,
            mark.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            mark.what
        );
    }
    println!("fault windows (± {LEASE_SECONDS}s lease):");
    for w in &windows {
        println!(
            "  {}: {} → {}",
            w.label,
            w.from.to_rfc3339_opts(SecondsFormat::Millis, true),
            w.to.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
    }
    println!("run time: {:.1}s", clock.elapsed().as_secs_f64());
    println!("===============================================");

    assert!(
        failures.is_empty(),
        "{} broken promise(s) (logs in {}):\n{}",
        failures.len(),
        cluster.log_dir().display(),
        failures.join("\n")
    );
}

/// Documents (tickets and agents) holding events not yet published (`pendingEvents`).
async fn unpublished(store: &mongodb::Database) -> u64 {
    let filter = mongodb::bson::doc! {"pendingEvents.0": {"$exists": true}};
    let mut count = 0;
    for collection in ["tickets", "users"] {
        count += store
            .collection::<mongodb::bson::Document>(collection)
            .count_documents(filter.clone())
            .await
            .expect("count unpublished events");
    }
    count
}

/// `quickfix provision` of names tagged `tag`; its settings by name.
fn provision_cli(tag: &str, endpoint: &str) -> HashMap<String, String> {
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
fn create_admin(settings: &Settings) {
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
async fn people(apis: &Apis) -> (Person, Vec<Person>, Vec<Person>) {
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

/// A customer client: opens tickets at the shared pace, each with a fresh `Idempotency-Key`,
/// alternating the API it prefers; a create that fails is sent again, unchanged, with the same
/// key, to the other API.
async fn open_tickets(run: Arc<Run>, customers: Arc<Vec<Person>>) {
    let interval = Duration::from_secs_f64(CLIENTS as f64 / CREATES_PER_SECOND);
    loop {
        let n = run.next.fetch_add(1, Ordering::SeqCst);
        if n >= TICKETS {
            return;
        }
        let started = Instant::now();
        let customer = &customers[n % customers.len()];
        let key = Uuid::new_v4().to_string();
        // A few titles trip the prioritisation rules ("urgent" → High, "outage" → Critical).
        let subject = match n % 20 {
            0 => "urgent: cannot pay my invoice",
            7 => "outage in the mobile app",
            _ => "something does not work",
        };
        let title = format!("Chaos #{n:03} {subject} [{}]", &key[..8]);
        let priority = ["Low", "Medium", "High"][n % 3];
        let body = json!({
            "title": title,
            "description": format!("Ticket {n} opened by {} during the chaos run.", customer.name),
            "category": CATEGORIES[n % CATEGORIES.len()],
            "priority": priority,
        });
        let mut request = Request::with_body(
            Method::POST,
            "/api/complaints",
            Some(&customer.token),
            &body,
        );
        request.idempotency_key = Some(&key);
        let until = Instant::now() + Duration::from_secs(120);
        let mut attempts = 0;
        let answer = loop {
            let answer = run.apis.send(n, &request).await;
            attempts += answer.attempts;
            // 409: the key's first request is still being answered somewhere; ask again.
            if answer.status == 409 && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            break answer;
        };
        assert!(
            matches!(answer.status, 200 | 201),
            "opening ticket {n} answered {}: {}",
            answer.status,
            answer.body
        );
        run.sent.lock().unwrap().push(Sent {
            key: key.clone(),
            title,
            ticket_id: answer.body["id"].as_str().unwrap().to_owned(),
            replayed: answer.replayed,
            api: answer.api,
            attempts,
        });
        run.created.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(interval.saturating_sub(started.elapsed())).await;
    }
}

/// An agent at work: lists what they hold, resolves what is in progress, starts and resolves
/// what is assigned (unless about to go offline), and checks they never hold more tickets
/// than their capacity.
async fn work_as_agent(run: Arc<Run>, index: usize, me: Person, capacity: u32) {
    let list = |status: &'static str| {
        let run = run.clone();
        let token = me.token.clone();
        async move {
            run.apis
                .send(
                    index,
                    &Request::get(format!("/api/complaints?status={status}&limit=100"), &token),
                )
                .await
                .expect(200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    while !run.finished.load(Ordering::SeqCst) {
        // In progress first, then assigned: only this agent moves a ticket from Assigned to
        // InProgress, so no ticket is counted twice.
        let in_progress = list("InProgress").await;
        let assigned = list("Assigned").await;
        if in_progress.len() + assigned.len() > capacity as usize {
            run.violation(format!(
                "agent {} (capacity {capacity}) holds {} tickets: in progress {in_progress:?}, assigned {assigned:?}",
                me.name,
                in_progress.len() + assigned.len()
            ));
        }
        for id in &in_progress {
            set_status(&run, index, &me, id, "Resolved").await;
        }
        if !run.paused[index].load(Ordering::SeqCst) {
            for id in &assigned {
                if run.paused[index].load(Ordering::SeqCst) {
                    break;
                }
                if set_status(&run, index, &me, id, "InProgress").await {
                    // A moment of work.
                    let ms = 50 + u64::from(Uuid::new_v4().as_bytes()[0]);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    set_status(&run, index, &me, id, "Resolved").await;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Moves a ticket the agent holds to `status`; `false` when the ticket moved on first
/// (requeued to someone else, or changed concurrently), which the next look sorts out.
async fn set_status(run: &Run, index: usize, me: &Person, id: &str, status: &str) -> bool {
    let answer = run
        .apis
        .send(
            index,
            &Request::with_body(
                Method::PATCH,
                format!("/api/complaints/{id}/status"),
                Some(&me.token),
                &json!({"status": status}),
            ),
        )
        .await;
    match answer.status {
        200 => {
            if status == "Resolved" {
                run.resolved_by_agents.fetch_add(1, Ordering::SeqCst);
            }
            true
        }
        403 | 404 | 409 => {
            run.agent_refusals.fetch_add(1, Ordering::SeqCst);
            false
        }
        other => {
            run.violation(format!(
                "agent {} moving {id} to {status} answered {other}: {}",
                me.name, answer.body
            ));
            false
        }
    }
}

/// Samples every agent's slots every 250 ms: never more tickets than capacity, never more
/// free slots than capacity (a slot given back twice).
async fn sample_agents(run: Arc<Run>, admin: Person) {
    let mut turn = 0;
    while !run.finished.load(Ordering::SeqCst) {
        turn += 1;
        let answer = run
            .apis
            .send(turn, &Request::get("/api/agents", &admin.token))
            .await;
        if answer.status == 200 {
            for agent in answer.body.as_array().unwrap() {
                let a = &agent["agent"];
                let (capacity, free, active) = (
                    a["capacity"].as_i64().unwrap(),
                    a["freeSlots"].as_i64().unwrap(),
                    a["activeTickets"].as_i64().unwrap(),
                );
                if active > capacity || free < 0 || free > capacity {
                    run.violation(format!(
                        "agent {} has capacity {capacity}, {free} free slots, {active} active tickets: {a}",
                        agent["name"]
                    ));
                }
            }
            run.agent_samples.fetch_add(1, Ordering::SeqCst);
        } else {
            run.violation(format!(
                "GET /api/agents answered {}: {}",
                answer.status, answer.body
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The faults, spread over the stream of new tickets: a worker killed and replaced, an API
/// killed while creates are in flight and started again on its address, the emulator frozen,
/// an agent offline and back.
async fn inflict_faults(
    run: Arc<Run>,
    cluster: Arc<Cluster>,
    aws_pid: u32,
    admin: Person,
    agent: Person,
) {
    run.wait_created(TICKETS * 15 / 100).await;
    let killed = run.mark("SIGKILL worker-1");
    cluster.kill("worker-1");
    cluster.start_worker("worker-4");
    cluster.wait_worker_ready("worker-4").await;
    let ready = run.mark("worker-4 (replacement) consuming");
    run.window("worker-1 killed", killed, ready);

    run.wait_created(TICKETS * 35 / 100).await;
    // Kill it with creates on the wire, so that some are cut off mid-request.
    let until = Instant::now() + Duration::from_secs(10);
    while run.apis.keyed_in_flight(0) == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let in_flight = run.apis.keyed_in_flight(0);
    cluster.kill("api-1");
    let killed = run.mark(format!(
        "SIGKILL api-1 with {in_flight} create(s) in flight"
    ));
    run.creates_in_flight_at_kill
        .store(in_flight, Ordering::SeqCst);
    cluster.start_api("api-1-restarted", 0);
    cluster.wait_api_ready("api-1-restarted", 0).await;
    let ready = run.mark("api-1 restarted and ready");
    run.window("api-1 killed", killed, ready);

    run.wait_created(TICKETS * 55 / 100).await;
    let freeze = Freeze::start(aws_pid);
    let frozen = run.mark(format!("SIGSTOP the SNS/SQS emulator for {FREEZE:?}"));
    tokio::time::sleep(FREEZE).await;
    freeze.thaw();
    let thawed = run.mark("SIGCONT the SNS/SQS emulator");
    run.window("emulator frozen", frozen, thawed);

    run.wait_created(TICKETS * 70 / 100).await;
    // The agent stops starting tickets, so that some sit assigned when they go offline.
    run.paused[OFFLINE_AGENT].store(true, Ordering::SeqCst);
    let held = |run: Arc<Run>, admin: Person, agent: Person| async move {
        run.apis
            .send(
                0,
                &Request::get(
                    format!(
                        "/api/complaints?assignee={}&status=Assigned&limit=100",
                        agent.id
                    ),
                    &admin.token,
                ),
            )
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let until = Instant::now() + Duration::from_secs(60);
    let mut holding = held(run.clone(), admin.clone(), agent.clone()).await;
    while holding == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        holding = held(run.clone(), admin.clone(), agent.clone()).await;
    }
    set_presence(&run, &admin, &agent, "offline").await;
    let offline = Instant::now();
    run.mark(format!(
        "agent {} offline, holding {holding} untouched ticket(s)",
        agent.name
    ));
    // The worker gives their untouched tickets back to the backlog; they stay offline until it
    // has (coming back first would rightly cancel the requeue).
    let mut left = held(run.clone(), admin.clone(), agent.clone()).await;
    while left > 0 && offline.elapsed() < REQUEUE_WITHIN {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = held(run.clone(), admin.clone(), agent.clone()).await;
    }
    if left > 0 {
        run.violation(format!(
            "agent {} went offline but still holds {left} untouched ticket(s) {REQUEUE_WITHIN:?} later",
            agent.name
        ));
    }
    run.mark(format!(
        "agent {}'s untouched tickets requeued after {:.1}s ({left} left)",
        agent.name,
        offline.elapsed().as_secs_f64()
    ));
    set_presence(&run, &admin, &agent, "online").await;
    run.paused[OFFLINE_AGENT].store(false, Ordering::SeqCst);
    run.mark(format!("agent {} online", agent.name));
}

async fn set_presence(run: &Run, admin: &Person, agent: &Person, presence: &str) {
    run.apis
        .send(
            0,
            &Request::with_body(
                Method::PATCH,
                format!("/api/agents/{}/presence", agent.id),
                Some(&admin.token),
                &json!({"presence": presence}),
            ),
        )
        .await
        .expect(200);
}

/// Tickets still open, assigned or in progress (at most a page of each).
async fn active_tickets(run: &Run, admin: &Person) -> Vec<Value> {
    let mut active = Vec::new();
    for status in ["Open", "Assigned", "InProgress"] {
        let page = run
            .apis
            .send(
                0,
                &Request::get(
                    format!("/api/complaints?status={status}&limit=100"),
                    &admin.token,
                ),
            )
            .await
            .expect(200);
        active.extend(page["items"].as_array().unwrap().iter().cloned());
    }
    active
}

/// Polls until no ticket is active; when, or `None` past the deadline.
async fn wait_all_resolved(run: &Run, admin: &Person, last_create: Instant) -> Option<Instant> {
    loop {
        if active_tickets(run, admin).await.is_empty() {
            return Some(Instant::now());
        }
        if last_create.elapsed() > DRAIN_WITHIN {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the tickets that never got resolved look like, with their histories.
async fn stuck_tickets(run: &Run, admin: &Person) -> String {
    let mut report = Vec::new();
    for t in active_tickets(run, admin).await.iter().take(20) {
        let id = t["id"].as_str().unwrap();
        let history = run
            .apis
            .send(
                0,
                &Request::get(format!("/api/complaints/{id}/history"), &admin.token),
            )
            .await
            .body;
        report.push(format!(
            "{} {} {} {} assigned to {}; history {history}",
            t["complaintId"], t["status"], t["category"], t["priority"], t["assignedTo"]
        ));
    }
    let agents = run
        .apis
        .send(0, &Request::get("/api/agents", &admin.token))
        .await
        .body;
    format!(
        "tickets still active {DRAIN_WITHIN:?} after the last create:\n{}\nagents: {agents}",
        report.join("\n")
    )
}

/// Once everything is resolved, every slot must come back (the worker releases it on
/// `ticket.resolved`; the sweep frees what a crash left behind).
async fn slots_left_held(run: &Run, admin: &Person) -> Option<String> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let agents = run
            .apis
            .send(0, &Request::get("/api/agents", &admin.token))
            .await
            .expect(200);
        let holding: Vec<String> = agents
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["agent"]["activeTickets"].as_i64() != Some(0))
            .map(|a| format!("{}: {}", a["name"], a["agent"]))
            .collect();
        if holding.is_empty() {
            return None;
        }
        if Instant::now() > until {
            return Some(format!(
                "slots still held 60 s after every ticket was resolved: {holding:#?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every ticket, page by page, as the admin lists them.
async fn all_tickets(run: &Run, admin: &Person) -> Vec<Value> {
    let mut tickets = Vec::new();
    let mut path = "/api/complaints?limit=100".to_owned();
    loop {
        let page = run
            .apis
            .send(0, &Request::get(path, &admin.token))
            .await
            .expect(200);
        tickets.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => path = format!("/api/complaints?limit=100&cursor={next}"),
            None => return tickets,
        }
    }
}

/// Reads a user's whole inbox; returns how many notifications it holds and what is wrong with
/// it (a notification listed twice, or one event notifying the same kind twice).
async fn check_inbox(run: &Run, person: &Person) -> (usize, Vec<String>) {
    const PAGE: usize = 200;
    let mut problems = Vec::new();
    let mut by_id: HashMap<String, Value> = HashMap::new();
    let mut since: Option<DateTime<Utc>> = None;
    loop {
        let path = match since {
            // `since` is exclusive and the page may end in the middle of a millisecond: ask from
            // just before it and skip what the previous page already had.
            Some(t) => format!(
                "/api/notifications?limit={PAGE}&since={}",
                (t - chrono::Duration::milliseconds(1))
                    .to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
            None => format!("/api/notifications?limit={PAGE}"),
        };
        let page = run
            .apis
            .send(0, &Request::get(path, &person.token))
            .await
            .expect(200);
        let page = page.as_array().unwrap().clone();
        let mut in_page = HashSet::new();
        let mut new = 0;
        for n in &page {
            let id = n["id"].as_str().unwrap().to_owned();
            if !in_page.insert(id.clone()) {
                problems.push(format!(
                    "{}'s inbox lists notification {id} twice",
                    person.name
                ));
            }
            if by_id.insert(id, n.clone()).is_none() {
                new += 1;
            }
        }
        if page.len() < PAGE {
            break;
        }
        if new == 0 {
            problems.push(format!(
                "{}'s inbox: a page of {PAGE} notifications within one millisecond; cannot page further",
                person.name
            ));
            break;
        }
        since = Some(
            serde_json::from_value(page[page.len() - 1]["createdAt"].clone())
                .expect("a notification's createdAt is a time"),
        );
    }
    let mut per_event_kind: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (id, n) in &by_id {
        per_event_kind
            .entry((
                n["eventId"].as_str().unwrap().to_owned(),
                n["kind"].as_str().unwrap().to_owned(),
            ))
            .or_default()
            .push(id.clone());
    }
    for ((event, kind), ids) in per_event_kind {
        if ids.len() > 1 {
            problems.push(format!(
                "{}'s inbox holds {} {kind} notifications for event {event}: {ids:?}",
                person.name,
                ids.len()
            ));
        }
    }
    (by_id.len(), problems)
}
