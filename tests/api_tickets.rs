//! The tickets API end to end: creating, seeing, listing, working, status rules and manual
//! assignment. Each test runs on the embedded backends and on MongoDB + SNS/SQS.

mod common;

use std::collections::HashSet;

use common::{TestApp, assert_error};
use serde_json::{Value, json};

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

on_both_backends!(
    seed_route_creates_a_ticket_like_the_original,
    complaint_ids_stay_unique_under_concurrent_creates,
    tickets_are_visible_to_their_requester_skilled_agents_and_admins,
    listing_is_scoped_by_role_filtered_and_paginated,
    assigned_agent_works_and_resolves_a_ticket,
    status_changes_follow_the_role_rules,
    manual_assignment_respects_presence_and_capacity,
);
