//! `quickfix events` as an operator runs it, on the real store and emulator: export writes JSON
//! lines, a dry run counts, a replay to a queue delivers every event marked `replayed` with
//! plain progress lines off a terminal, an unreachable target stops with how far it got, bad
//! flags are refused naming the flag, and tail follows new events until SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta, Utc};
use quickfix::domain::{Envelope, EventType, LoggedEvent, TicketId};
use quickfix::{MongoStore, MongoStoreOptions, Queue, REPLAYED_ATTRIBUTE, Store};

use common::process::{assert_stops_cleanly_on_sigterm, quickfix};

/// A fresh database with `n` logged events from a minute ago; returns its name, the events
/// (in log order) and the time just before them.
async fn logged_events(uri: &str, n: usize) -> (String, Vec<LoggedEvent>, String) {
    let db = format!("qf_test_{}", uuid::Uuid::new_v4().simple());
    let store = MongoStore::connect(uri, &db, MongoStoreOptions::default())
        .await
        .unwrap();
    let start = Utc::now() - TimeDelta::minutes(1);
    let events: Vec<LoggedEvent> = (0..n)
        .map(|i| {
            let at = start + TimeDelta::milliseconds(i as i64 * 10);
            logged_at(at)
        })
        .collect();
    store.event_log().record(&events).await.unwrap();
    let since = (start - TimeDelta::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    (db, events, since)
}

/// A `ticket.requeued` of a new ticket, logged at `at`.
fn logged_at(at: chrono::DateTime<Utc>) -> LoggedEvent {
    common::logged(
        EventType::TicketRequeued,
        TicketId::generate(),
        "system",
        "cli-test",
        at,
    )
}

fn events(uri: &str, db: &str, endpoint: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = quickfix();
    cmd.arg("events")
        .args(args)
        .env("MONGODB_URI", uri)
        .env("MONGODB_DATABASE", db);
    if let Some(endpoint) = endpoint {
        cmd.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1");
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_dry_run_and_replay_to_a_queue() {
    let (Some(uri), Some(endpoint)) = (common::mongo_uri(), common::aws_endpoint()) else {
        return;
    };
    let (db, logged, since) = logged_events(&uri, 25).await;

    let export = events(&uri, &db, None, &["export", "--since", &since]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let ids: Vec<uuid::Uuid> = text(&export.stdout)
        .lines()
        .map(|l| {
            Envelope::from_json(l)
                .expect("a JSON envelope per line")
                .event_id
        })
        .collect();
    let expected: Vec<uuid::Uuid> = logged.iter().map(LoggedEvent::event_id).collect();
    assert_eq!(ids, expected, "every event once, in log order");
    assert!(text(&export.stderr).contains("exported 25 event(s)"));

    let dry = events(&uri, &db, None, &["replay", "--since", &since, "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains("25 event(s) match"),
        "{}",
        text(&dry.stdout)
    );

    let topology = common::aws_topology(
        &endpoint,
        &common::unique_spec(quickfix::domain::EventType::ALL.to_vec()),
    )
    .await;
    let replay = events(
        &uri,
        &db,
        Some(&endpoint),
        &[
            "replay",
            "--since",
            &since,
            "--target",
            &topology.queue_url,
            "--rate",
            "200",
        ],
    );
    let stderr = text(&replay.stderr);
    assert!(replay.status.success(), "{stderr}");
    assert!(
        stderr.contains("replay: 25/25 events (100%)"),
        "plain progress: {stderr}"
    );
    let config = quickfix::aws_config(&common::aws_options(&endpoint)).await;
    let queue = quickfix::SqsQueue::new(&config, &topology.queue_url);
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while got.len() < 25 && tokio::time::Instant::now() < deadline {
        for d in queue.receive(10, Duration::from_secs(1)).await.unwrap() {
            assert!(
                d.attributes
                    .iter()
                    .any(|(k, v)| k == REPLAYED_ATTRIBUTE && v == "true"),
                "{:?}",
                d.attributes
            );
            got.push(Envelope::from_json(&d.body).unwrap().event_id);
            queue.delete(&[d.receipt]).await.unwrap();
        }
    }
    got.sort();
    let mut want = expected;
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_stops_with_how_far_it_got_and_bad_flags_are_named() {
    let (Some(uri), Some(endpoint)) = (common::mongo_uri(), common::aws_endpoint()) else {
        return;
    };
    let (db, _, since) = logged_events(&uri, 3).await;
    let nowhere = format!(
        "{endpoint}/000000000000/no-such-queue-{}",
        uuid::Uuid::new_v4().simple()
    );
    let failed = events(
        &uri,
        &db,
        Some(&endpoint),
        &["replay", "--since", &since, "--target", &nowhere],
    );
    assert!(!failed.status.success());
    let stderr = text(&failed.stderr);
    assert!(
        stderr.contains("replay stopped after 0 of 3 events: cannot send to the queue"),
        "{stderr}"
    );

    for (args, flag) in [
        (vec!["replay", "--since", "yesterday"], "--since"),
        (
            vec!["replay", "--since", &since, "--type", "ticket.exploded"],
            "--type",
        ),
        (
            vec!["replay", "--since", &since, "--target", "carrier-pigeon"],
            "--target",
        ),
        (vec!["replay", "--ticket", "nope"], "--ticket"),
        (vec!["replay"], "--since"),
        (vec!["export", "--after", "somewhere"], "--after"),
    ] {
        let out = events(&uri, &db, Some(&endpoint), &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains(flag),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_new_events_until_stopped() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let (db, _, _) = logged_events(&uri, 2).await;
    let mut child = quickfix()
        .args(["events", "tail", "--poll-ms", "200"])
        .env("MONGODB_URI", &uri)
        .env("MONGODB_DATABASE", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = common::process::wait_for_log_line(&mut child, "following events from");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let store = MongoStore::connect(&uri, &db, MongoStoreOptions::default())
        .await
        .unwrap();
    let fresh = logged_at(Utc::now());
    store
        .event_log()
        .record(std::slice::from_ref(&fresh))
        .await
        .unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let line = rx.recv_timeout(Duration::from_secs(60));
        (line, rx)
    })
    .await
    .unwrap();
    let (line, rx) = line;
    let line = line.unwrap_or_else(|_| panic!("tail printed nothing after: {started}"));
    assert_eq!(
        Envelope::from_json(&line).unwrap().event_id,
        fresh.event_id(),
        "the new event, not the ones logged before tail started"
    );
    assert_stops_cleanly_on_sigterm(&mut child, Duration::from_secs(30));
    assert_eq!(rx.try_iter().count(), 0, "nothing else");
}
