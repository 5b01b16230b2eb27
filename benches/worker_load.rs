//! Worker benchmark: latency from ticket creation to assignment (p50/p95/p99) and worker
//! throughput in messages/s.
//!
//! 1. Embedded: in-memory store, in-process bus.
//! 2. SNS/SQS on the emulator (`QUICKFIX_TEST_AWS_ENDPOINT`, set by scripts/bench.sh) with the
//!    in-memory store, next to the emulator's raw publish→receive→delete rate measured in the
//!    same run: the ceiling the worker can reach there.
//!
//! Tickets are written the way the API writes them (ticket + `ticket.created` in one store
//! write, then the outbox relay publishes); 20 online agents with 50 slots each take them, and no
//! run offers more tickets than those 1,000 slots.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use quickfix::domain::{
    Categories, Clock, ComplaintId, Description, Envelope, Event, NewTicket, Priority,
    PriorityRules, SlaPolicy, Status, Ticket, TicketCreated, TicketId, Title, UserId,
};
use quickfix::worker::{ConsumerSettings, Context, Worker};
use quickfix::{
    MemoryStore, MemoryTopology, OutboxRelay, Publisher, Queue, RelaySettings, SnsPublisher,
    SqsQueue, Store, TicketQuery, TopologySpec, aws_config, provision,
};
use support::{meta, percentile, seed_agents};
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
    p50: f64,
    p95: f64,
    p99: f64,
}

/// 20 agents with 50 slots each: every ticket of a run can be assigned.
const AGENT_SLOTS: usize = support::AGENTS * support::SLOTS_PER_AGENT as usize;

/// Writes `count` tickets at `rate` per second, as the API would.
/// (`f64::MAX` means as fast as the store takes them.)
async fn create_tickets(store: &dyn Store, wake: &Notify, count: usize, rate: f64) {
    let customer = UserId::generate();
    let category = Categories::default().parse("category", "General").unwrap();
    let started = Instant::now();
    for i in 0..count {
        if rate.is_finite() {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let seq = store.next_complaint_number().await.unwrap();
        let new = NewTicket {
            title: Title::parse(&format!("Bench ticket {i}")).unwrap(),
            description: Description::parse("printer jam").unwrap(),
            category: category.clone(),
            priority: Priority::Medium,
            terms: Default::default(),
        };
        let (ticket, event) = Ticket::open(
            new,
            ComplaintId::from_sequence(seq),
            customer,
            &SlaPolicy::default(),
            PreciseClock.now(),
            meta(),
        );
        store.insert_ticket(&ticket, &[event]).await.unwrap();
        wake.notify_one();
    }
}

/// Relay + worker over the given adapters.
struct Pipeline {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    relay: tokio::task::JoinHandle<()>,
    worker: Option<Worker>,
}

impl Pipeline {
    async fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn Publisher>,
        queue: Arc<dyn Queue>,
    ) -> Self {
        seed_agents(store.as_ref(), "bench.dev").await;
        let wake = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let relay_settings = RelaySettings {
            sweep_interval: Duration::from_millis(100),
            ..RelaySettings::default()
        };
        let relay = tokio::spawn(
            OutboxRelay::new(store.clone(), publisher, wake.clone(), relay_settings)
                .run(stop.clone()),
        );
        let ctx = Context {
            store: store.clone(),
            clock: Arc::new(PreciseClock),
            rules: PriorityRules::default(),
            sla: Arc::new(SlaPolicy::default()),
            outbox: wake.clone(),
            requeue_on_offline: true,
        };
        let settings = ConsumerSettings {
            wait: Duration::from_secs(1),
            ..ConsumerSettings::default()
        };
        let worker = Some(Worker::new(queue, None, ctx, settings));
        Self {
            store,
            wake,
            stop,
            relay,
            worker,
        }
    }

    /// Starts consuming; the task returns how many messages it handled once `until` of them are
    /// handled or the pipeline stops.
    fn start_worker(&mut self, until: u64) -> tokio::task::JoinHandle<(u64, Instant)> {
        let worker = self.worker.take().expect("worker started once");
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut handled = 0u64;
            while handled < until && !stop.is_cancelled() {
                if let Ok(r) = worker.step(&stop).await {
                    handled += r.handled as u64;
                }
            }
            (handled, Instant::now())
        })
    }

    async fn wait_until_published(&self) {
        while !self.store.pending_events(1).await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.relay.await;
    }
}

/// Creation → assignment latency at an offered `rate` below what the backend sustains.
async fn latency(
    setup: &str,
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    queue: Arc<dyn Queue>,
    count: usize,
    rate: f64,
) -> Row {
    let mut p = Pipeline::new(store.clone(), publisher, queue).await;
    let worker = p.start_worker(u64::MAX);
    create_tickets(store.as_ref(), &p.wake, count, rate).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while store.count_open_tickets().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "tickets were not all assigned");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    p.stop.cancel();
    let (messages, _) = worker.await.unwrap();
    p.stop().await;
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
        setup: format!("{setup}, {rate} tickets/s"),
        tickets: latencies.len(),
        messages,
        p50: percentile(&latencies, 50.0),
        p95: percentile(&latencies, 95.0),
        p99: percentile(&latencies, 99.0),
    }
}

