//! The event log over HTTP: every published event is logged once with its correlation and
//! causation, `GET /api/events` searches it (admins) with a cursor, a ticket's timeline is
//! readable by whoever may read the ticket, and bad filters are refused naming the field.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use common::{Backend, TestApp, eventually};

const WAIT: Duration = Duration::from_secs(60);

fn items(reply: &Value) -> Vec<Value> {
    reply["items"].as_array().cloned().unwrap_or_default()
}

fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["eventType"] == event_type)
        .collect()
}

/// A ticket opened with a request id is logged as `ticket.created` by the customer, and the
/// worker's `ticket.assigned` is logged with the same correlation id, caused by it; the
/// ticket's timeline shows both, cause first, to its customer and to no other.
async fn every_published_event_is_logged_once_with_its_cause(app: TestApp) {
    let shutdown = CancellationToken::new();
    app.spawn_worker(&shutdown);
    let (admin, customer, stranger) = (
        app.admin().await,
        app.customer(1).await,
        app.customer(2).await,
    );
    let request_id = format!("req-{}", uuid::Uuid::new_v4().simple());
    let created = app
        .send(
            app.client
                .post(app.url("/api/complaints"))
                .bearer_auth(&customer.token)
                .header("x-request-id", &request_id)
                .json(&json!({"title": "VPN down", "description": "No tunnel", "category": "Technical"})),
        )
        .await
        .expect(201)
        .body;
    let ticket_id = created["id"].as_str().unwrap().to_owned();
    let search = format!("/api/events?correlationId={request_id}");
    let logged = eventually(WAIT, || async {
        let page = app.get(&search, Some(&admin.token)).await.expect(200).body;
        let events = items(&page);
        (!of_type(&events, "ticket.assigned").is_empty()).then_some(events)
    })
    .await
    .expect("ticket.created and ticket.assigned are logged under the request's correlation id");

    let created_events = of_type(&logged, "ticket.created");
    assert_eq!(created_events.len(), 1, "logged once: {logged:#?}");
    let created_event = created_events[0];
    assert_eq!(created_event["actor"], customer.id.as_str());
    assert_eq!(created_event["ticketId"], ticket_id.as_str());
    assert_eq!(created_event["complaintId"], created["complaintId"]);
    assert_eq!(created_event["data"]["title"], "VPN down");
    assert_eq!(created_event["causationId"], Value::Null);
    assert!(
        created_event["publishedAt"].as_str() >= created_event["timestamp"].as_str(),
        "published after it happened: {created_event}"
    );
    let assigned = of_type(&logged, "ticket.assigned");
    assert_eq!(assigned.len(), 1, "logged once: {logged:#?}");
    assert_eq!(assigned[0]["causationId"], created_event["eventId"]);
    assert_eq!(assigned[0]["actor"], "system");
    for e in &logged {
        assert_eq!(e["correlationId"], request_id.as_str(), "{e}");
    }

    let timeline = app
        .get(
            &format!("/api/complaints/{ticket_id}/events"),
            Some(&customer.token),
        )
        .await
        .expect(200)
        .body;
    let types: Vec<String> = items(&timeline)
        .iter()
        .filter_map(|e| e["eventType"].as_str().map(str::to_owned))
        .filter(|t| t == "ticket.created" || t == "ticket.assigned")
        .collect();
    assert_eq!(
        types,
        ["ticket.created", "ticket.assigned"],
        "cause first: {timeline}"
    );
    app.get(
        &format!("/api/complaints/{ticket_id}/events"),
        Some(&stranger.token),
    )
    .await
    .expect_error(404, "not_found");
    shutdown.cancel();
}

on_both_backends!(every_published_event_is_logged_once_with_its_cause);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_with_a_cursor_and_filters_by_ticket_and_type() {
    let app = common::spawn_app(Backend::Embedded)
        .await
        .expect("embedded app");
    let (admin, customer) = (app.admin().await, app.customer(1).await);
    let mut opened = HashSet::new();
    let mut first = None;
    for n in 0..7 {
        let t = app
            .open_ticket(&customer, &format!("Ticket {n}"), "General")
            .await;
        first.get_or_insert_with(|| t.clone());
        opened.insert(t["id"].as_str().unwrap().to_owned());
    }
    let all_logged = eventually(WAIT, || async {
        let page = app
            .get(
                "/api/events?type=ticket.created&limit=500",
                Some(&admin.token),
            )
            .await
            .expect(200)
            .body;
        (items(&page).len() >= 7).then_some(())
    })
    .await;
    assert!(all_logged.is_some(), "the relay logs all seven");

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/events?type=ticket.created&limit=3&cursor={c}"),
            None => "/api/events?type=ticket.created&limit=3".to_owned(),
        };
        let page = app.get(&path, Some(&admin.token)).await.expect(200).body;
        let batch = items(&page);
        assert!(batch.len() <= 3);
        seen.extend(
            batch
                .iter()
                .map(|e| e["ticketId"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "every event once across the pages: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), opened);

    let first = first.unwrap();
    for by in [
        first["id"].as_str().unwrap(),
        first["complaintId"].as_str().unwrap(),
    ] {
        let page = app
            .get(
                &format!("/api/events?ticket={by}&type=ticket.created,ticket.assigned"),
                Some(&admin.token),
            )
            .await
            .expect(200)
            .body;
        let events = items(&page);
        assert_eq!(events.len(), 1, "{page}");
        assert_eq!(events[0]["ticketId"], first["id"]);
    }
    let none = app
        .get("/api/events?ticket=COMP-99999", Some(&admin.token))
        .await
        .expect(200)
        .body;
    assert_eq!(items(&none).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filters_are_refused_naming_the_field() {
    let app = common::spawn_app(Backend::Embedded)
        .await
        .expect("embedded app");
    let (admin, agent) = (app.admin().await, app.agent(1).await);
    for (query, field) in [
        ("colour=red", "colour"),
        ("type=ticket.exploded", "type"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=abc", "cursor"),
        ("ticket=not-a-ticket", "ticket"),
        ("actor=a&actor=b", "actor"),
        ("correlationId=", "correlationId"),
    ] {
        let reply = app
            .get(&format!("/api/events?{query}"), Some(&admin.token))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(reply.field(), field, "{query}: {}", reply.body);
    }
    // A wide window is fine when a ticket or correlation id narrows the search.
    app.get(
        "/api/events?correlationId=x&from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z",
        Some(&admin.token),
    )
    .await
    .expect(200);
    app.get("/api/events", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
    app.get("/api/events", None)
        .await
        .expect_error(401, "unauthorized");
}
