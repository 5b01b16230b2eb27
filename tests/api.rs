//! The API's edges: authentication, invalid and hostile input, unknown routes, the
//! operations endpoints and an unreachable store. Each test runs on the embedded backends and
//! on MongoDB + SNS/SQS.

mod common;

use common::{TestApp, assert_error};
use serde_json::json;

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

on_both_backends!(
    requests_without_a_valid_token_are_401,
    invalid_fields_are_422_naming_the_field,
    malformed_oversized_and_untyped_bodies_are_rejected,
    unknown_routes_and_methods_answer_json,
    operations_endpoints_answer,
    hostile_input_never_causes_a_server_error,
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
