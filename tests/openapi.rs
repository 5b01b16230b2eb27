//! The OpenAPI document at `/openapi.json` against the server that serves it: every documented
//! operation is routed, every route is documented, error bodies have the documented shape, and
//! the configured categories are the documented ones. (`scripts/conformance.sh` goes further:
//! schemathesis against the running server, as every role.)

mod common;

use serde_json::{Value, json};

async fn app() -> common::TestApp {
    common::spawn_app(common::Backend::Embedded)
        .await
        .expect("the embedded backend is always there")
}

/// Every operation the API serves; `/openapi.json` must list each, and list nothing else.
const OPERATIONS: [(&str, &str); 37] = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/password"),
    ("post", "/api/auth/logout-all"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("get", "/api/organizations"),
    ("post", "/api/organizations"),
    ("put", "/api/users/{id}/organization"),
    ("patch", "/api/users/{id}"),
    ("post", "/api/complaints"),
    ("get", "/api/complaints"),
    ("get", "/api/complaints/{id}"),
    ("patch", "/api/complaints/{id}/status"),
    ("get", "/api/complaints/{id}/history"),
    ("post", "/api/complaints/{id}/assign"),
    ("get", "/api/complaints/{id}/events"),
    ("get", "/api/complaints/{id}/messages"),
    ("post", "/api/complaints/{id}/replies"),
    ("post", "/api/complaints/{id}/notes"),
    ("post", "/api/complaints/{id}/sla/acknowledge"),
    ("get", "/api/events"),
    ("post", "/api/agents"),
    ("get", "/api/agents"),
    ("patch", "/api/agents/{id}/presence"),
    ("get", "/api/notifications"),
    ("post", "/api/notifications/{id}/read"),
    ("get", "/api/sla/at-risk"),
    ("get", "/api/sla/breached"),
    ("get", "/api/sla/compliance"),
    ("get", "/api/sla/policy"),
    ("get", "/api/config"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/asyncapi.json"),
];

fn documented(spec: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .filter(|k| ["get", "post", "patch", "put", "delete"].contains(&k.as_str()))
                .map(|method| (method.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn the_document_lists_exactly_the_operations_served() {
    let app = app().await;
    let spec = app.get("/openapi.json", None).await.expect(200).body;
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(documented(&spec), expected);

    // Each documented operation reaches a handler: not the router's "route not found" nor its
    // 405, which is what a documented path without a route (or the wrong method) gets.
    for (method, path) in documented(&spec) {
        let url = app.url(&path.replace("{id}", "COMP-00001"));
        let request = match method.as_str() {
            "get" => app.client.get(&url),
            "post" => app.client.post(&url).json(&json!({})),
            "patch" => app.client.patch(&url).json(&json!({})),
            "put" => app.client.put(&url).json(&json!({})),
            other => panic!("unexpected method {other}"),
        };
        let reply = app.send(request).await;
        assert_ne!(reply.status.as_u16(), 405, "{method} {path}");
        assert_ne!(
            reply.body["error"]["message"], "route not found",
            "{method} {path} is documented but not routed"
        );
    }
}

#[tokio::test]
async fn every_operation_documents_the_answers_of_its_middleware_and_extractors() {
    let app = app().await;
    let spec = app.get("/openapi.json", None).await.expect(200).body;
    for (method, path) in documented(&spec) {
        let op = &spec["paths"][&path][&method];
        let answers = op["responses"].as_object().unwrap();
        let has = |status: &str| answers.contains_key(status);
        assert!(has("429") && has("503"), "{method} {path}: {answers:?}");
        if op.get("security").is_some() {
            assert!(has("401"), "{method} {path} takes a token");
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(has(status), "{method} {path} reads a body: {status}");
            }
        }
    }
    // The limits the handlers enforce are stated.
    let limit = |path: &str| {
        spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .map(|p| {
                (
                    p["schema"]["minimum"].clone(),
                    p["schema"]["maximum"].clone(),
                )
            })
            .unwrap()
    };
    assert_eq!(limit("/api/events"), (json!(1), json!(500)));
    assert_eq!(limit("/api/complaints"), (json!(1), json!(100)));
    assert_eq!(limit("/api/users"), (json!(1), json!(200)));
    assert_eq!(limit("/api/organizations"), (json!(1), json!(200)));
    let title = &spec["components"]["schemas"]["CreateComplaint"]["properties"]["title"];
    assert_eq!(
        (title["minLength"].clone(), title["maxLength"].clone()),
        (json!(3), json!(200))
    );
}

#[tokio::test]
async fn the_categories_are_the_configured_ones() {
    let app = app().await;
    let spec = app.get("/openapi.json", None).await.expect(200).body;
    let config = app.get("/api/config", None).await.expect(200).body;
    assert_eq!(
        spec["components"]["schemas"]["Category"]["enum"],
        config["categories"]
    );
}

/// Error bodies match the documented `ErrorBody`: `details` is an object naming the field when
/// one is at fault, and absent (not `null`) otherwise.
#[tokio::test]
async fn error_bodies_have_the_documented_shape() {
    let app = app().await;
    let spec = app.get("/openapi.json", None).await.expect(200).body;
    let schema = json!({
        "$ref": "#/components/schemas/ErrorBody",
        "components": spec["components"].clone(),
    });
    let validator = jsonschema::validator_for(&schema).expect("ErrorBody is a valid schema");

    let no_token = app.get("/api/complaints", None).await;
    let customer = app.customer(1).await;
    let not_found = app
        .get("/api/complaints/COMP-99999", Some(&customer.token))
        .await;
    let invalid = app
        .post(
            "/api/complaints",
            Some(&customer.token),
            json!({"title": "ab", "description": "d", "category": "Technical"}),
        )
        .await;
    for (reply, status, field) in [
        (&no_token, 401, None),
        (&not_found, 404, None),
        (&invalid, 422, Some("title")),
    ] {
        assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
        assert!(
            validator.is_valid(&reply.body),
            "{status}: {} breaks ErrorBody",
            reply.body
        );
        match field {
            Some(field) => assert_eq!(reply.body["error"]["details"], json!({"field": field})),
            None => assert!(
                reply.body["error"].get("details").is_none(),
                "{status}: no `details` key when no field is at fault: {}",
                reply.body
            ),
        }
    }
}

/// JSON Schema counts `2.0` as the integer 2, and so does the server where the document says
/// `integer`.
#[tokio::test]
async fn a_whole_number_may_carry_a_zero_fraction() {
    let app = app().await;
    let admin = app.admin().await;
    let body = |capacity: Value| {
        json!({"name": "Nia Agent", "email": format!("nia{}@example.com", capacity.to_string().len()),
            "password": "long enough", "skills": ["Technical"], "capacity": capacity})
    };
    let created = app
        .post("/api/agents", Some(&admin.token), body(json!(2.0)))
        .await
        .expect(201);
    assert_eq!(created.body["agent"]["capacity"], 2);
    let refused = app
        .post("/api/agents", Some(&admin.token), body(json!(2.5)))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(refused.field(), "capacity");
}
