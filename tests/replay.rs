//! Replay from the event log, on both backends: replaying a whole day to the worker's queue
//! changes no ticket, slot or inbox (the handlers are idempotent); replaying to a new
//! subscriber's queue delivers every event once, in per-ticket order, with its own event id and
//! the `replayed` attribute; replaying to the topic reaches its subscriptions the same way; a
//! replay to a target it cannot reach stops saying how far it got.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use quickfix::domain::{
    Envelope, EventQuery, LoggedEvent, Notification, Role, Status, Ticket, TicketId, User,
};
use quickfix::replay::{Progress, ReplaySettings, ReplayTarget, replay};
use quickfix::worker::Worker;
use quickfix::{
    MemoryQueue, Queue, QueueSettings, REPLAYED_ATTRIBUTE, SqsQueue, TicketQuery, aws_config,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use common::{Backend, TestApp};

const WAIT: Duration = Duration::from_secs(90);

/// A worker on the app's queue, driven step by step by the test.
fn worker(app: &TestApp) -> Worker {
    app.worker(Duration::from_millis(500))
}

/// Steps `worker` until every outbox is empty and the queue gives nothing twice in a row;
/// returns the messages it handled. Panics on a retry or a dead letter.
async fn drain(app: &TestApp, worker: &Worker) -> usize {
    let never = CancellationToken::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut handled, mut quiet) = (0, 0);
    while quiet < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never went quiet"
        );
        let step = worker.step(&never).await.expect("receive");
        assert_eq!((step.retried, step.dead_lettered), (0, 0), "{step:?}");
        handled += step.handled;
        let pending = app.store.pending_events(1).await.unwrap();
        quiet = if step.received == 0 && pending.is_empty() {
            quiet + 1
        } else {
            0
        };
    }
    handled
}

/// Everything a replay must not change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    tickets: Vec<Ticket>,
    agents: Vec<User>,
    inboxes: Vec<Notification>,
    logged: u64,
}

async fn snapshot(app: &TestApp) -> Snapshot {
    let store = app.store.as_ref();
    let tickets = store
        .list_tickets(&TicketQuery {
            limit: 1000,
            ..TicketQuery::default()
        })
        .await
        .unwrap();
    let agents = store.list_users(Role::Agent).await.unwrap();
    let inboxes = store.list_notifications(None, None, 10_000).await.unwrap();
    let logged = store.event_log().count(&a_day()).await.unwrap();
    Snapshot {
        tickets,
        agents,
        inboxes,
        logged,
    }
}

/// The last day of the log.
fn a_day() -> EventQuery {
    EventQuery {
        from: Some(Utc::now() - TimeDelta::days(1)),
        limit: usize::MAX,
        ..EventQuery::default()
    }
}

/// Opens tickets, lets the worker assign them, resolves one, and sends an agent offline and
/// back: every kind of event the worker acts on.
async fn a_busy_hour(app: &TestApp, worker: &Worker) -> Vec<String> {
    let (customer, agent, admin) = (app.customer(1).await, app.agent(1).await, app.admin().await);
    let mut ids = Vec::new();
    for (title, category) in [
        ("VPN down", "Technical"),
        ("Invoice twice", "Billing"),
        ("Password reset", "Account"),
        ("Question", "General"),
    ] {
        let t = app.open_ticket(&customer, title, category).await;
        ids.push(t["id"].as_str().unwrap().to_owned());
    }
    drain(app, worker).await;
    let held: Vec<Ticket> = app
        .store
        .list_tickets(&TicketQuery {
            assignee: Some(quickfix::domain::UserId::parse("agent", &agent.id).unwrap()),
            limit: 10,
            ..TicketQuery::default()
        })
        .await
        .unwrap();
    let first = held.first().expect("agent 1 holds a ticket");
    app.patch(
        &format!("/api/complaints/{}/status", first.id),
        Some(&agent.token),
        json!({"status": "Resolved", "message": "fixed"}),
    )
    .await
    .expect(200);
    for presence in ["offline", "online"] {
        app.patch(
            &format!("/api/agents/{}/presence", agent.id),
            Some(&admin.token),
            json!({"presence": presence}),
        )
        .await
        .expect(200);
        drain(app, worker).await;
    }
    ids
}

