//! `Idempotency-Key` on the POST routes: a repeat gets the first answer, never a second ticket;
//! the same key with another body is refused; keys are scoped to their sender; twins sent at
//! once make one ticket. Each test runs on the embedded backends and on MongoDB + SNS/SQS.

mod common;

use std::collections::HashSet;

use common::{Reply, TestApp};
use quickfix::domain::EventType;
use serde_json::{Value, json};

async fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Reply {
    app.send(
        app.client
            .post(app.url(path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body),
    )
    .await
}

async fn tickets_of(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/complaints?limit=100", Some(token))
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_repeat_gets_the_first_answer_and_makes_no_second_ticket(app: TestApp) {
    let customer = app.customer(1).await;
    let body = json!({"title": "Printer jam", "description": "again", "category": "Technical"});
    let first = post_keyed(&app, "/api/complaints", &customer.token, "key-1", &body)
        .await
        .expect(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = post_keyed(&app, "/api/complaints", &customer.token, "key-1", &body)
        .await
        .expect(201);
    assert_eq!(again.body, first.body, "the first answer, as it was");
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(tickets_of(&app, &customer.token).await.len(), 1);
    let created = app
        .collect_events(
            EventType::TicketCreated,
            2,
            std::time::Duration::from_secs(5),
        )
        .await;
    assert_eq!(created.len(), 1, "one ticket.created");

    // The same key for another request is refused and changes nothing.
    let other = json!({"title": "Another one", "description": "d", "category": "Billing"});
    let refused = post_keyed(&app, "/api/complaints", &customer.token, "key-1", &other)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(refused.field(), "Idempotency-Key");
    // Keys are the sender's own: another customer's `key-1` is a new request.
    let someone = app.customer(2).await;
    post_keyed(&app, "/api/complaints", &someone.token, "key-1", &body)
        .await
        .expect(201);
    assert_eq!(tickets_of(&app, &customer.token).await.len(), 1);
    // A key that is not a key is refused.
    post_keyed(
        &app,
        "/api/complaints",
        &customer.token,
        &"k".repeat(300),
        &body,
    )
    .await
    .expect_error(422, "validation_failed");
}

async fn twins_sent_at_once_make_one_ticket(app: TestApp) {
    let customer = app.customer(1).await;
    let body = json!({"title": "Sent twice at once", "description": "d", "category": "General"});
    let twins = (0..6).map(|_| post_keyed(&app, "/api/complaints", &customer.token, "twin", &body));
    let answers = futures::future::join_all(twins).await;
    let ids: HashSet<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every twin answers the same ticket");
    assert_eq!(tickets_of(&app, &customer.token).await.len(), 1);
}

async fn assignment_and_user_creation_replay_too(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let agent = app.agent(1).await;
    app.patch(
        &format!("/api/agents/{}/presence", agent.id),
        Some(&agent.token),
        json!({"presence": "online"}),
    )
    .await
    .expect(200);
    let ticket = app
        .open_ticket(&customer, "Assign me once", "Technical")
        .await;
    let path = format!("/api/complaints/{}/assign", ticket["id"].as_str().unwrap());
    let body = json!({"agentId": agent.id});
    let first = post_keyed(&app, &path, &admin.token, "assign-1", &body)
        .await
        .expect(200);
    let again = post_keyed(&app, &path, &admin.token, "assign-1", &body)
        .await
        .expect(200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");

    let user = json!({"name": "Kay", "email": "kay@example.com", "password": "a long passphrase", "role": "customer"});
    let made = post_keyed(&app, "/api/users", &admin.token, "user-1", &user)
        .await
        .expect(201);
    let again = post_keyed(&app, "/api/users", &admin.token, "user-1", &user)
        .await
        .expect(201);
    assert_eq!(again.body["id"], made.body["id"]);
}

async fn a_repeated_reply_or_note_is_written_once(app: TestApp) {
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let t = app
        .open_ticket(&customer, "Scanner offline", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    let body = json!({"body": "Is it plugged in?"});
    for path in ["replies", "notes"] {
        let path = format!("/api/complaints/{id}/{path}");
        let first = post_keyed(&app, &path, &admin.token, &format!("{path}-1"), &body)
            .await
            .expect(201);
        let again = post_keyed(&app, &path, &admin.token, &format!("{path}-1"), &body)
            .await
            .expect(201);
        assert_eq!(
            again.body, first.body,
            "the first answer, the same message id"
        );
        assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    }
    let thread = app
        .get(
            &format!("/api/complaints/{id}/messages"),
            Some(&admin.token),
        )
        .await
        .expect(200);
    assert_eq!(
        thread.body["items"].as_array().unwrap().len(),
        2,
        "one reply, one note"
    );
}

on_both_backends!(
    a_repeated_reply_or_note_is_written_once,
    a_repeat_gets_the_first_answer_and_makes_no_second_ticket,
    twins_sent_at_once_make_one_ticket,
    assignment_and_user_creation_replay_too,
);

#[tokio::test]
async fn the_openapi_document_describes_the_header_on_every_keyed_route() {
    let app = common::spawn_app(common::Backend::Embedded).await.unwrap();
    let spec = app.get("/openapi.json", None).await.expect(200).body;
    for path in [
        "/api/complaints",
        "/api/complaints/{id}/assign",
        "/api/complaints/{id}/replies",
        "/api/complaints/{id}/notes",
        "/api/users",
        "/api/agents",
    ] {
        let params = spec["paths"][path]["post"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has parameters"));
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
            "POST {path} documents Idempotency-Key: {params:?}"
        );
    }
}
