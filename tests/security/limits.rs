//! Abuse limits: bounded password hashing, rate limits per address and per account, the
//! trusted proxy header, the request timeout, load shedding, the cached readiness check, and
//! metrics on their own address.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use quickfix::app::AccessSettings;
use quickfix::{ApiLimits, MemoryStore, MemoryTopology, PasswordWork, RateLimit, Store};
use serde_json::json;

use crate::common::faulty_store::FaultyStore;
use crate::common::{self, Reply, TestApp, test_access};

fn login_body(email: &str, password: &str) -> serde_json::Value {
    json!({"email": email, "password": password})
}

async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.9, {address}"))
            .json(&login_body(email, password)),
    )
    .await
}

#[track_caller]
fn assert_retry_after(reply: &Reply) {
    let secs: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After header in seconds: {:?}", reply.headers));
    assert!(secs >= 1, "{secs}");
}

#[tokio::test]
async fn password_hashing_beyond_its_slots_is_refused_with_503() {
    let access = AccessSettings {
        passwords: PasswordWork::new(1, Duration::from_millis(1)),
        ..test_access()
    };
    let app = common::embedded_app_with(ApiLimits::generous(16 * 1024), access).await;
    let attempts = (0..40).map(|_| {
        app.post(
            "/api/auth/login",
            None,
            login_body("customer1@quickfix.dev", common::PASSWORD),
        )
    });
    let replies = futures::future::join_all(attempts).await;
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(
        !refused.is_empty(),
        "40 sign-ins at once on one slot: some must be refused"
    );
    for r in &refused {
        assert_eq!(r.code(), "overloaded", "{}", r.body);
        assert_retry_after(r);
    }
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 503),
        "only signed in or refused: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn sign_ins_are_rate_limited_per_client_address() {
    let limits = ApiLimits {
        sign_in_per_client: RateLimit::per_minute(1, 3),
        trusted_proxy_header: Some("x-forwarded-for".parse().unwrap()),
        ..ApiLimits::generous(16 * 1024)
    };
    let app = common::embedded_app_with(limits, test_access()).await;
    for _ in 0..3 {
        login_from(
            &app,
            "198.51.100.1",
            "customer1@quickfix.dev",
            common::PASSWORD,
        )
        .await
        .expect(200);
    }
    let limited = login_from(
        &app,
        "198.51.100.1",
        "customer1@quickfix.dev",
        common::PASSWORD,
    )
    .await
    .expect_error(429, "rate_limited");
    assert_retry_after(&limited);
    // Registration shares the budget of the address.
    app.send(
        app.client
            .post(app.url("/api/auth/register"))
            .header("x-forwarded-for", "198.51.100.1")
            .json(&json!({"name": "N", "email": "n@example.com", "password": "a long passphrase"})),
    )
    .await
    .expect_error(429, "rate_limited");
    // Another address (the right-most entry, which the load balancer appends) has its own.
    login_from(
        &app,
        "198.51.100.2",
        "customer1@quickfix.dev",
        common::PASSWORD,
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn without_a_trusted_header_a_forwarded_address_is_ignored() {
    let limits = ApiLimits {
        sign_in_per_client: RateLimit::per_minute(1, 2),
        ..ApiLimits::generous(16 * 1024)
    };
    let app = common::embedded_app_with(limits, test_access()).await;
    for n in 0..2 {
        login_from(
            &app,
            &format!("192.0.2.{n}"),
            "customer1@quickfix.dev",
            common::PASSWORD,
        )
        .await
        .expect(200);
    }
    // A made-up header does not buy a fresh budget: the peer address counts.
    login_from(
        &app,
        "192.0.2.99",
        "customer1@quickfix.dev",
        common::PASSWORD,
    )
    .await
    .expect_error(429, "rate_limited");
}

#[tokio::test]
async fn repeated_failures_slow_down_the_account_from_any_address() {
    let limits = ApiLimits {
        failed_sign_ins_per_account: RateLimit::per_minute(1, 3),
        trusted_proxy_header: Some("x-forwarded-for".parse().unwrap()),
        ..ApiLimits::generous(16 * 1024)
    };
    let app = common::embedded_app_with(limits, test_access()).await;
    for n in 0..4 {
        login_from(
            &app,
            &format!("198.51.100.{n}"),
            "customer1@quickfix.dev",
            "wrong guess",
        )
        .await
        .expect_error(401, "unauthorized");
    }
    // Now even the right password, from a fresh address, waits.
    let slowed = login_from(
        &app,
        "198.51.100.77",
        "customer1@quickfix.dev",
        common::PASSWORD,
    )
    .await
    .expect_error(429, "rate_limited");
    assert_retry_after(&slowed);
    // Other accounts are not affected.
    login_from(
        &app,
        "198.51.100.78",
        "customer2@quickfix.dev",
        common::PASSWORD,
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_whole_api_is_rate_limited_per_client_address() {
    let limits = ApiLimits {
        per_client: RateLimit::per_minute(1, 5),
        ..ApiLimits::generous(16 * 1024)
    };
    let app = common::embedded_app_with(limits, test_access()).await;
    for _ in 0..5 {
        app.get("/healthz", None).await.expect(200);
    }
    let limited = app
        .get("/api/complaints", None)
        .await
        .expect_error(429, "rate_limited");
    assert_retry_after(&limited);
}

/// An assignment whose ticket update never returns: the app, its store, and the request that
/// will hang (path, admin token, body).
struct HangingAssignment {
    app: TestApp,
    store: Arc<FaultyStore>,
    path: String,
    admin: String,
    body: serde_json::Value,
}

/// An app whose first ticket update never returns, with the given limits, and an online agent
/// and an open ticket to assign to them.
async fn a_hanging_assignment(limits: ApiLimits) -> HangingAssignment {
    let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
    common::seed(inner.as_ref()).await;
    let faulty = FaultyStore::hanging(inner);
    let topology = MemoryTopology::provision(&common::unique_spec(vec![]));
    let app = common::start_configured(
        faulty.clone(),
        topology.topic,
        topology.queue,
        limits,
        test_access(),
        None,
    )
    .await;
    let agent = app.agent(1).await;
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let ticket = app.open_ticket(&customer, "Stuck", "Technical").await;
    app.patch(
        &format!("/api/agents/{}/presence", agent.id),
        Some(&agent.token),
        json!({"presence": "online"}),
    )
    .await
    .expect(200);
    HangingAssignment {
        path: format!("/api/complaints/{}/assign", ticket["id"].as_str().unwrap()),
        admin: admin.token,
        body: json!({"agentId": agent.id}),
        app,
        store: faulty,
    }
}

#[tokio::test]
async fn a_request_that_runs_too_long_is_answered_with_503() {
    let limits = ApiLimits {
        request_timeout: Duration::from_millis(500),
        ..ApiLimits::generous(16 * 1024)
    };
    let h = a_hanging_assignment(limits).await;
    // Assigning updates the ticket, which hangs.
    let reply = h
        .app
        .post(&h.path, Some(&h.admin), h.body.clone())
        .await
        .expect_error(503, "timeout");
    assert_retry_after(&reply);
}

#[tokio::test]
async fn requests_over_the_in_flight_cap_are_shed_with_503() {
    let limits = ApiLimits {
        max_in_flight: 1,
        ..ApiLimits::generous(16 * 1024)
    };
    let h = a_hanging_assignment(limits).await;
    let hung = h.store.hung.clone();
    let waiting = hung.notified();
    let stuck = tokio::spawn(
        h.app
            .client
            .post(h.app.url(&h.path))
            .bearer_auth(&h.admin)
            .json(&h.body)
            .send(),
    );
    waiting.await; // the one slot is now held by a request that will not finish
    let shed = h
        .app
        .get("/healthz", None)
        .await
        .expect_error(503, "overloaded");
    assert_retry_after(&shed);
    stuck.abort();
}

#[tokio::test]
async fn readiness_reaches_the_store_at_most_about_once_a_second() {
    let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let counting = FaultyStore::counting(inner);
    let topology = MemoryTopology::provision(&common::unique_spec(vec![]));
    let app = common::start_configured(
        counting.clone(),
        topology.topic,
        topology.queue,
        ApiLimits::generous(16 * 1024),
        test_access(),
        None,
    )
    .await;
    common::eventually(Duration::from_secs(30), || async {
        (app.get("/readyz", None).await.status == 200).then_some(())
    })
    .await
    .expect("ready");
    let before = counting.pings.load(Ordering::SeqCst) as u64;
    let started = std::time::Instant::now();
    let probes = (0..50).map(|_| app.get("/readyz", None));
    for reply in futures::future::join_all(probes).await {
        reply.expect(200);
    }
    for _ in 0..50 {
        app.get("/readyz", None).await.expect(200);
    }
    let seconds = started.elapsed().as_secs();
    let pings = counting.pings.load(Ordering::SeqCst) as u64 - before;
    assert!(
        pings <= seconds + 1,
        "100 probes over {seconds} s reached the store {pings} times"
    );
}

#[tokio::test]
async fn metrics_can_move_off_the_public_listener() {
    let (store, publisher, events, _) = common::backends(common::Backend::Embedded).await.unwrap();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = common::start_configured(
        store,
        publisher,
        events,
        ApiLimits::generous(16 * 1024),
        test_access(),
        Some(metrics_port),
    )
    .await;
    app.get("/metrics", None)
        .await
        .expect_error(404, "not_found");
    let text = reqwest::get(format!("http://{metrics_port}/metrics"))
        .await
        .expect("the metrics address answers");
    assert_eq!(text.status(), 200);
}