async fn replaying_a_day_to_the_worker_changes_nothing(app: TestApp) {
    let worker = worker(&app);
    a_busy_hour(&app, &worker).await;
    let before = snapshot(&app).await;
    assert!(
        before.tickets.iter().any(|t| t.status == Status::Resolved),
        "the scenario resolved a ticket"
    );
    assert!(before.logged >= 10, "the day has events: {}", before.logged);

    let mut target = ReplayTarget::Queue(app.events.clone());
    let report = replay(
        app.store.event_log().as_ref(),
        &a_day(),
        &mut target,
        &ReplaySettings::default(),
        &mut Progress::silent(),
    )
    .await
    .expect("replay");
    assert_eq!(report.sent, before.logged);
    let handled = drain(&app, &worker).await;
    assert!(
        handled as u64 >= report.sent,
        "the worker handled every replayed event ({handled} of {})",
        report.sent
    );
    assert_eq!(snapshot(&app).await, before, "a replay changes nothing");
}

/// A queue nobody else reads.
async fn fresh_queue(backend: Backend) -> Arc<dyn Queue> {
    match backend {
        Backend::Embedded => MemoryQueue::new(
            "fresh",
            QueueSettings {
                visibility_timeout: Duration::from_secs(30),
                dead_letter: None,
            },
        ),
        Backend::Real => {
            let endpoint = common::aws_endpoint().expect("emulator");
            let topology = common::aws_topology(
                &endpoint,
                &common::unique_spec(quickfix::domain::EventType::ALL.to_vec()),
            )
            .await;
            let config = aws_config(&common::aws_options(&endpoint)).await;
            Arc::new(SqsQueue::new(&config, &topology.queue_url))
        }
    }
}

/// Receives until `want` messages arrived: (event, replayed attribute) in arrival order.
async fn receive_all(queue: &dyn Queue, want: usize) -> Vec<(Envelope, Option<String>)> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {want} messages arrived",
            got.len()
        );
        for d in queue.receive(10, Duration::from_millis(500)).await.unwrap() {
            let replayed = d
                .attributes
                .iter()
                .find(|(name, _)| name == REPLAYED_ATTRIBUTE)
                .map(|(_, v)| v.clone());
            got.push((Envelope::from_json(&d.body).unwrap(), replayed));
            queue.delete(&[d.receipt]).await.unwrap();
        }
    }
    got
}

/// Each ticket's event ids in the order given.
fn per_ticket(
    events: impl Iterator<Item = Envelope>,
) -> HashMap<Option<TicketId>, Vec<uuid::Uuid>> {
    let mut by_ticket: HashMap<_, Vec<_>> = HashMap::new();
    for e in events {
        by_ticket
            .entry(e.event.ticket_id())
            .or_default()
            .push(e.event_id);
    }
    by_ticket
}

async fn replaying_to_a_new_subscriber_delivers_every_event_in_ticket_order(
    app: TestApp,
    backend: Backend,
) {
    let worker = worker(&app);
    a_busy_hour(&app, &worker).await;
    let log = app.store.event_log();
    let logged: Vec<LoggedEvent> = log.search(&a_day()).await.unwrap();
    let queue = fresh_queue(backend).await;
    let mut target = ReplayTarget::Queue(queue.clone());
    let settings = ReplaySettings {
        rate: std::num::NonZeroU32::new(500),
        dry_run: false,
    };
    let report = replay(
        log.as_ref(),
        &a_day(),
        &mut target,
        &settings,
        &mut Progress::silent(),
    )
    .await
    .unwrap();
    assert_eq!(report.sent as usize, logged.len());
    let got = receive_all(queue.as_ref(), logged.len()).await;
    assert_eq!(got.len(), logged.len(), "each event once");
    assert!(
        got.iter().all(|(_, r)| r.as_deref() == Some("true")),
        "all marked replayed"
    );
    let expected = per_ticket(logged.iter().map(|e| e.envelope.clone()));
    let received = per_ticket(got.into_iter().map(|(e, _)| e));
    assert_eq!(received, expected, "same ids, in each ticket's order");
}

