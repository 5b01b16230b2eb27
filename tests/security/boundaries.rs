//! Least privilege and trust boundaries: the worker believes the store, not the message;
//! tickets are visible only to those with a reason to see them; customers' priorities are
//! capped; responses carry the hardening headers and CORS is off unless configured.

use std::sync::Arc;
use std::time::Duration;

use quickfix::domain::{
    EventMetadata, EventType, Status, SystemClock, TicketId, TicketRef, UserId, WORKER_EVENT_TYPES,
};
use quickfix::worker::{ConsumerSettings, Context, Worker};
use quickfix::{ApiLimits, MemoryTopology, Queue, Store};
use serde_json::json;

use crate::common::{self, TestApp, test_access};

/// An app and a worker on the same embedded store, with the worker queue in hand.
struct Routed {
    app: TestApp,
    queue: Arc<dyn Queue>,
    worker: Worker,
}

async fn routed() -> Routed {
    let topology = MemoryTopology::provision(&common::unique_spec(WORKER_EVENT_TYPES.to_vec()));
    let store: Arc<dyn Store> = Arc::new(quickfix::MemoryStore::new());
    common::seed(store.as_ref()).await;
    let app = common::start_configured(
        store.clone(),
        topology.topic,
        MemoryTopology::provision(&common::unique_spec(vec![])).queue,
        ApiLimits::generous(16 * 1024),
        test_access(),
        None,
    )
    .await;
    let ctx = Context {
        store,
        clock: Arc::new(SystemClock),
        rules: quickfix::domain::PriorityRules::default(),
        sla: Arc::new(quickfix::domain::SlaPolicy::default()),
        outbox: app.server.state().outbox.clone(),
        requeue_on_offline: true,
    };
    let settings = ConsumerSettings {
        wait: Duration::from_millis(200),
        ..ConsumerSettings::default()
    };
    let worker = Worker::new(topology.queue.clone(), None, ctx, settings);
    Routed {
        app,
        queue: topology.queue,
        worker,
    }
}

impl Routed {
    /// Runs worker steps until the queue is empty.
    async fn drain(&self) {
        let stop = tokio_util::sync::CancellationToken::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let report = self.worker.step(&stop).await.expect("worker step");
            if report.received == 0 || tokio::time::Instant::now() > deadline {
                return;
            }
        }
    }

    async fn free_slots(&self, agent: &str) -> u32 {
        let id = UserId::parse("id", agent).unwrap();
        let user = self.app.store.find_user(id).await.unwrap().unwrap();
        user.agent.unwrap().free_slots
    }

    /// Sends an event straight to the worker queue, as a forger would.
    async fn forge(&self, event_type: EventType, data: serde_json::Value) {
        let meta = EventMetadata::requested("forged", "system");
        let body = crate::common::wire_event(event_type, data, &meta);
        let attributes = [("eventType".to_owned(), event_type.as_str().to_owned())];
        self.queue.send(&body, &attributes).await.unwrap();
    }

    async fn forge_resolved(&self, ticket: &str, agent: &str) {
        self.forge(
            EventType::TicketResolved,
            json!({"ticketId": ticket, "complaintId": "COMP-00001", "agentId": agent,
                   "resolvedBy": agent, "resolvedAt": chrono::Utc::now(), "userId": agent,
                   "title": "Forged", "priority": "Low"}),
        )
        .await;
    }

    async fn inbox_size(&self, user: &str) -> usize {
        let id = UserId::parse("id", user).unwrap();
        self.app
            .store
            .list_notifications(Some(id), None, 1000)
            .await
            .unwrap()
            .len()
    }
}

