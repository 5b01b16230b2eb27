//! Stopping an API replica: it ends cleanly with live sockets still connected, within its grace
//! period whatever a client holds open, and its last outbox pass publishes what the requests
//! still in flight when the stop began wrote.

mod common;

use std::time::Duration;

use common::faulty_store::FaultyStore;
use common::socket::signed_in;
use quickfix::ApiLimits;
use quickfix::domain::EventType;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Far more than a stop should ever take, so a stop that ignores its grace fails the test
/// instead of hanging it.
const STOP_DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_replica_with_live_sockets_stops_cleanly() {
    let app =
        common::embedded_app_with(ApiLimits::generous(16 * 1024), common::test_access()).await;
    let agent = app.agent(1).await;
    let customer = app.customer(1).await;
    let _sockets = [
        signed_in(&app, &agent).await,
        signed_in(&app, &agent).await,
        signed_in(&app, &customer).await,
    ];
    let aborted = tokio::time::timeout(STOP_DEADLINE, app.server.stop())
        .await
        .expect("the stop ends");
    assert!(
        aborted.is_empty(),
        "every task finished on its own: {aborted:?}"
    );
}

#[tokio::test]
async fn a_request_that_never_finishes_delays_a_stop_by_the_grace_only() {
    // No request timeout to end it first: only the stop's grace can.
    let limits = ApiLimits {
        request_timeout: Duration::from_secs(3600),
        ..ApiLimits::generous(16 * 1024)
    };
    let app = common::embedded_app_with(limits, common::test_access()).await;
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // A sign-in whose body never comes. The server says `100 Continue` once the handler reads
    // the body, so the request is known to be in flight before the stop begins.
    conn.write_all(
        format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\nExpect: 100-continue\r\n\r\n",
            app.addr
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut heard = vec![0u8; 64];
    let n = tokio::time::timeout(common::socket::WAIT, conn.read(&mut heard))
        .await
        .expect("the server answers the headers")
        .unwrap();
    let heard = String::from_utf8_lossy(&heard[..n]);
    assert!(heard.starts_with("HTTP/1.1 100"), "{heard}");

    let started = tokio::time::Instant::now();
    let aborted = tokio::time::timeout(STOP_DEADLINE, app.server.stop())
        .await
        .expect("the stop ends although the request never does");
    assert_eq!(aborted, vec!["http server"]);
    assert!(
        started.elapsed() >= common::STOP_GRACE,
        "the request had its grace before it was cut: {:?}",
        started.elapsed()
    );
    drop(conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_outbox_pass_publishes_what_requests_finishing_during_the_stop_wrote() {
    let (store, publisher, events, _) = common::backends(common::Backend::Embedded)
        .await
        .expect("embedded");
    common::seed(store.as_ref()).await;
    let held = FaultyStore::holding_insert(store);
    let app = common::start_configured(
        held.clone(),
        publisher,
        events.clone(),
        ApiLimits::generous(16 * 1024),
        common::test_access(),
        None,
    )
    .await;
    let customer = app.customer(1).await;
    let request = app
        .client
        .post(app.url("/api/complaints"))
        .bearer_auth(&customer.token)
        .json(
            &json!({"title": "Printer on fire", "description": "Smoke", "category": "Technical"}),
        );
    let opening = tokio::spawn(request.send());
    tokio::time::timeout(common::socket::WAIT, held.hung.notified())
        .await
        .expect("the create reached the store");

    // The stop begins while the create still holds its write.
    let shutdown = app.server.shutdown_token();
    let stopping = tokio::spawn(app.server.stop());
    common::eventually(common::socket::WAIT, || async {
        shutdown.is_cancelled().then_some(())
    })
    .await
    .expect("the stop began");
    held.release.notify_one();

    let aborted = tokio::time::timeout(STOP_DEADLINE, stopping)
        .await
        .expect("the stop ends")
        .unwrap();
    assert!(aborted.is_empty(), "a clean stop: {aborted:?}");
    let answer = opening.await.unwrap().expect("the create is answered");
    assert_eq!(answer.status(), 201, "the request in flight finished");
    let published = common::collect_events(
        events.as_ref(),
        EventType::TicketCreated,
        1,
        common::socket::WAIT,
    )
    .await;
    assert_eq!(
        published.len(),
        1,
        "its ticket.created went out before the stop ended"
    );
}
