//! The REST API end to end: every route, every role rule, every error class. Each test runs on
//! the embedded backends and on MongoDB + SNS/SQS.

mod common;

use std::collections::HashSet;

use common::{Reply, TestApp};
use serde_json::{Value, json};

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.code(), code, "body: {}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

async fn seed_route_creates_a_ticket_like_the_original(app: TestApp) {
    let customer = app.customer(1).await;
    let reply = app
        .post(
            "/api/complaints",
            Some(&customer.token),
            json!({"title": "Test Ticket", "description": "Testing event-driven assignment", "category": "Technical"}),
        )
        .await
        .expect(201);
    let t = &reply.body;
    assert!(t["complaintId"].as_str().unwrap().starts_with("COMP-"));
    assert_eq!(t["title"], "Test Ticket");
    assert_eq!(t["category"], "Technical");
    assert_eq!(t["priority"], "Medium");
    assert_eq!(t["status"], "Open");
    assert_eq!(t["userId"], customer.id.as_str());
    assert_eq!(t["assignedTo"], Value::Null);

    let high = app
        .post(
            "/api/complaints",
            Some(&customer.token),
            json!({"title": "Internet issue", "description": "down", "category": "technical", "priority": "high"}),
        )
        .await
        .expect(201);
    assert_eq!(high.body["priority"], "High");
    assert_eq!(
        high.body["category"], "Technical",
        "category names are normalised"
    );
    assert_ne!(high.body["complaintId"], t["complaintId"]);
}