#[tokio::test]
async fn forged_or_stale_events_change_nothing() {
    let r = routed().await;
    let app = &r.app;
    let agent1 = app.agent(1).await;
    let agent3 = app.agent(3).await;
    for a in [&agent1, &agent3] {
        app.patch(
            &format!("/api/agents/{}/presence", a.id),
            Some(&a.token),
            json!({"presence": "online"}),
        )
        .await
        .expect(200);
    }
    let customer = app.customer(1).await;
    let ticket = app.open_ticket(&customer, "Printer jam", "Technical").await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    r.drain().await;
    let stored = app
        .store
        .find_ticket(TicketRef::Id(TicketId::parse(&id).unwrap()))
        .await
        .unwrap()
        .unwrap();
    let holder = stored.assignee.expect("assigned").to_string();
    let other = if holder == agent1.id {
        &agent3.id
    } else {
        &agent1.id
    };
    let held = r.free_slots(&holder).await;
    let other_free = r.free_slots(other).await;

    let other_inbox = r.inbox_size(other).await;

    // The ticket is not resolved: a resolved event for its real holder is a lie.
    r.forge_resolved(&id, &holder).await;
    // Another agent's id: a lie about who holds it.
    r.forge_resolved(&id, other).await;
    // An assignment that never happened would send the other agent the ticket's summary.
    r.forge(
        EventType::TicketAssigned,
        json!({"ticketId": id, "complaintId": "COMP-00001", "userId": other, "title": "Forged",
               "category": "Technical", "priority": "Low", "assignedTo": other,
               "previousAssignee": null, "previousStatus": "Open"}),
    )
    .await;
    r.drain().await;
    assert_eq!(
        r.inbox_size(other).await,
        other_inbox,
        "nothing reaches the other agent"
    );
    assert_eq!(
        r.free_slots(&holder).await,
        held,
        "the holder keeps the slot"
    );
    assert_eq!(
        r.free_slots(other).await,
        other_free,
        "the other agent is untouched"
    );
    let now = app
        .store
        .find_ticket(TicketRef::Id(TicketId::parse(&id).unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.status, Status::Assigned);
    assert_eq!(now.assignee.unwrap().to_string(), holder);
}

#[tokio::test]
async fn agents_see_what_they_work_on_or_could_take_and_nothing_else_exists() {
    let app = common::embedded_app_with(ApiLimits::generous(16 * 1024), test_access()).await;
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let stranger = app.customer(2).await;
    let billing_agent = app.agent(2).await; // Billing, General
    let ticket = app.open_ticket(&customer, "VPN down", "Technical").await;
    let id = ticket["id"].as_str().unwrap();
    let number = ticket["complaintId"].as_str().unwrap();
    for (who, path) in [
        (&billing_agent, format!("/api/complaints/{id}")),
        (&billing_agent, format!("/api/complaints/{number}/history")),
        (&stranger, format!("/api/complaints/{number}")),
    ] {
        app.get(&path, Some(&who.token))
            .await
            .expect_error(404, "not_found");
    }
    // Once it held the ticket, the agent may read it, also after it moved on.
    app.patch(
        &format!("/api/agents/{}/presence", billing_agent.id),
        Some(&billing_agent.token),
        json!({"presence": "online"}),
    )
    .await
    .expect(200);
    app.assign(&admin, id, &billing_agent.id).await.expect(200);
    app.get(&format!("/api/complaints/{id}"), Some(&billing_agent.token))
        .await
        .expect(200);
    let senior = app.agent(3).await;
    app.patch(
        &format!("/api/agents/{}/presence", senior.id),
        Some(&senior.token),
        json!({"presence": "online"}),
    )
    .await
    .expect(200);
    app.assign(&admin, id, &senior.id).await.expect(200);
    app.get(
        &format!("/api/complaints/{id}/history"),
        Some(&billing_agent.token),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn customers_cannot_choose_a_priority_above_the_cap() {
    let app = common::embedded_app_with(ApiLimits::generous(16 * 1024), test_access()).await;
    let customer = app.customer(1).await;
    let body = |priority: &str| json!({"title": "Site down", "description": "all of it", "category": "Technical", "priority": priority});
    // A well-formed priority the customer may not choose: forbidden, naming the field.
    let refused = app
        .post("/api/complaints", Some(&customer.token), body("Critical"))
        .await
        .expect_error(403, "forbidden");
    assert_eq!(refused.field(), "priority");
    app.post("/api/complaints", Some(&customer.token), body("High"))
        .await
        .expect(201);
    let admin = app.admin().await;
    app.post("/api/complaints", Some(&admin.token), body("Critical"))
        .await
        .expect(201);
    let config = app.get("/api/config", None).await.expect(200);
    assert_eq!(
        config.body["customerPriorities"],
        json!(["Low", "Medium", "High"])
    );
}

#[tokio::test]
async fn responses_carry_the_hardening_headers_and_no_cors_by_default() {
    let app = common::embedded_app_with(ApiLimits::generous(16 * 1024), test_access()).await;
    for path in [
        "/dashboard",
        "/api/complaints",
        "/healthz",
        "/no-such-route",
    ] {
        let reply = app
            .send(
                app.client
                    .get(app.url(path))
                    .header("origin", "https://evil.example"),
            )
            .await;
        let h = &reply.headers;
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert_eq!(csp, quickfix::CONTENT_SECURITY_POLICY, "{path}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{path}");
        assert!(
            h.get("access-control-allow-origin").is_none(),
            "{path}: CORS is off"
        );
    }
    // The dashboard runs under that policy: no inline script or style in the page.
    let page = app.text("/dashboard").await;
    assert!(!page.contains("<script>") && !page.contains("<style>") && !page.contains(" onclick="));
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let limits = ApiLimits {
        cors_origins: vec!["https://support.example.com".parse().unwrap()],
        ..ApiLimits::generous(16 * 1024)
    };
    let app = common::embedded_app_with(limits, test_access()).await;
    let preflight = |origin: &'static str| {
        app.send(
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/api/complaints"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
        )
    };
    let allowed = preflight("https://support.example.com").await;
    assert_eq!(
        allowed.headers.get("access-control-allow-origin").unwrap(),
        "https://support.example.com"
    );
    let other = preflight("https://evil.example").await;
    assert!(other.headers.get("access-control-allow-origin").is_none());
}
