//! The event log's contract, for both adapters: idempotent recording, search by every key in
//! log order, cursor pages and scans, retention, and causal timelines. The same random queries are put
//! to both adapters and must get the same answers.

mod common;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use futures::TryStreamExt;
use quickfix::domain::{EventMetadata, EventQuery, EventType, LoggedEvent, TicketId};
use quickfix::{EventLog, MemoryEventLog, Store, ticket_timeline};

use common::logged;
use uuid::Uuid;

fn ids(events: &[LoggedEvent]) -> Vec<Uuid> {
    events.iter().map(LoggedEvent::event_id).collect()
}

fn everything() -> EventQuery {
    EventQuery {
        limit: 10_000,
        ..EventQuery::default()
    }
}

/// Sorted by log order, as a search answers.
fn in_log_order(mut events: Vec<LoggedEvent>) -> Vec<LoggedEvent> {
    events.sort_by_key(LoggedEvent::position);
    events
}

async fn recording_is_idempotent_on_the_event_id(store: Arc<dyn Store>) {
    let log = store.event_log();
    let ticket = TicketId::generate();
    let t0 = Utc::now() - TimeDelta::minutes(5);
    let first: Vec<LoggedEvent> = (0..3)
        .map(|i| {
            logged(
                EventType::TicketRequeued,
                ticket,
                "a",
                "c",
                t0 + TimeDelta::seconds(i),
            )
        })
        .collect();
    assert_eq!(log.record(&first).await.unwrap(), 3);
    let mut again = first.clone();
    again.push(logged(
        EventType::TicketRequeued,
        ticket,
        "a",
        "c",
        t0 + TimeDelta::seconds(9),
    ));
    assert_eq!(
        log.record(&again).await.unwrap(),
        1,
        "only the new event is recorded"
    );
    let all = log.search(&everything()).await.unwrap();
    assert_eq!(ids(&all), ids(&in_log_order(again.clone())));
    assert_eq!(all[0], first[0], "an event reads back exactly as recorded");
    assert_eq!(
        log.find(first[1].event_id()).await.unwrap().as_ref(),
        Some(&first[1])
    );
    assert_eq!(log.find(Uuid::new_v4()).await.unwrap(), None);
}

async fn search_filters_by_type_ticket_actor_correlation_and_window(store: Arc<dyn Store>) {
    let log = store.event_log();
    let (t1, t2) = (TicketId::generate(), TicketId::generate());
    let base = Utc::now() - TimeDelta::hours(1);
    let at = |m: i64| base + TimeDelta::minutes(m);
    let events = vec![
        logged(EventType::TicketRequeued, t1, "ada", "req-1", at(0)),
        logged(EventType::SlaWarning, t1, "system", "req-1", at(1)),
        logged(EventType::TicketRequeued, t2, "bob", "req-2", at(2)),
        logged(EventType::SlaWarning, t2, "system", "scan-9", at(3)),
        logged(EventType::TicketRequeued, t1, "ada", "req-3", at(4)),
    ];
    log.record(&events).await.unwrap();
    let search = |q: EventQuery| {
        let log = log.clone();
        async move { ids(&log.search(&EventQuery { limit: 100, ..q }).await.unwrap()) }
    };
    let pick = |is: &[usize]| is.iter().map(|&i| events[i].event_id()).collect::<Vec<_>>();

    let by_type = search(EventQuery {
        types: vec![EventType::SlaWarning],
        ..EventQuery::default()
    });
    assert_eq!(by_type.await, pick(&[1, 3]));
    let both_types = search(EventQuery {
        types: vec![EventType::SlaWarning, EventType::TicketRequeued],
        ..EventQuery::default()
    });
    assert_eq!(both_types.await, pick(&[0, 1, 2, 3, 4]));
    let by_ticket = search(EventQuery {
        ticket: Some(t1),
        ..EventQuery::default()
    });
    assert_eq!(by_ticket.await, pick(&[0, 1, 4]));
    let by_actor = search(EventQuery {
        actor: Some("ada".into()),
        ..EventQuery::default()
    });
    assert_eq!(by_actor.await, pick(&[0, 4]));
    let by_correlation = search(EventQuery {
        correlation_id: Some("req-1".into()),
        ..EventQuery::default()
    });
    assert_eq!(by_correlation.await, pick(&[0, 1]));
    let window = search(EventQuery {
        from: Some(at(1)),
        to: Some(at(3)),
        ..EventQuery::default()
    });
    assert_eq!(
        window.await,
        pick(&[1, 2]),
        "from is inclusive, to exclusive"
    );
    let combined = search(EventQuery {
        ticket: Some(t1),
        types: vec![EventType::TicketRequeued],
        from: Some(at(1)),
        ..EventQuery::default()
    });
    assert_eq!(combined.await, pick(&[4]));
    let none = search(EventQuery {
        actor: Some("nobody".into()),
        ..EventQuery::default()
    });
    assert_eq!(none.await, Vec::<Uuid>::new());
}

