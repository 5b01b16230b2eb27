//! Escalation scan benchmark: one scan over 100,000 open tickets with conversations (replies
//! waiting for an answer, tickets waiting on the customer), on the embedded store and on
//! MongoDB (`QUICKFIX_TEST_MONGODB_URI`, set by scripts/bench.sh).
//!
//! Two shapes per store: the steady state, where no ticket is due (the scan's index query finds
//! nothing), and a backlog where 1% of the open tickets (1,000) are past their first-response
//! target, so one scan records 1,000 breaches and applies 1,000 escalation steps. The MongoDB
//! row also prints the query plan of the scan's query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use quickfix::domain::{
    Categories, ComplaintId, Description, EventMetadata, ManualClock, MessageBody, NewTicket,
    Principal, Priority, PriorityRules, Role, SlaPolicy, Status, Ticket, Title, UserId,
};
use quickfix::worker::{Context, scan};
use quickfix::{MemoryStore, MongoStore, MongoStoreOptions, Store, TicketStore};
use tokio::sync::Notify;

const OPEN: usize = 100_000;
const DUE: usize = 1_000;
const IDLE_RUNS: usize = 20;

fn meta() -> EventMetadata {
    EventMetadata::requested("bench", "bench")
}

/// `count` open tickets, each with a conversation; `due` of them Critical, opened an hour
/// before `now` and still in the backlog (their first response is overdue, the customer wrote
/// again just now), the rest Low and opened in the last minutes, assigned and answered:
/// every other one waits for the staff's next reply (its clock runs), and every fourth waits on
/// the customer (`Pending`, its resolution clock paused).
fn tickets(now: DateTime<Utc>, count: usize, due: usize, first_seq: u64) -> Vec<Ticket> {
    let policy = SlaPolicy::default();
    let category = Categories::default().parse("category", "General").unwrap();
    let body = |text: &str| MessageBody::parse("body", text).unwrap();
    (0..count)
        .map(|i| {
            let overdue = i < due;
            let (priority, opened) = if overdue {
                (Priority::Critical, now - TimeDelta::hours(1))
            } else {
                (Priority::Low, now - TimeDelta::seconds((i % 600) as i64))
            };
            let new = NewTicket {
                title: Title::parse(&format!("Bench ticket {i}")).unwrap(),
                description: Description::parse("printer jam").unwrap(),
                category: category.clone(),
                priority,
                terms: Default::default(),
            };
            let customer = Principal {
                id: UserId::generate(),
                role: Role::Customer,
            };
            let (mut ticket, _) = Ticket::open(
                new,
                ComplaintId::from_sequence(first_seq + i as u64),
                customer.id,
                &policy,
                opened,
                meta(),
            );
            let agent = Principal {
                id: UserId::generate(),
                role: Role::Agent,
            };
            if overdue {
                ticket
                    .reply(&customer, body("Any news?"), &policy, now, meta())
                    .unwrap();
            } else {
                ticket
                    .assign(agent.id, "bench", None, opened, meta())
                    .unwrap();
                ticket
                    .reply(&agent, body("Which model?"), &policy, opened, meta())
                    .unwrap();
                ticket
                    .reply(&customer, body("The LX-200"), &policy, opened, meta())
                    .unwrap();
                if i % 2 == 0 {
                    ticket
                        .reply(&agent, body("Thanks, checking"), &policy, opened, meta())
                        .unwrap();
                }
                if i % 4 == 0 {
                    ticket
                        .change_status(&agent, Status::Pending, None, &policy, opened, meta())
                        .unwrap();
                }
            }
            ticket.plan_sla_check(&policy);
            ticket
        })
        .collect()
}

struct Row {
    store: &'static str,
    shape: String,
    micros: f64,
    found: usize,
}

fn context(store: Arc<dyn Store>, now: DateTime<Utc>) -> Context {
    Context {
        store,
        clock: Arc::new(ManualClock::new(now)),
        rules: PriorityRules::default(),
        sla: Arc::new(SlaPolicy::default()),
        outbox: Arc::new(Notify::new()),
        requeue_on_offline: true,
    }
}

/// Median time of `IDLE_RUNS` scans that find nothing due.
async fn idle_scan(ctx: &Context) -> (Duration, usize) {
    let mut times = Vec::with_capacity(IDLE_RUNS);
    let mut found = 0;
    for _ in 0..IDLE_RUNS {
        let started = Instant::now();
        found = scan(ctx).await.unwrap().escalations;
        times.push(started.elapsed());
    }
    times.sort();
    (times[IDLE_RUNS / 2], found)
}

async fn measure(
    name: &'static str,
    store: Arc<dyn Store>,
    load: impl AsyncFn(&[Ticket]),
    rows: &mut Vec<Row>,
) {
    let now = Utc::now();
    let started = Instant::now();
    load(&tickets(now, OPEN - DUE, 0, 1)).await;
    eprintln!(
        "{name}: {} open tickets loaded in {:.1?}",
        OPEN - DUE,
        started.elapsed()
    );
    let ctx = context(store, now);
    let (idle, _) = idle_scan(&ctx).await;
    rows.push(Row {
        store: name,
        shape: format!("{} open, none due", OPEN - DUE),
        micros: idle.as_secs_f64() * 1e6,
        found: 0,
    });
    load(&tickets(now, DUE, DUE, (OPEN - DUE + 1) as u64)).await;
    let started = Instant::now();
    let report = scan(&ctx).await.unwrap();
    let busy = started.elapsed();
    assert_eq!(report.breaches, DUE, "{report:?}");
    rows.push(Row {
        store: name,
        shape: format!("{OPEN} open, {DUE} due"),
        micros: busy.as_secs_f64() * 1e6,
        found: report.escalations,
    });
    let (after, _) = idle_scan(&ctx).await;
    rows.push(Row {
        store: name,
        shape: format!("{OPEN} open, none due (after)"),
        micros: after.as_secs_f64() * 1e6,
        found: 0,
    });
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    runtime.block_on(async {
        let memory = Arc::new(MemoryStore::new());
        let target = memory.clone();
        let load = async move |batch: &[Ticket]| {
            for t in batch {
                target.insert_ticket(t, &[]).await.unwrap();
            }
        };
        measure("embedded", memory, load, &mut rows).await;

        match std::env::var("QUICKFIX_TEST_MONGODB_URI") {
            Ok(uri) => {
                let db = format!("qf_bench_{}", uuid::Uuid::new_v4().simple());
                let mongo = Arc::new(
                    MongoStore::connect(&uri, &db, MongoStoreOptions::default())
                        .await
                        .unwrap(),
                );
                let target = mongo.clone();
                let load =
                    async move |batch: &[Ticket]| target.insert_tickets(batch).await.unwrap();
                measure("MongoDB (SecantusDB)", mongo.clone(), load, &mut rows).await;
                let plan = mongo.explain_sla_scan(Utc::now(), 500).await.unwrap();
                println!(
                    "\nMongoDB plan of the scan query (sla.checkAt <= now, sorted, limit 500):"
                );
                println!("{plan}");
            }
            Err(_) => eprintln!(
                "QUICKFIX_TEST_MONGODB_URI not set: MongoDB rows skipped (scripts/bench.sh sets it)"
            ),
        }
    });
    println!();
    println!("| store | tickets | time per scan (µs) | escalations |");
    println!("|---|---|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {} |",
            r.store, r.shape, r.micros, r.found
        );
    }
    println!();
}