async fn complaint_ids_stay_unique_under_concurrent_creates(app: TestApp) {
    let customer = app.customer(1).await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, customer) = (app.clone(), customer.clone());
            tokio::spawn(async move {
                app.open_ticket(&customer, &format!("Concurrent {i}"), "Billing")
                    .await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap()["complaintId"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 20);
}

async fn requests_without_a_valid_token_are_401(app: TestApp) {
    let body = json!({"title": "abc", "description": "d", "category": "Technical"});
    let missing = app.post("/api/complaints", None, body.clone()).await;
    assert_error(&missing, 401, "unauthorized");
    assert_eq!(missing.headers.get("www-authenticate").unwrap(), "Bearer");
    assert_error(
        &app.post("/api/complaints", Some("garbage"), body.clone())
            .await,
        401,
        "unauthorized",
    );
    let forged = quickfix::TokenKeys::new(
        &"another-secret".to_owned().into(),
        std::time::Duration::from_secs(60),
    );
    let admin = app
        .store
        .find_user_by_email("admin@quickfix.dev")
        .await
        .unwrap()
        .unwrap();
    assert_error(
        &app.post("/api/complaints", Some(&forged.issue(&admin)), body)
            .await,
        401,
        "unauthorized",
    );
    let basic = app
        .send(
            app.client
                .get(app.url("/api/complaints"))
                .header("authorization", "Basic YTpi"),
        )
        .await;
    assert_error(&basic, 401, "unauthorized");
    for path in ["/api/complaints", "/api/agents"] {
        assert_error(&app.get(path, None).await, 401, "unauthorized");
    }
}

async fn invalid_fields_are_422_naming_the_field(app: TestApp) {
    let c = app.customer(1).await;
    let cases = [
        (
            json!({"description": "d", "category": "Technical"}),
            "title",
        ),
        (
            json!({"title": "ab", "description": "d", "category": "Technical"}),
            "title",
        ),
        (
            json!({"title": "x".repeat(201), "description": "d", "category": "Technical"}),
            "title",
        ),
        (
            json!({"title": 42, "description": "d", "category": "Technical"}),
            "title",
        ),
        (
            json!({"title": "Fine title", "description": "   ", "category": "Technical"}),
            "description",
        ),
        (
            json!({"title": "Fine title", "description": "d", "category": "Plumbing"}),
            "category",
        ),
        (
            json!({"title": "Fine title", "description": "d"}),
            "category",
        ),
        (
            json!({"title": "Fine title", "description": "d", "category": "Technical", "priority": "Urgent"}),
            "priority",
        ),
    ];
    for (body, field) in cases {
        let reply = app
            .post("/api/complaints", Some(&c.token), body.clone())
            .await;
        assert_error(&reply, 422, "validation_failed");
        assert_eq!(reply.field(), field, "for {body}");
    }
}

async fn malformed_oversized_and_untyped_bodies_are_rejected(app: TestApp) {
    let c = app.customer(1).await;
    let url = app.url("/api/complaints");
    let malformed = app
        .send(
            app.client
                .post(&url)
                .bearer_auth(&c.token)
                .header("content-type", "application/json")
                .body("{\"title\":"),
        )
        .await;
    assert_error(&malformed, 400, "bad_request");
    let untyped = app
        .send(app.client.post(&url).bearer_auth(&c.token).body("{}"))
        .await;
    assert_error(&untyped, 415, "unsupported_media_type");
    let huge =
        json!({"title": "Big", "description": "x".repeat(64 * 1024), "category": "Technical"});
    let too_large = app.post("/api/complaints", Some(&c.token), huge).await;
    assert_error(&too_large, 413, "payload_too_large");
    let array = app
        .post("/api/complaints", Some(&c.token), json!([1, 2]))
        .await;
    assert_error(&array, 422, "validation_failed");
}

async fn unknown_routes_and_methods_answer_json(app: TestApp) {
    assert_error(&app.get("/api/nothing-here", None).await, 404, "not_found");
    let wrong_method = app
        .send(app.client.delete(app.url("/api/complaints")))
        .await;
    assert_error(&wrong_method, 405, "method_not_allowed");
}

async fn tickets_are_visible_to_their_requester_skilled_agents_and_admins(app: TestApp) {
    let owner = app.customer(1).await;
    let other = app.customer(2).await;
    let t = app.open_ticket(&owner, "My printer", "Technical").await;
    let id = t["id"].as_str().unwrap();
    let complaint = t["complaintId"].as_str().unwrap();

    assert_eq!(
        app.get(&format!("/api/complaints/{id}"), Some(&owner.token))
            .await
            .expect(200)
            .body["id"],
        id
    );
    let by_number = app
        .get(&format!("/api/complaints/{complaint}"), Some(&owner.token))
        .await
        .expect(200);
    assert_eq!(by_number.body["id"], id);
    assert_error(
        &app.get(&format!("/api/complaints/{id}"), Some(&other.token))
            .await,
        404,
        "not_found",
    );
    // agent1 takes Technical tickets; agent2 (Billing, General) has no business with it.
    app.get(
        &format!("/api/complaints/{id}"),
        Some(&app.agent(1).await.token),
    )
    .await
    .expect(200);
    assert_error(
        &app.get(
            &format!("/api/complaints/{id}"),
            Some(&app.agent(2).await.token),
        )
        .await,
        404,
        "not_found",
    );
    app.get(
        &format!("/api/complaints/{id}"),
        Some(&app.admin().await.token),
    )
    .await
    .expect(200);
    for bad in [
        "not-an-id",
        "COMP-99999",
        "COMP-",
        "00000000-0000-0000-0000-000000000000",
    ] {
        assert_error(
            &app.get(&format!("/api/complaints/{bad}"), Some(&owner.token))
                .await,
            404,
            "not_found",
        );
    }
    assert_error(
        &app.get(&format!("/api/complaints/{id}/history"), Some(&other.token))
            .await,
        404,
        "not_found",
    );
}

async fn listing_is_scoped_by_role_filtered_and_paginated(app: TestApp) {
    let c1 = app.customer(1).await;
    let c2 = app.customer(2).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let mut mine = Vec::new();
    for i in 0..5 {
        let category = if i < 3 { "Technical" } else { "Billing" };
        mine.push(
            app.open_ticket(&c1, &format!("Mine {i}"), category).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let theirs = app.open_ticket(&c2, "Theirs", "Account").await;
    app.assign(&admin, theirs["id"].as_str().unwrap(), &agent.id)
        .await
        .expect(200);

    // Pages of two, newest first, each ticket exactly once.
    let mut seen = Vec::new();
    let mut path = "/api/complaints?limit=2".to_owned();
    loop {
        let page = app.get(&path, Some(&c1.token)).await.expect(200);
        for item in page.body["items"].as_array().unwrap() {
            assert_eq!(item["userId"], c1.id.as_str());
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/complaints?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    mine.reverse();
    assert_eq!(seen, mine);

    let technical = app
        .get("/api/complaints?category=technical", Some(&c1.token))
        .await
        .expect(200);
    assert_eq!(technical.body["items"].as_array().unwrap().len(), 3);
    let all = app
        .get("/api/complaints?limit=100", Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 6);
    let assigned = app
        .get("/api/complaints?status=Assigned", Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(assigned.body["items"][0]["id"], theirs["id"]);
    let by_agent = app
        .get(
            &format!("/api/complaints?assignee={}", agent.id),
            Some(&admin.token),
        )
        .await
        .expect(200);
    assert_eq!(by_agent.body["items"].as_array().unwrap().len(), 1);
    // Agents see their own assignments only.
    let agent_view = app
        .get("/api/complaints", Some(&agent.token))
        .await
        .expect(200);
    let items = agent_view.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["assignedTo"], agent.id.as_str());

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=Lost", "status"),
        ("priority=Meh", "priority"),
        ("category=Plumbing", "category"),
        ("cursor=xyz", "cursor"),
        ("assignee=nobody", "assignee"),
    ] {
        let reply = app
            .get(&format!("/api/complaints?{query}"), Some(&admin.token))
            .await;
        assert_error(&reply, 422, "validation_failed");
        assert_eq!(reply.field(), field, "for {query}");
    }
}

async fn assigned_agent_works_and_resolves_a_ticket(app: TestApp) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let t = app.open_ticket(&customer, "Broken login", "Account").await;
    let id = t["id"].as_str().unwrap();

    let assigned = app.assign(&admin, id, &agent.id).await.expect(200);
    assert_eq!(assigned.body["status"], "Assigned");
    assert_eq!(assigned.body["assignedTo"], agent.id.as_str());

    let status = |s: &str| json!({"status": s, "message": format!("now {s}")});
    let path = format!("/api/complaints/{id}/status");
    app.patch(&path, Some(&agent.token), status("InProgress"))
        .await
        .expect(200);
    let resolved = app
        .patch(
            &path,
            Some(&agent.token),
            json!({"status": "Resolved", "message": "Issue fixed!"}),
        )
        .await
        .expect(200);
    assert_eq!(resolved.body["status"], "Resolved");
    assert!(resolved.body["resolvedAt"].is_string());
    let closed = app
        .patch(&path, Some(&customer.token), status("Closed"))
        .await
        .expect(200);
    assert_eq!(closed.body["status"], "Closed");

    let history = app
        .get(
            &format!("/api/complaints/{id}/history"),
            Some(&customer.token),
        )
        .await
        .expect(200);
    let kinds: Vec<(&str, &str)> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["kind"].as_str().unwrap(), h["to"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("created", "Open"),
            ("assigned", agent.id.as_str()),
            ("status_changed", "InProgress"),
            ("status_changed", "Resolved"),
            ("status_changed", "Closed"),
        ]
    );
    let resolved_entry = &history.body[3];
    assert_eq!(resolved_entry["actor"], agent.id.as_str());
    assert_eq!(resolved_entry["note"], "Issue fixed!");
    assert_eq!(resolved_entry["from"], "InProgress");
}

async fn status_changes_follow_the_role_rules(app: TestApp) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let holder = app.agent(1).await;
    let other_agent = app.agent(3).await;
    let t = app.open_ticket(&customer, "Rules", "Technical").await;
    let id = t["id"].as_str().unwrap();
    let path = format!("/api/complaints/{id}/status");
    let resolve = json!({"status": "Resolved"});

    // Nobody resolves an unassigned ticket.
    assert_error(
        &app.patch(&path, Some(&admin.token), resolve.clone()).await,
        409,
        "conflict",
    );
    app.assign(&admin, id, &holder.id).await.expect(200);
    assert_error(
        &app.patch(&path, Some(&other_agent.token), resolve.clone())
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.patch(&path, Some(&customer.token), resolve.clone())
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.patch(&path, Some(&app.customer(2).await.token), resolve.clone())
            .await,
        404,
        "not_found",
    );
    let unknown = app
        .patch(&path, Some(&holder.token), json!({"status": "Done"}))
        .await;
    assert_error(&unknown, 422, "validation_failed");
    assert_eq!(unknown.field(), "status");
    let missing = app
        .patch(&path, Some(&holder.token), json!({"message": "hi"}))
        .await;
    assert_eq!(missing.field(), "status");
    assert_error(
        &app.patch(&path, Some(&holder.token), json!({"status": "Assigned"}))
            .await,
        409,
        "conflict",
    );
    app.patch(&path, Some(&holder.token), resolve.clone())
        .await
        .expect(200);
    assert_error(
        &app.patch(&path, Some(&holder.token), resolve).await,
        409,
        "conflict",
    );
    // The requester may reopen: the ticket goes back to the backlog, unassigned.
    let back_to_work = app
        .patch(
            &path,
            Some(&customer.token),
            json!({"status": "InProgress"}),
        )
        .await;
    assert_error(&back_to_work, 409, "conflict");
    let reopened = app
        .patch(&path, Some(&customer.token), json!({"status": "Open"}))
        .await
        .expect(200);
    assert_eq!(reopened.body["status"], "Open");
    assert_eq!(reopened.body["assignedTo"], Value::Null);
    assert_eq!(reopened.body["resolvedAt"], Value::Null);
    let history = app
        .get(&format!("/api/complaints/{id}/history"), Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(
        history.body.as_array().unwrap().last().unwrap()["to"],
        "Open"
    );
}

async fn manual_assignment_respects_presence_and_capacity(app: TestApp) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let a1 = app.agent(1).await;
    let a2 = app.agent(2).await;
    let t1 = app.open_ticket(&customer, "First", "Technical").await;
    let t2 = app.open_ticket(&customer, "Second", "Technical").await;
    let (id1, id2) = (t1["id"].as_str().unwrap(), t2["id"].as_str().unwrap());

    assert_error(&app.assign(&a1, id1, &a1.id).await, 403, "forbidden");
    // Someone who is not an agent is no agent to give the ticket to.
    let not_agent = app.assign(&admin, id1, &customer.id).await;
    assert_error(&not_agent, 409, "conflict");
    assert_eq!(not_agent.field(), "agentId");
    app.assign(&admin, id1, &a1.id).await.expect(200);
    // Capacity 1: a second ticket does not fit.
    let full = app.assign(&admin, id2, &a1.id).await;
    assert_error(&full, 409, "conflict");
    assert_eq!(full.field(), "agentId");
    assert_error(&app.assign(&admin, id1, &a1.id).await, 409, "conflict");

    // Reassigning frees the first agent's slot.
    app.assign(&admin, id1, &a2.id).await.expect(200);
    let agents = app.get("/api/agents", Some(&admin.token)).await.expect(200);
    let slots = |id: &str| {
        agents
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()["agent"]
            .clone()
    };
    assert_eq!(slots(&a1.id)["freeSlots"], 1);
    assert_eq!(slots(&a1.id)["availability"], "available");
    assert_eq!(slots(&a2.id)["freeSlots"], 0);
    assert_eq!(slots(&a2.id)["availability"], "busy");

    // An offline agent takes nothing.
    app.patch(
        &format!("/api/agents/{}/presence", a1.id),
        Some(&a1.token),
        json!({"presence": "offline"}),
    )
    .await
    .expect(200);
    assert_error(&app.assign(&admin, id2, &a1.id).await, 409, "conflict");
}

async fn customers_register_and_sign_in(app: TestApp) {
    let reply = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "Nia New", "email": "Nia@Example.com", "password": "long enough"}),
        )
        .await
        .expect(201);
    assert_eq!(reply.body["user"]["role"], "customer");
    assert_eq!(reply.body["user"]["email"], "nia@example.com");
    let token = reply.body["token"].as_str().unwrap();
    app.open_ticket(
        &common::Session {
            token: token.to_owned(),
            id: String::new(),
        },
        "From new user",
        "General",
    )
    .await;

    let again = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "Nia", "email": "nia@example.com", "password": "long enough"}),
        )
        .await;
    assert_error(&again, 409, "conflict");
    assert_eq!(again.field(), "email");
    for (body, field) in [
        (
            json!({"name": "N", "email": "nope", "password": "long enough"}),
            "email",
        ),
        (
            json!({"name": "N", "email": "n@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"name": "", "email": "n@example.com", "password": "long enough"}),
            "name",
        ),
        (
            json!({"email": "n@example.com", "password": "long enough"}),
            "name",
        ),
    ] {
        let r = app.post("/api/auth/register", None, body).await;
        assert_error(&r, 422, "validation_failed");
        assert_eq!(r.field(), field);
    }

    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "NIA@example.com", "password": "long enough"}),
        )
        .await
        .expect(200);
    assert_eq!(login.body["user"]["email"], "nia@example.com");
    assert!(login.body["expiresIn"].as_u64().unwrap() > 0);
    let wrong = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "nia@example.com", "password": "not the one"}),
        )
        .await;
    assert_error(&wrong, 401, "unauthorized");
    let unknown = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "ghost@example.com", "password": "whatever1"}),
        )
        .await;
    assert_error(&unknown, 401, "unauthorized");
    assert_eq!(
        wrong.body["error"]["message"], unknown.body["error"]["message"],
        "no account enumeration"
    );
    let missing = app
        .post("/api/auth/login", None, json!({"email": "nia@example.com"}))
        .await;
    assert_eq!(missing.field(), "password");
}

