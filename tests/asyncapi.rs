//! The AsyncAPI document: kept in `docs/asyncapi.json` exactly as the server generates it,
//! served at `/asyncapi.json`, and true of what is published: every envelope a real flow
//! publishes (on the embedded bus and through SNS/SQS) validates against its message's payload
//! schema, and its message attributes against the message's headers.
//!
//! After changing an event type: `QUICKFIX_UPDATE_DOCS=1 cargo test --test asyncapi` rewrites
//! `docs/asyncapi.json`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use quickfix::domain::{EventType, WORKER_EVENT_TYPES};
use serde_json::{Value, json};

use common::{Backend, TestApp};

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/asyncapi.json");

/// A validator for the schema at `pointer` (e.g. `#/components/schemas/ticket.created.envelope`)
/// inside the document, formats (uuid, date-time) asserted.
fn validator(document: &Value, pointer: &str) -> jsonschema::Validator {
    let mut root = document.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["$ref"] = json!(pointer);
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema at {pointer} compiles: {e}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_document_in_docs_is_the_generated_one() {
    let generated = quickfix::asyncapi::document_text();
    if std::env::var("QUICKFIX_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(DOCS, &generated).expect("write docs/asyncapi.json");
    }
    let kept = std::fs::read_to_string(DOCS).unwrap_or_default();
    assert!(
        kept == generated,
        "docs/asyncapi.json is out of date: run `QUICKFIX_UPDATE_DOCS=1 cargo test --test asyncapi`"
    );
}

#[test]
fn the_document_names_every_event_the_topic_carries_and_the_worker_filter() {
    let doc = quickfix::asyncapi::document();
    assert_eq!(doc["asyncapi"], "3.0.0");
    let messages = doc["channels"]["events"]["messages"].as_object().unwrap();
    let names: BTreeSet<&str> = messages.keys().map(String::as_str).collect();
    let all: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, all);
    let consumer = &doc["operations"]["routeTickets"]["bindings"]["sns"]["consumers"][0];
    let filter: BTreeSet<&str> = consumer["filterPolicy"]["eventType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let worker: BTreeSet<&str> = WORKER_EVENT_TYPES.iter().map(|t| t.as_str()).collect();
    assert_eq!(filter, worker);
    assert_eq!(consumer["rawMessageDelivery"], true);
}

#[test]
fn a_schema_refuses_an_envelope_that_breaks_it() {
    let doc = quickfix::asyncapi::document();
    let created = validator(&doc, "#/components/schemas/ticket.created.envelope");
    let mut envelope = json!({
        "eventId": "5b1d1a3e-9f0c-4a55-9a2f-3f1d2c9b7e11",
        "eventType": "ticket.created",
        "version": 2,
        "timestamp": "2026-01-17T12:00:00Z",
        "data": {"ticketId": "0199a1b2-0000-7000-8000-000000000001", "complaintId": "COMP-12345",
                 "userId": "0199a1b2-0000-7000-8000-000000000002", "title": "Internet issue",
                 "category": "Technical", "priority": "High", "assignedTo": null,
                 "description": "The router blinks red"},
        "metadata": {"correlationId": "c", "causationId": null, "actor": "system"},
    });
    assert_eq!(errors(&created, &envelope), Vec::<String>::new());
    envelope["data"]["priority"] = json!("Urgent");
    assert!(!created.is_valid(&envelope), "an unknown priority");
    envelope["data"]["priority"] = json!("High");
    envelope["data"]["complaintId"] = json!("12345");
    assert!(!created.is_valid(&envelope), "a malformed ticket number");
    envelope["data"]["complaintId"] = json!("COMP-12345");
    envelope["eventType"] = json!("ticket.resolved");
    assert!(!created.is_valid(&envelope), "another message's type");
}

/// Runs the flows that publish: a ticket opened, assigned by an admin, resolved by its agent,
/// and an agent going offline; then checks every published envelope and its attributes.
async fn published_envelopes_match_the_document(app: TestApp) {
    let doc: Value = app.get("/asyncapi.json", None).await.expect(200).body;
    assert_eq!(doc, quickfix::asyncapi::document(), "served as generated");
    let customer = app.customer(1).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let ticket = app.open_ticket(&customer, "Printer jam", "Technical").await;
    let id = ticket["id"].as_str().unwrap();
    app.assign(&admin, id, &agent.id).await.expect(200);
    app.patch(
        &format!("/api/complaints/{id}/status"),
        Some(&agent.token),
        json!({"status": "Resolved"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/api/agents/{}/presence", agent.id),
        Some(&admin.token),
        json!({"presence": "offline"}),
    )
    .await
    .expect(200);

    let want: BTreeSet<&str> = [
        EventType::TicketCreated,
        EventType::TicketAssigned,
        EventType::TicketStatusChanged,
        EventType::TicketResolved,
        EventType::AgentAvailabilityChanged,
    ]
    .iter()
    .map(|t| t.as_str())
    .collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    while !want.iter().all(|t| seen.contains_key(*t)) && tokio::time::Instant::now() < until {
        let batch = app
            .events
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap();
        let receipts: Vec<String> = batch.iter().map(|d| d.receipt.clone()).collect();
        for delivery in batch {
            let body: Value = serde_json::from_str(&delivery.body).unwrap();
            let name = body["eventType"].as_str().unwrap().to_owned();
            let payload = validator(&doc, &format!("#/components/schemas/{name}.envelope"));
            assert_eq!(
                errors(&payload, &body),
                Vec::<String>::new(),
                "{name}: {body}"
            );
            let attributes: serde_json::Map<String, Value> = delivery
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let headers = validator(
                &doc,
                &format!("#/components/schemas/message-attributes.{name}"),
            );
            assert_eq!(
                errors(&headers, &Value::Object(attributes)),
                Vec::<String>::new(),
                "{name} attributes"
            );
            *seen.entry(name).or_default() += 1;
        }
        if !receipts.is_empty() {
            app.events.delete(&receipts).await.unwrap();
        }
    }
    let missing: Vec<&&str> = want.iter().filter(|t| !seen.contains_key(**t)).collect();
    assert!(
        missing.is_empty(),
        "never published: {missing:?} (saw {seen:?})"
    );
}

#[tokio::test]
async fn embedded_published_envelopes_match_the_document() {
    let app = common::spawn_app(Backend::Embedded).await.unwrap();
    published_envelopes_match_the_document(app).await;
}

#[tokio::test]
async fn real_published_envelopes_match_the_document() {
    if let Some(app) = common::spawn_app(Backend::Real).await {
        published_envelopes_match_the_document(app).await;
    }
}
