//! The event log: search latency over 1,000,000 logged events in the embedded store and over
//! 100,000 on MongoDB (when `QUICKFIX_TEST_MONGODB_URI` is set), and the replay rate to the
//! SNS/SQS emulator against the emulator's raw publish rate in the same run (when
//! `QUICKFIX_TEST_AWS_ENDPOINT` is set; scripts/bench.sh sets both).
//!
//! Searches mix the API's shapes: one ticket's timeline, one correlation id, one actor's page
//! in a one-hour window, one type's page in a one-hour window, and the page after a cursor.
//! `BENCH_LOG_EVENTS` and `BENCH_LOG_EVENTS_MONGO` change the sizes.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use quickfix::domain::{
    ComplaintId, Envelope, Event, EventMetadata, EventQuery, EventType, LoggedEvent, Priority,
    SlaAlert, SlaTarget, Status, TicketId, TicketRequeued, UserId,
};
use quickfix::replay::{Progress, ReplaySettings, ReplayTarget, replay};
use quickfix::{
    EventLog, MemoryEventLog, MongoStore, MongoStoreOptions, Publisher, SnsPublisher, Store,
    TopologySpec, aws_config, provision,
};
use support::percentile;

const QUERIES: usize = 1000;
const TICKETS: usize = 50_000;
const ACTORS: usize = 200;
const CORRELATIONS: usize = 100_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A day of `n` events over [`TICKETS`] tickets, oldest first.
struct Corpus {
    tickets: Vec<TicketId>,
    actors: Vec<String>,
    start: DateTime<Utc>,
    events: Vec<LoggedEvent>,
}

fn corpus(n: usize) -> Corpus {
    let mut rng = Lcg(7);
    let tickets: Vec<TicketId> = (0..TICKETS).map(|_| TicketId::generate()).collect();
    let actors: Vec<String> = (0..ACTORS).map(|i| format!("user-{i}")).collect();
    let start = Utc::now() - TimeDelta::hours(24);
    let step = 86_400_000_000 / n as i64; // microseconds
    let events = (0..n)
        .map(|i| {
            let at = start + TimeDelta::microseconds(step * i as i64);
            let ticket = tickets[rng.next(TICKETS)];
            let correlation = format!("req-{}", rng.next(CORRELATIONS));
            let actor = &actors[rng.next(ACTORS)];
            let (complaint_id, user_id) = (ComplaintId::from_sequence(1), UserId::generate());
            let event = if rng.next(4) == 0 {
                Event::SlaWarning(SlaAlert {
                    ticket_id: ticket,
                    complaint_id,
                    user_id,
                    title: "A ticket".into(),
                    priority: Priority::High,
                    status: Status::Assigned,
                    assigned_to: None,
                    target: SlaTarget::Resolution,
                    due_at: at,
                    rule: "High resolution target 8h".into(),
                })
            } else {
                Event::TicketRequeued(TicketRequeued {
                    ticket_id: ticket,
                    complaint_id,
                    user_id,
                    title: "A ticket".into(),
                    category: "General".into(),
                    priority: Priority::Low,
                    previous_assignee: None,
                    reason: "bench".into(),
                })
            };
            let envelope = Envelope::new(event, EventMetadata::requested(correlation, actor), at);
            LoggedEvent::new(envelope, at)
        })
        .collect();
    Corpus {
        tickets,
        actors,
        start,
        events,
    }
}

/// The `i`th query of the mix.
fn query(c: &Corpus, rng: &mut Lcg) -> (&'static str, EventQuery) {
    let hour = c.start + TimeDelta::hours(rng.next(23) as i64);
    let window = |q: EventQuery| EventQuery {
        from: Some(hour),
        to: Some(hour + TimeDelta::hours(1)),
        limit: 50,
        ..q
    };
    match rng.next(5) {
        0 => (
            "ticket timeline",
            EventQuery {
                ticket: Some(c.tickets[rng.next(TICKETS)]),
                limit: 500,
                ..EventQuery::default()
            },
        ),
        1 => (
            "correlation id",
            EventQuery {
                correlation_id: Some(format!("req-{}", rng.next(CORRELATIONS))),
                limit: 50,
                ..EventQuery::default()
            },
        ),
        2 => (
            "actor, 1 h window",
            window(EventQuery {
                actor: Some(c.actors[rng.next(ACTORS)].clone()),
                ..EventQuery::default()
            }),
        ),
        3 => (
            "type, 1 h window",
            window(EventQuery {
                types: vec![EventType::SlaWarning],
                ..EventQuery::default()
            }),
        ),
        _ => (
            "page after a cursor",
            EventQuery {
                after: Some(c.events[rng.next(c.events.len())].position()),
                limit: 50,
                ..EventQuery::default()
            },
        ),
    }
}

