//! Worker benchmark: latency from ticket creation to assignment (p50/p95/p99) and worker
//! throughput in messages/s.
//!
//! 1. Embedded: in-memory store, in-process bus.
//! 2. SNS/SQS on the emulator (`QUICKFIX_TEST_AWS_ENDPOINT`, set by scripts/bench.sh) with the
//!    in-memory store, next to the emulator's raw publish→receive→delete rate measured in the
//!    same run: the ceiling the worker can reach there.
//!
//! Tickets are written the way the API writes them (ticket + `ticket.created` in one store
//! write, then the outbox relay publishes); 20 online agents with 50 slots each take them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use quickfix::domain::{
    AgentProfile, Categories, Clock, ComplaintId, Description, Email, Envelope, EventMetadata,
    EventType, NewTicket, PasswordHash, PersonName, Presence, Priority, PriorityRules, Role,
    Status, Ticket, Tier, Title, User, UserId,
};
use quickfix::worker::{ConsumerSettings, Context, Worker};
use quickfix::{
    MemoryStore, MemoryTopology, OutboxRelay, Publisher, Queue, RelaySettings, SnsPublisher,
    SqsQueue, Store, TicketQuery, TopologySpec, aws_config, provision,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Microsecond timestamps: the in-memory store keeps them, so latencies are exact.
struct PreciseClock;

impl Clock for PreciseClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

struct Row {
    setup: String,
    tickets: usize,
    messages: u64,
    seconds: f64,
    p50: f64,
    p95: f64,
    p99: f64,
}

fn meta() -> EventMetadata {
    EventMetadata {
        correlation_id: "bench".into(),
        causation_id: None,
        actor: "bench".into(),
    }
}

async fn seed_agents(store: &dyn Store) {
    let general = Categories::default().parse("skills", "General").unwrap();
    for i in 0..20 {
        let mut agent = User {
            id: UserId::generate(),
            name: PersonName::parse(&format!("Agent {i}")).unwrap(),
            email: Email::parse(&format!("agent{i}@bench.dev")).unwrap(),
            role: Role::Agent,
            password_hash: PasswordHash::from_phc(String::new()),
            agent: Some(AgentProfile::new(vec![general.clone()], Tier::Agent, 50).unwrap()),
            created_at: Utc::now(),
            revision: 0,
        };
        agent.set_presence(Presence::Online, Utc::now(), meta());
        store.insert_user(&agent, &[]).await.unwrap();
    }
}

/// Writes `count` tickets at `rate` per second, as the API would.
async fn create_tickets(store: &dyn Store, wake: &Notify, count: usize, rate: f64) {
    let customer = UserId::generate();
    let category = Categories::default().parse("category", "General").unwrap();
    let started = Instant::now();
    for i in 0..count {
        let due = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let seq = store.next_complaint_number().await.unwrap();
        let new = NewTicket {
            title: Title::parse(&format!("Bench ticket {i}")).unwrap(),
            description: Description::parse("printer jam").unwrap(),
            category: category.clone(),
            priority: Priority::Medium,
        };
        let (ticket, event) = Ticket::open(
            new,
            ComplaintId::from_sequence(seq),
            customer,
            PreciseClock.now(),
            meta(),
        );
        store.insert_ticket(&ticket, &[event]).await.unwrap();
        wake.notify_one();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs relay + worker until every ticket is assigned; returns the row.
async fn run(
    setup: &str,
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    queue: Arc<dyn Queue>,
    count: usize,
    rate: f64,
) -> Row {
    seed_agents(store.as_ref()).await;
    let wake = Arc::new(Notify::new());
    let stop = CancellationToken::new();
    let relay = OutboxRelay::new(
        store.clone(),
        publisher,
        wake.clone(),
        RelaySettings {
            sweep_interval: Duration::from_millis(100),
            ..RelaySettings::default()
        },
    );
    let relay_task = tokio::spawn(relay.run(stop.clone()));
    let ctx = Context {
        store: store.clone(),
        clock: Arc::new(PreciseClock),
        rules: PriorityRules::default(),
        outbox: wake.clone(),
        requeue_on_offline: true,
    };
    let settings = ConsumerSettings {
        wait: Duration::from_secs(1),
        ..ConsumerSettings::default()
    };
    let worker = Worker::new(queue, None, ctx, settings);
    let worker_stop = stop.clone();
    let worker_task = tokio::spawn(async move {
        let mut handled = 0u64;
        while !worker_stop.is_cancelled() {
            if let Ok(r) = worker.step(&worker_stop).await {
                handled += r.handled as u64;
            }
        }
        handled
    });

    let started = Instant::now();
    create_tickets(store.as_ref(), &wake, count, rate).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while store.count_open_tickets().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "tickets were not all assigned");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the follow-up events (ticket.assigned → notifications) be handled too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seconds = started.elapsed().as_secs_f64() - 2.0;
    stop.cancel();
    let messages = worker_task.await.unwrap();
    let _ = relay_task.await;

    let query = TicketQuery {
        status: Some(Status::Assigned),
        limit: count,
        ..TicketQuery::default()
    };
    let mut latencies: Vec<f64> = store
        .list_tickets(&query)
        .await
        .unwrap()
        .iter()
        .map(|t| {
            (t.assigned_at.unwrap() - t.created_at)
                .num_microseconds()
                .unwrap() as f64
                / 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    Row {
        setup: setup.to_owned(),
        tickets: latencies.len(),
        messages,
        seconds,
        p50: percentile(&latencies, 50.0),
        p95: percentile(&latencies, 95.0),
        p99: percentile(&latencies, 99.0),
    }
}

/// The emulator's raw rate: publish `count` events (batches of ten) while one consumer receives
/// and deletes them (batches of ten); cycles per second.
async fn raw_ceiling(publisher: Arc<dyn Publisher>, queue: Arc<dyn Queue>, count: usize) -> f64 {
    let started = Instant::now();
    let producer = tokio::spawn(async move {
        let events: Vec<Envelope> = (0..count)
            .map(|i| {
                Envelope::new(
                    EventType::TicketCreated,
                    serde_json::json!({"n": i}),
                    meta(),
                    Utc::now(),
                )
            })
            .collect();
        for chunk in events.chunks(10) {
            publisher.publish(chunk).await.unwrap();
        }
    });
    let mut deleted = 0;
    while deleted < count {
        let batch = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        if !receipts.is_empty() {
            queue.delete(&receipts).await.unwrap();
        }
        deleted += receipts.len();
    }
    producer.await.unwrap();
    count as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut ceiling = None;
    rt.block_on(async {
        let t = MemoryTopology::provision(&TopologySpec::default());
        rows.push(run("embedded, 500 tickets/s", Arc::new(MemoryStore::new()), t.topic, t.queue, 1000, 500.0).await);

        match std::env::var("QUICKFIX_TEST_AWS_ENDPOINT") {
            Ok(endpoint) => {
                let options = quickfix::AwsOptions { endpoint_url: Some(endpoint), region: Some("us-east-1".into()) };
                let config = aws_config(&options).await;
                let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
                let topology_for = |name: &str| TopologySpec {
                    topic_name: format!("bench-{tag}-{name}"),
                    queue_name: format!("bench-{tag}-{name}-q"),
                    dead_letter_queue_name: format!("bench-{tag}-{name}-dlq"),
                    ..TopologySpec::default()
                };
                let raw = provision(&config, &topology_for("raw")).await.unwrap();
                ceiling = Some(
                    raw_ceiling(
                        Arc::new(SnsPublisher::new(&config, &raw.topic_arn)),
                        Arc::new(SqsQueue::new(&config, &raw.queue_url)),
                        600,
                    )
                    .await,
                );
                let w = provision(&config, &topology_for("worker")).await.unwrap();
                rows.push(
                    run(
                        "SNS/SQS emulator, memory store",
                        Arc::new(MemoryStore::new()),
                        Arc::new(SnsPublisher::new(&config, &w.topic_arn)),
                        Arc::new(SqsQueue::new(&config, &w.queue_url)),
                        300,
                        1000.0,
                    )
                    .await,
                );
            }
            Err(_) => eprintln!("QUICKFIX_TEST_AWS_ENDPOINT not set: emulator rows skipped (scripts/bench.sh sets it)"),
        }
    });

    println!();
    println!(
        "| setup                            | tickets | messages | msgs/s | p50 ms | p95 ms | p99 ms |"
    );
    println!(
        "|----------------------------------|--------:|---------:|-------:|-------:|-------:|-------:|"
    );
    for r in &rows {
        println!(
            "| {:<32} | {:>7} | {:>8} | {:>6.0} | {:>6.2} | {:>6.2} | {:>6.2} |",
            r.setup,
            r.tickets,
            r.messages,
            r.messages as f64 / r.seconds,
            r.p50,
            r.p95,
            r.p99
        );
    }
    if let (Some(ceiling), Some(row)) = (ceiling, rows.get(1)) {
        let rate = row.messages as f64 / row.seconds;
        println!();
        println!(
            "emulator raw publish→receive→delete: {ceiling:.0} msgs/s; worker: {rate:.0} msgs/s ({:.0}% of the ceiling)",
            100.0 * rate / ceiling
        );
    }
}
