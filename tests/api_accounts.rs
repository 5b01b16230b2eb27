//! Accounts, agents and the notifications inbox over the API. Each test runs on the embedded
//! backends and on MongoDB + SNS/SQS.

mod common;

use common::{TestApp, assert_error};
use serde_json::json;

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
    customers_register_and_sign_in,
    admins_manage_agents_and_presence,
    the_notifications_inbox_lists_and_marks_read,
);