/// Worker throughput from a backlog: `count` tickets whose `ticket.created` is already on the
/// queue; the clock runs while the worker handles them and the `ticket.assigned` follow-ups
/// the relay publishes meanwhile (2 × `count` messages: `count` published during the run).
async fn throughput(
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    queue: Arc<dyn Queue>,
    count: usize,
) -> f64 {
    let mut p = Pipeline::new(store.clone(), publisher, queue).await;
    create_tickets(store.as_ref(), &p.wake, count, f64::MAX).await;
    p.wait_until_published().await;
    let started = Instant::now();
    let (handled, finished) = p.start_worker(2 * count as u64).await.unwrap();
    p.stop().await;
    handled as f64 / (finished - started).as_secs_f64()
}

/// The emulator's raw rate for the same traffic: `count` messages already on the queue, `count`
/// more published (batches of ten) while one consumer receives and deletes (batches of ten).
async fn raw_ceiling(publisher: Arc<dyn Publisher>, queue: Arc<dyn Queue>, count: usize) -> f64 {
    let events = |n: usize| -> Vec<Envelope> {
        (0..n)
            .map(|i| {
                Envelope::new(
                    Event::TicketCreated(TicketCreated {
                        ticket_id: TicketId::generate(),
                        complaint_id: ComplaintId::from_sequence(i as u64 + 1),
                        user_id: UserId::generate(),
                        title: format!("ticket {i}"),
                        category: "Technical".into(),
                        priority: Priority::Medium,
                        assigned_to: None,
                        description: "Printer on fire".into(),
                    }),
                    meta(),
                    Utc::now(),
                )
            })
            .collect()
    };
    for chunk in events(count).chunks(10) {
        publisher.publish(chunk).await.unwrap();
    }
    let started = Instant::now();
    let producer = tokio::spawn(async move {
        for chunk in events(count).chunks(10) {
            publisher.publish(chunk).await.unwrap();
        }
    });
    let mut deleted = 0;
    while deleted < 2 * count {
        let batch = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        if !receipts.is_empty() {
            queue.delete(&receipts).await.unwrap();
        }
        deleted += receipts.len();
    }
    producer.await.unwrap();
    deleted as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut rates = Vec::new();
    rt.block_on(async {
        let t = MemoryTopology::provision(&TopologySpec::default());
        rows.push(latency("embedded", Arc::new(MemoryStore::new()), t.topic, t.queue, AGENT_SLOTS, 500.0).await);
        let t = MemoryTopology::provision(&TopologySpec::default());
        let rate = throughput(Arc::new(MemoryStore::new()), t.topic, t.queue, AGENT_SLOTS).await;
        rates.push(format!("embedded worker, {AGENT_SLOTS}-ticket backlog: {rate:.0} msgs/s"));

        match std::env::var("QUICKFIX_TEST_AWS_ENDPOINT") {
            Ok(endpoint) => {
                let options = quickfix::AwsOptions { endpoint_url: Some(endpoint), region: Some("us-east-1".into()) };
                let config = aws_config(&options).await;
                let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
                let spec = |name: &str| TopologySpec {
                    topic_name: format!("bench-{tag}-{name}"),
                    queue_name: format!("bench-{tag}-{name}-q"),
                    dead_letter_queue_name: format!("bench-{tag}-{name}-dlq"),
                    ..TopologySpec::default()
                };
                let adapters = |t: quickfix::Topology| -> (Arc<dyn Publisher>, Arc<dyn Queue>) {
                    (Arc::new(SnsPublisher::new(&config, &t.topic_arn)), Arc::new(SqsQueue::new(&config, &t.queue_url)))
                };
                let (publisher, queue) = adapters(provision(&config, &spec("lat")).await.unwrap());
                rows.push(latency("SNS/SQS emulator", Arc::new(MemoryStore::new()), publisher, queue, 40, 5.0).await);
                let (publisher, queue) = adapters(provision(&config, &spec("raw")).await.unwrap());
                let ceiling = raw_ceiling(publisher, queue, 200).await;
                let (publisher, queue) = adapters(provision(&config, &spec("thr")).await.unwrap());
                let worker = throughput(Arc::new(MemoryStore::new()), publisher, queue, 200).await;
                rates.push(format!(
                    "emulator raw publish→receive→delete: {ceiling:.0} msgs/s; worker: {worker:.0} msgs/s ({:.0}% of the ceiling)",
                    100.0 * worker / ceiling
                ));
            }
            Err(_) => eprintln!("QUICKFIX_TEST_AWS_ENDPOINT not set: emulator rows skipped (scripts/bench.sh sets it)"),
        }
    });

    println!();
    println!(
        "| creation → assignment            | tickets | messages | p50 ms | p95 ms | p99 ms |"
    );
    println!(
        "|----------------------------------|--------:|---------:|-------:|-------:|-------:|"
    );
    for r in &rows {
        println!(
            "| {:<32} | {:>7} | {:>8} | {:>6.2} | {:>6.2} | {:>6.2} |",
            r.setup, r.tickets, r.messages, r.p50, r.p95, r.p99
        );
    }
    println!();
    for line in rates {
        println!("{line}");
    }
}