async fn pages_resume_after_the_cursor_in_log_order(store: Arc<dyn Store>) {
    let log = store.event_log();
    let ticket = TicketId::generate();
    let base = Utc::now() - TimeDelta::minutes(30);
    // Groups of events share a time, so the id orders them.
    let events: Vec<LoggedEvent> = (0..23)
        .map(|i| {
            let at = base + TimeDelta::seconds(i / 4);
            logged(EventType::TicketRequeued, ticket, "a", "c", at)
        })
        .collect();
    log.record(&events).await.unwrap();
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = log
            .search(&EventQuery {
                ticket: Some(ticket),
                after,
                limit: 5,
                ..EventQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(LoggedEvent::position);
        pages.extend(page);
    }
    let events = in_log_order(events);
    assert_eq!(ids(&pages), ids(&events));
    // A scan walks the same order whatever its batch, from a cursor too.
    let query = EventQuery {
        ticket: Some(ticket),
        ..EventQuery::default()
    };
    for batch in [1, 5, 23, 100] {
        let scanned: Vec<LoggedEvent> = log.scan(&query, batch).try_collect().await.unwrap();
        assert_eq!(ids(&scanned), ids(&events), "batch {batch}");
    }
    let after_seventh = EventQuery {
        after: Some(events[6].position()),
        ..query
    };
    let rest: Vec<LoggedEvent> = log.scan(&after_seventh, 4).try_collect().await.unwrap();
    assert_eq!(ids(&rest), ids(&events[7..]));
}

async fn events_older_than_the_retention_are_never_answered(store: Arc<dyn Store>) {
    let log = store.event_log();
    let retention = log.retention();
    let ticket = TicketId::generate();
    let expired = logged(
        EventType::TicketRequeued,
        ticket,
        "a",
        "c",
        Utc::now() - retention - TimeDelta::minutes(1),
    );
    let kept = logged(
        EventType::TicketRequeued,
        ticket,
        "a",
        "c",
        Utc::now() - retention + TimeDelta::minutes(10),
    );
    assert_eq!(
        log.record(&[expired.clone(), kept.clone()]).await.unwrap(),
        1
    );
    assert_eq!(ids(&log.search(&everything()).await.unwrap()), ids(&[kept]));
    assert_eq!(log.find(expired.event_id()).await.unwrap(), None);
}

async fn a_ticket_timeline_puts_causes_before_effects(store: Arc<dyn Store>) {
    let log = store.event_log();
    let ticket = TicketId::generate();
    let now = Utc::now();
    let cause = logged(EventType::TicketRequeued, ticket, "ada", "req", now);
    // The follow-up was stamped by a process whose clock is behind.
    let mut effect = logged(
        EventType::SlaWarning,
        ticket,
        "system",
        "req",
        now - TimeDelta::milliseconds(40),
    );
    effect.envelope.metadata = EventMetadata::caused_by(&cause.envelope);
    let other = logged(
        EventType::TicketRequeued,
        TicketId::generate(),
        "bob",
        "x",
        now,
    );
    log.record(&[effect.clone(), other, cause.clone()])
        .await
        .unwrap();
    let timeline = ticket_timeline(log.as_ref(), ticket).await.unwrap();
    assert_eq!(ids(&timeline), vec![cause.event_id(), effect.event_id()]);
}

on_both_stores!(
    recording_is_idempotent_on_the_event_id,
    search_filters_by_type_ticket_actor_correlation_and_window,
    pages_resume_after_the_cursor_in_log_order,
    events_older_than_the_retention_are_never_answered,
    a_ticket_timeline_puts_causes_before_effects,
);

/// A small deterministic generator, so a failure replays.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Random events and random queries: the MongoDB log answers exactly what the embedded one
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_adapters_answer_random_searches_alike() {
    let Some(mongo) = common::mongo_store().await else {
        return;
    };
    let real = mongo.event_log();
    let embedded: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new(real.retention()));
    let mut rng = Lcg(0x5eed);
    let tickets: Vec<TicketId> = (0..4).map(|_| TicketId::generate()).collect();
    let actors = ["ada", "bob", "system"];
    let correlations = ["r1", "r2", "r3"];
    let kinds = [EventType::TicketRequeued, EventType::SlaWarning];
    let base = Utc::now() - TimeDelta::hours(2);
    let events: Vec<LoggedEvent> = (0..120)
        .map(|_| {
            logged(
                kinds[rng.next(2) as usize],
                tickets[rng.next(4) as usize],
                actors[rng.next(3) as usize],
                correlations[rng.next(3) as usize],
                // Coarse times, so many events share one.
                base + TimeDelta::seconds(rng.next(40) as i64 * 60),
            )
        })
        .collect();
    for chunk in events.chunks(25) {
        assert_eq!(
            real.record(chunk).await.unwrap(),
            embedded.record(chunk).await.unwrap()
        );
    }
    for round in 0..40 {
        let minute = |m: u64| base + TimeDelta::seconds(m as i64 * 60);
        let maybe = |rng: &mut Lcg| rng.next(3) == 0;
        let mut query = EventQuery {
            limit: 1 + rng.next(30) as usize,
            ..EventQuery::default()
        };
        if maybe(&mut rng) {
            query.types = vec![kinds[rng.next(2) as usize]];
        }
        if maybe(&mut rng) {
            query.ticket = Some(tickets[rng.next(4) as usize]);
        }
        if maybe(&mut rng) {
            query.actor = Some(actors[rng.next(3) as usize].into());
        }
        if maybe(&mut rng) {
            query.correlation_id = Some(correlations[rng.next(3) as usize].into());
        }
        if maybe(&mut rng) {
            query.from = Some(minute(rng.next(40)));
        }
        if maybe(&mut rng) {
            query.to = Some(minute(rng.next(40)));
        }
        if maybe(&mut rng) {
            query.after = Some(events[rng.next(120) as usize].position());
        }
        let expected = ids(&embedded.search(&query).await.unwrap());
        let got = ids(&real.search(&query).await.unwrap());
        assert_eq!(got, expected, "round {round}: {query:?}");
        let batch = query.limit;
        let expected: Vec<LoggedEvent> = embedded.scan(&query, batch).try_collect().await.unwrap();
        let got: Vec<LoggedEvent> = real.scan(&query, batch).try_collect().await.unwrap();
        assert_eq!(ids(&got), ids(&expected), "round {round}, scan: {query:?}");
    }
}