async fn replaying_to_the_topic_reaches_its_subscribers_marked(app: TestApp) {
    let worker = worker(&app);
    let ids = a_busy_hour(&app, &worker).await;
    let ticket = TicketId::parse(&ids[0]).unwrap();
    let query = EventQuery {
        ticket: Some(ticket),
        ..a_day()
    };
    let log = app.store.event_log();
    let expected: Vec<uuid::Uuid> = log
        .search(&query)
        .await
        .unwrap()
        .iter()
        .map(LoggedEvent::event_id)
        .collect();
    let dry = replay(
        log.as_ref(),
        &query,
        &mut ReplayTarget::Topic(app.server.state().publisher.clone()),
        &ReplaySettings {
            dry_run: true,
            ..ReplaySettings::default()
        },
        &mut Progress::silent(),
    )
    .await
    .unwrap();
    assert_eq!(
        (dry.matched, dry.sent),
        (expected.len() as u64, 0),
        "a dry run only counts"
    );
    replay(
        log.as_ref(),
        &query,
        &mut ReplayTarget::Topic(app.server.state().publisher.clone()),
        &ReplaySettings::default(),
        &mut Progress::silent(),
    )
    .await
    .unwrap();
    let got = receive_all(app.events.as_ref(), expected.len()).await;
    // A topic does not promise order; every event arrives once, with its own id.
    let mut ids: Vec<uuid::Uuid> = got.iter().map(|(e, _)| e.event_id).collect();
    let mut expected = expected;
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(got.iter().all(|(_, r)| r.as_deref() == Some("true")));
}

async fn a_replay_that_cannot_reach_its_target_says_how_far_it_got(app: TestApp) {
    let worker = worker(&app);
    a_busy_hour(&app, &worker).await;
    let publisher = common::SwitchablePublisher::new(app.server.state().publisher.clone(), true);
    let log = app.store.event_log();
    let matched = log.count(&a_day()).await.unwrap();
    publisher.set_up(false);
    let stopped = replay(
        log.as_ref(),
        &a_day(),
        &mut ReplayTarget::Topic(publisher),
        &ReplaySettings::default(),
        &mut Progress::silent(),
    )
    .await
    .expect_err("the topic is down");
    assert_eq!((stopped.sent, stopped.matched), (0, matched));
    let message = stopped.to_string();
    assert!(
        message.starts_with(&format!(
            "replay stopped after 0 of {matched} events: cannot send to the topic"
        )),
        "{message}"
    );
}

macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = common::spawn_app(Backend::Embedded).await.expect("embedded app");
                    super::$name(app).await;
                }
            )+
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn replaying_to_a_new_subscriber_delivers_every_event_in_ticket_order() {
                let app = common::spawn_app(Backend::Embedded).await.expect("embedded app");
                super::replaying_to_a_new_subscriber_delivers_every_event_in_ticket_order(app, Backend::Embedded).await;
            }
        }
        mod real {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = common::spawn_app(Backend::Real).await else { return };
                    super::$name(app).await;
                }
            )+
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn replaying_to_a_new_subscriber_delivers_every_event_in_ticket_order() {
                let Some(app) = common::spawn_app(Backend::Real).await else { return };
                super::replaying_to_a_new_subscriber_delivers_every_event_in_ticket_order(app, Backend::Real).await;
            }
        }
    };
}

on_both!(
    replaying_a_day_to_the_worker_changes_nothing,
    replaying_to_the_topic_reaches_its_subscribers_marked,
    a_replay_that_cannot_reach_its_target_says_how_far_it_got,
);