/// Runs `count` queries of the mix; returns p50 and p99 over all of them, and per shape.
async fn search_latency(
    log: &dyn EventLog,
    c: &Corpus,
    count: usize,
) -> (
    (Duration, Duration),
    Vec<(&'static str, Duration, Duration)>,
) {
    let mut rng = Lcg(99);
    let mut all = Vec::with_capacity(count);
    let mut by_shape: std::collections::BTreeMap<&'static str, Vec<Duration>> = Default::default();
    for _ in 0..count {
        let (shape, q) = query(c, &mut rng);
        let t = Instant::now();
        let found = log.search(&q).await.expect("search");
        let took = t.elapsed();
        all.push(took);
        by_shape.entry(shape).or_default().push(took);
        std::hint::black_box(found);
    }
    all.sort_unstable();
    let shapes = by_shape
        .into_iter()
        .map(|(shape, mut l)| {
            l.sort_unstable();
            (shape, percentile(&l, 50.0), percentile(&l, 99.0))
        })
        .collect();
    ((percentile(&all, 50.0), percentile(&all, 99.0)), shapes)
}

async fn record_all(log: &dyn EventLog, events: &[LoggedEvent]) -> Duration {
    let t = Instant::now();
    for chunk in events.chunks(1000) {
        log.record(chunk).await.expect("record");
    }
    t.elapsed()
}

/// Raw `PublishBatch` of `events` to the emulator's topic, ten at a time, one call after the
/// other (the replay's pattern); returns events per second.
async fn raw_publish_rate(publisher: &SnsPublisher, events: &[Envelope]) -> f64 {
    let t = Instant::now();
    for chunk in events.chunks(10) {
        let report = publisher.publish(chunk).await.expect("publish");
        assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    }
    events.len() as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!();
        println!("| log                 | events    | load s | queries | search p50 ms | search p99 ms |");
        println!("|---------------------|----------:|-------:|--------:|--------------:|--------------:|");
        let n = env_or("BENCH_LOG_EVENTS", 1_000_000) as usize;
        let c = corpus(n);
        let embedded = MemoryEventLog::default();
        let load = record_all(&embedded, &c.events).await;
        let ((p50, p99), shapes) = search_latency(&embedded, &c, QUERIES).await;
        row("embedded", n, load, p50, p99);
        let mut breakdown = vec![("embedded", shapes)];
        drop(embedded);

        let mongo = match std::env::var("QUICKFIX_TEST_MONGODB_URI") {
            Ok(uri) => {
                let db = format!("qf_bench_{}", uuid::Uuid::new_v4().simple());
                let store = MongoStore::connect(&uri, &db, MongoStoreOptions::default())
                    .await
                    .expect("connect MongoDB");
                let n = env_or("BENCH_LOG_EVENTS_MONGO", 100_000) as usize;
                let c = corpus(n);
                let log = store.event_log();
                let load = record_all(log.as_ref(), &c.events).await;
                let ((p50, p99), shapes) = search_latency(log.as_ref(), &c, QUERIES / 4).await;
                row("MongoDB-compatible", n, load, p50, p99);
                breakdown.push(("MongoDB-compatible", shapes));
                Some(store)
            }
            Err(_) => {
                eprintln!("QUICKFIX_TEST_MONGODB_URI not set: MongoDB row skipped");
                None
            }
        };

        println!();
        println!("| log                 | query shape          | p50 ms   | p99 ms   |");
        println!("|---------------------|----------------------|---------:|---------:|");
        for (log, shapes) in breakdown {
            for (shape, p50, p99) in shapes {
                println!(
                    "| {log:<19} | {shape:<20} | {:>8.3} | {:>8.3} |",
                    p50.as_secs_f64() * 1000.0,
                    p99.as_secs_f64() * 1000.0
                );
            }
        }

        match (mongo, std::env::var("QUICKFIX_TEST_AWS_ENDPOINT")) {
            (Some(store), Ok(endpoint)) => replay_vs_raw(store, &endpoint).await,
            _ => eprintln!("replay rate skipped: needs QUICKFIX_TEST_MONGODB_URI and QUICKFIX_TEST_AWS_ENDPOINT"),
        }
    });
}