async fn admins_manage_agents_and_presence(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let agent1 = app.agent(1).await;
    let body = json!({"name": "Petra Pro", "email": "petra@quickfix.dev", "password": "agent-password",
                      "skills": ["Billing", "account"], "tier": "senior", "capacity": 3});
    assert_error(
        &app.post("/api/agents", Some(&customer.token), body.clone())
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.post("/api/agents", Some(&agent1.token), body.clone())
            .await,
        403,
        "forbidden",
    );
    let created = app
        .post("/api/agents", Some(&admin.token), body.clone())
        .await
        .expect(201);
    let profile = &created.body["agent"];
    assert_eq!(profile["skills"], json!(["Billing", "Account"]));
    assert_eq!(profile["tier"], "senior");
    assert_eq!(profile["capacity"], 3);
    assert_eq!(profile["freeSlots"], 3);
    assert_eq!(profile["presence"], "offline");
    assert_eq!(profile["availability"], "offline");
    assert_error(
        &app.post("/api/agents", Some(&admin.token), body).await,
        409,
        "conflict",
    );
    for (patch, field) in [
        (json!({"skills": []}), "skills"),
        (json!({"skills": ["Plumbing"]}), "skills"),
        (json!({"capacity": 0}), "capacity"),
        (json!({"capacity": "two"}), "capacity"),
        (json!({"tier": "boss"}), "tier"),
    ] {
        let mut b = json!({"name": "X", "email": "x@quickfix.dev", "password": "agent-password", "skills": ["Billing"]});
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = app.post("/api/agents", Some(&admin.token), b).await;
        assert_error(&r, 422, "validation_failed");
        assert_eq!(r.field(), field);
    }

    let petra_id = created.body["id"].as_str().unwrap();
    // The agent signs in with the password the admin set.
    app.post(
        "/api/auth/login",
        None,
        json!({"email": "petra@quickfix.dev", "password": "agent-password"}),
    )
    .await
    .expect(200);
    let presence = format!("/api/agents/{petra_id}/presence");
    assert_error(
        &app.patch(
            &presence,
            Some(&agent1.token),
            json!({"presence": "online"}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.patch(
            &presence,
            Some(&customer.token),
            json!({"presence": "online"}),
        )
        .await,
        403,
        "forbidden",
    );
    let online = app
        .patch(&presence, Some(&admin.token), json!({"presence": "online"}))
        .await
        .expect(200);
    assert_eq!(online.body["agent"]["availability"], "available");
    let bad = app
        .patch(&presence, Some(&admin.token), json!({"presence": "away"}))
        .await;
    assert_eq!(bad.field(), "presence");
    let own = format!("/api/agents/{}/presence", agent1.id);
    let off = app
        .patch(&own, Some(&agent1.token), json!({"presence": "offline"}))
        .await
        .expect(200);
    assert_eq!(off.body["agent"]["availability"], "offline");
    assert_error(
        &app.patch(
            "/api/agents/not-an-id/presence",
            Some(&admin.token),
            json!({"presence": "online"}),
        )
        .await,
        404,
        "not_found",
    );
    let customer_as_agent = format!("/api/agents/{}/presence", customer.id);
    assert_error(
        &app.patch(
            &customer_as_agent,
            Some(&admin.token),
            json!({"presence": "online"}),
        )
        .await,
        404,
        "not_found",
    );

    let list = app
        .get("/api/agents", Some(&agent1.token))
        .await
        .expect(200);
    assert_eq!(list.body.as_array().unwrap().len(), 4);
    assert_error(
        &app.get("/api/agents", Some(&customer.token)).await,
        403,
        "forbidden",
    );
}

async fn operations_endpoints_answer(app: TestApp) {
    assert_eq!(
        app.get("/healthz", None).await.expect(200).body["status"],
        "ok"
    );
    // Ready once the live relay follows the feed, which takes a moment after start.
    let ready = common::eventually(std::time::Duration::from_secs(30), || async {
        let r = app.get("/readyz", None).await;
        (r.status == 200).then_some(r)
    })
    .await
    .expect("ready within 30 s");
    assert_eq!(
        ready.body["checks"],
        json!({"store": "ok", "bus": "ok", "live": "ok"})
    );
    app.get("/api/agents", Some(&app.admin().await.token))
        .await
        .expect(200);
    let metrics = app.text("/metrics").await;
    assert!(
        metrics.contains("quickfix_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/api/agents\""), "{metrics}");
    let spec = app.get("/openapi.json", None).await.expect(200);
    let paths = spec.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
        ("/api/complaints", "post"),
        ("/api/complaints", "get"),
        ("/api/complaints/{id}", "get"),
        ("/api/complaints/{id}/status", "patch"),
        ("/api/complaints/{id}/history", "get"),
        ("/api/complaints/{id}/assign", "post"),
        ("/api/agents", "post"),
        ("/api/agents", "get"),
        ("/api/agents/{id}/presence", "patch"),
        ("/api/notifications", "get"),
        ("/api/notifications/{id}/read", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from OpenAPI"
        );
    }
}

async fn hostile_input_never_causes_a_server_error(app: TestApp) {
    let admin = app.admin().await;
    let t = app
        .open_ticket(&app.customer(1).await, "Target", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    let nasty = [
        json!(null),
        json!("string"),
        json!({"title": {"nested": [1, 2, {"deep": null}]}}),
        json!({"title": "\u{0000}\u{0007}bell", "description": "\u{202e}rtl", "category": "Technical"}),
        json!({"status": 1e308, "presence": -1, "capacity": 4_294_967_296_u64, "skills": "Billing"}),
        json!({"agentId": "'; drop table tickets; --", "email": {"$ne": null}, "password": ["a"]}),
        json!({"title": "🦀".repeat(201), "description": "d", "category": "Technical"}),
    ];
    let routes = [
        ("POST", "/api/complaints".to_owned()),
        ("PATCH", format!("/api/complaints/{id}/status")),
        ("POST", format!("/api/complaints/{id}/assign")),
        ("POST", "/api/agents".to_owned()),
        ("PATCH", format!("/api/agents/{}/presence", admin.id)),
        ("POST", "/api/auth/register".to_owned()),
        ("POST", "/api/auth/login".to_owned()),
    ];
    for (method, path) in &routes {
        for body in &nasty {
            let req = match *method {
                "POST" => app.client.post(app.url(path)),
                _ => app.client.patch(app.url(path)),
            };
            let reply = app.send(req.bearer_auth(&admin.token).json(body)).await;
            assert!(
                reply.status.is_client_error(),
                "{method} {path} with {body} gave {}: {}",
                reply.status,
                reply.body
            );
            assert!(reply.body["error"]["code"].is_string());
        }
    }
    for path in [
        "/api/complaints/%00",
        "/api/complaints/COMP-99999999999999999999999",
        "/api/complaints?limit=-1&cursor=%FF",
    ] {
        let reply = app.get(path, Some(&admin.token)).await;
        assert!(reply.status.is_client_error(), "{path}: {}", reply.status);
    }
}

async fn the_notifications_inbox_lists_and_marks_read(app: TestApp) {
    let agent = app.agent(1).await;
    let other = app.agent(2).await;
    let me = quickfix::domain::UserId::parse("id", &agent.id).unwrap();
    let t0 = chrono::Utc::now() - chrono::Duration::seconds(10);
    let mut made = Vec::new();
    for i in 0..3 {
        let event = common::some_event();
        made.push(quickfix::domain::Notification::of(
            &event,
            me,
            quickfix::domain::NotificationKind::TicketAssigned,
            format!("ticket {i}"),
            json!({"id": format!("t{i}")}),
            t0 + chrono::Duration::seconds(i),
        ));
    }
    app.store.insert_notifications(&made).await.unwrap();

    let inbox = app
        .get("/api/notifications", Some(&agent.token))
        .await
        .expect(200)
        .body;
    let inbox = inbox.as_array().unwrap();
    assert_eq!(inbox.len(), 3);
    assert_eq!(inbox[0]["kind"], "ticketAssigned");
    assert_eq!(inbox[0]["message"], "ticket 0");
    assert_eq!(inbox[0]["data"]["id"], "t0");
    assert!(inbox[0]["readAt"].is_null());
    let since = inbox[0]["createdAt"].as_str().unwrap();
    let newer = app
        .get(
            &format!("/api/notifications?since={since}"),
            Some(&agent.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        newer.as_array().unwrap().len(),
        2,
        "only what came after `since`"
    );
    assert_eq!(
        app.get("/api/notifications?limit=1", Some(&agent.token))
            .await
            .expect(200)
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        app.get("/api/notifications", Some(&other.token))
            .await
            .expect(200)
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );

    let id = inbox[0]["id"].as_str().unwrap();
    let path = format!("/api/notifications/{id}/read");
    assert_error(
        &app.post(&path, Some(&other.token), json!({})).await,
        404,
        "not_found",
    );
    app.post(&path, Some(&agent.token), json!({}))
        .await
        .expect(204);
    let inbox = app
        .get("/api/notifications", Some(&agent.token))
        .await
        .expect(200)
        .body;
    assert!(inbox[0]["readAt"].is_string());
    for (query, field) in [("since=yesterday", "since"), ("limit=0", "limit")] {
        let r = app
            .get(&format!("/api/notifications?{query}"), Some(&agent.token))
            .await;
        assert_error(&r, 422, "validation_failed");
        assert_eq!(r.field(), field);
    }
    assert_error(
        &app.get("/api/notifications", None).await,
        401,
        "unauthorized",
    );
}

on_both_backends!(
    seed_route_creates_a_ticket_like_the_original,
    complaint_ids_stay_unique_under_concurrent_creates,
    requests_without_a_valid_token_are_401,
    invalid_fields_are_422_naming_the_field,
    malformed_oversized_and_untyped_bodies_are_rejected,
    unknown_routes_and_methods_answer_json,
    tickets_are_visible_to_their_requester_skilled_agents_and_admins,
    listing_is_scoped_by_role_filtered_and_paginated,
    assigned_agent_works_and_resolves_a_ticket,
    status_changes_follow_the_role_rules,
    manual_assignment_respects_presence_and_capacity,
    customers_register_and_sign_in,
    admins_manage_agents_and_presence,
    operations_endpoints_answer,
    hostile_input_never_causes_a_server_error,
    the_notifications_inbox_lists_and_marks_read,
);

/// With the database unreachable, requests get 503 (and readiness says why), never 500.
#[tokio::test]
async fn an_unreachable_store_answers_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let store = quickfix::MongoStore::connect_lazy(
        &format!("mongodb://{closed}/?directConnection=true"),
        "unreachable",
        quickfix::MongoStoreOptions {
            server_selection_timeout: std::time::Duration::from_millis(300),
            ..quickfix::MongoStoreOptions::default()
        },
    )
    .await
    .unwrap();
    let store: std::sync::Arc<dyn quickfix::Store> = std::sync::Arc::new(store);
    let topology = quickfix::MemoryTopology::provision(&common::unique_spec(vec![]));
    let app = common::start_without_seed(store, topology.topic, topology.queue, 16 * 1024).await;
    let keys = quickfix::TokenKeys::new(
        &common::JWT_SECRET.to_owned().into(),
        std::time::Duration::from_secs(60),
    );
    let customer = quickfix::domain::User::new(
        quickfix::domain::PersonName::parse("C").unwrap(),
        quickfix::domain::Email::parse("c@example.com").unwrap(),
        quickfix::domain::Role::Customer,
        quickfix::domain::PasswordHash::from_phc(String::new()),
        None,
        chrono::Utc::now(),
    );
    let token = keys.issue(&customer);
    let create = app
        .post(
            "/api/complaints",
            Some(&token),
            json!({"title": "Down", "description": "d", "category": "Technical"}),
        )
        .await;
    assert_error(&create, 503, "service_unavailable");
    assert!(create.headers.get("retry-after").is_some());
    assert_error(
        &app.get("/api/complaints", Some(&token)).await,
        503,
        "service_unavailable",
    );
    assert_error(
        &app.post(
            "/api/auth/login",
            None,
            json!({"email": "a@b.co", "password": "whatever1"}),
        )
        .await,
        503,
        "service_unavailable",
    );
    let ready = app.get("/readyz", None).await.expect(503);
    assert_eq!(ready.body["checks"]["store"], "unavailable");
}