/// The MongoDB log lets a TTL index delete what retention no longer keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mongodb_log_has_a_ttl_index_of_the_retention() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let db = format!("qf_test_{}", Uuid::new_v4().simple());
    let retention = TimeDelta::days(7);
    let options = quickfix::MongoStoreOptions {
        event_retention: retention,
        ..quickfix::MongoStoreOptions::default()
    };
    let store = quickfix::MongoStore::connect(&uri, &db, options.clone())
        .await
        .unwrap();
    assert_eq!(store.event_log().retention(), retention);
    let ttl = || async {
        let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
        let indexes: Vec<mongodb::IndexModel> = {
            use futures::TryStreamExt;
            client
                .database(&db)
                .collection::<mongodb::bson::Document>("events")
                .list_indexes()
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap()
        };
        indexes
            .into_iter()
            .find(|i| i.keys == mongodb::bson::doc! {"timestamp": 1})
            .and_then(|i| i.options.and_then(|o| o.expire_after))
    };
    assert_eq!(
        ttl().await,
        Some(std::time::Duration::from_secs(7 * 86_400))
    );
    // Another retention at the next start replaces the index.
    let longer = quickfix::MongoStoreOptions {
        event_retention: TimeDelta::days(30),
        ..options
    };
    quickfix::MongoStore::connect(&uri, &db, longer)
        .await
        .unwrap();
    assert_eq!(
        ttl().await,
        Some(std::time::Duration::from_secs(30 * 86_400))
    );
}