fn row(log: &str, n: usize, load: Duration, p50: Duration, p99: Duration) {
    println!(
        "| {log:<19} | {n:>9} | {:>6.1} | {:>7} | {:>13.3} | {:>13.3} |",
        load.as_secs_f64(),
        if log == "embedded" {
            QUERIES
        } else {
            QUERIES / 4
        },
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    );
}

/// Replays a logged window to the emulator's topic and publishes the same events raw, in the
/// same run; prints both rates and their ratio.
async fn replay_vs_raw(store: MongoStore, endpoint: &str) {
    let events = env_or("BENCH_REPLAY_EVENTS", 2000) as usize;
    let options = quickfix::AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        region: Some("us-east-1".into()),
    };
    let config = aws_config(&options).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let spec = TopologySpec {
        topic_name: format!("qf-bench-{}", &tag[..8]),
        queue_name: format!("qf-bench-{}", &tag[..8]),
        dead_letter_queue_name: format!("qf-bench-{}-dlq", &tag[..8]),
        ..TopologySpec::default()
    };
    let topology = provision(&config, &spec).await.expect("provision");
    let publisher = Arc::new(SnsPublisher::new(&config, &topology.topic_arn));
    // A recent window of its own in the MongoDB log.
    let mut c = corpus(events);
    let shift = Utc::now() - TimeDelta::minutes(5) - c.start;
    for e in &mut c.events {
        e.envelope.timestamp += shift;
        e.envelope.metadata.correlation_id = format!("replay-{tag}");
    }
    let log = store.event_log();
    log.record(&c.events).await.expect("record");
    let envelopes: Vec<Envelope> = c.events.iter().map(|e| e.envelope.clone()).collect();
    let query = EventQuery {
        correlation_id: Some(format!("replay-{tag}")),
        limit: usize::MAX,
        ..EventQuery::default()
    };
    // Interleaved, three times, so neither side gets the warmer emulator.
    let mut raw = Vec::new();
    let mut replayed = Vec::new();
    for _ in 0..3 {
        raw.push(raw_publish_rate(&publisher, &envelopes).await);
        let report = replay(
            log.as_ref(),
            &query,
            &mut ReplayTarget::Topic(publisher.clone()),
            &ReplaySettings::default(),
            &mut Progress::silent(),
        )
        .await
        .expect("replay");
        assert_eq!(report.sent as usize, events);
        replayed.push(report.rate());
    }
    // The log read alone (the same window to a sink): what a replay adds to the publishes.
    let read = replay(
        log.as_ref(),
        &query,
        &mut ReplayTarget::Lines(Box::new(std::io::sink())),
        &ReplaySettings::default(),
        &mut Progress::silent(),
    )
    .await
    .expect("read")
    .rate();
    let (raw, replayed) = (
        raw.iter().sum::<f64>() / raw.len() as f64,
        replayed.iter().sum::<f64>() / replayed.len() as f64,
    );
    println!();
    println!("| to the emulator's topic      | events | events/s |");
    println!("|------------------------------|-------:|---------:|");
    println!("| raw PublishBatch of 10       | {events:>6} | {raw:>8.0} |");
    println!("| quickfix events replay       | {events:>6} | {replayed:>8.0} |");
    println!("| the log read alone (no send) | {events:>6} | {read:>8.0} |");
    println!(
        "| replay / raw                 |        | {:>7.0}% |",
        replayed / raw * 100.0
    );
}
