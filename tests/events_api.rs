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
    // The demo agents' own events (they go online at seed) could assign the ticket first,
    // under their correlation: let them go by before the worker starts.
    eventually(WAIT, || async {
        app.store
            .pending_events(1)
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await
    .expect("the seed's events are published");
    while !app
        .events
        .receive(10, Duration::from_millis(500))
        .await
        .unwrap()
        .is_empty()
    {}
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
    .await;
    let Some(logged) = logged else {
        let page = app
            .get(
                &format!("/api/events?ticket={ticket_id}"),
                Some(&admin.token),
            )
            .await
            .body;
        panic!(
            "ticket.created and ticket.assigned are not both logged under the request's correlation id; the ticket's events: {page:#}"
        );
    };

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

/// The fields of a ticket that its events carry, from a `TicketView` or a `TicketAsOfView`.
fn event_fields(t: &Value) -> Value {
    let level = if t["sla"].is_object() {
        t["sla"]["escalationLevel"].clone()
    } else {
        t["escalationLevel"].clone()
    };
    json!({
        "id": t["id"], "complaintId": t["complaintId"], "title": t["title"],
        "description": t["description"],
        "category": t["category"], "priority": t["priority"], "status": t["status"],
        "userId": t["userId"], "assignedTo": t["assignedTo"], "createdAt": t["createdAt"],
        "updatedAt": t["updatedAt"], "assignedAt": t["assignedAt"], "resolvedAt": t["resolvedAt"],
        "escalationLevel": level,
    })
}

/// Waits until the ticket rebuilt from its events as of its last change equals the stored
/// one; returns that time and the stored ticket's event fields. (As of its last change, not
/// "now": an event written a moment ago may not be logged yet, and would change the past.)
async fn checkpoint(app: &TestApp, token: &str, id: &str) -> (String, Value) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stored = app
            .get(&format!("/api/complaints/{id}"), Some(token))
            .await
            .expect(200)
            .body;
        let at = stored["updatedAt"].as_str().unwrap().to_owned();
        let rebuilt = app
            .get(&format!("/api/complaints/{id}?at={at}"), Some(token))
            .await;
        let (stored, rebuilt) = (event_fields(&stored), event_fields(&rebuilt.body));
        if stored == rebuilt {
            return (at, stored);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never rebuilt the stored ticket: {stored:#} from its events: {rebuilt:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A long life: opened, assigned by the worker, started, resolved, reopened and reassigned,
/// assigned by hand, resolved and closed. After each step the ticket rebuilt from its events
/// equals the stored one, and at the end each earlier time still rebuilds what was stored then.
async fn a_ticket_rebuilt_at_any_time_equals_what_was_stored_then(app: TestApp) {
    let shutdown = CancellationToken::new();
    app.spawn_worker(&shutdown);
    let (admin, customer) = (app.admin().await, app.customer(1).await);
    let agents = [app.agent(1).await, app.agent(2).await, app.agent(3).await];
    let ticket = app
        .open_ticket(&customer, "Printer jammed", "Technical")
        .await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let mut steps = vec![checkpoint(&app, &admin.token, &id).await];
    let holder = |fields: &Value| {
        let held = fields["assignedTo"].as_str().expect("assigned").to_owned();
        agents
            .iter()
            .find(|a| a.id == held)
            .expect("a demo agent")
            .clone()
    };
    let set_status = |token: String, status: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            app.patch(
                &format!("/api/complaints/{id}/status"),
                Some(&token),
                json!({"status": status, "message": format!("now {status}")}),
            )
            .await
            .expect(200);
        }
    };
    // Wait for the worker's assignment.
    let assigned = eventually(WAIT, || async {
        let (at, fields) = checkpoint(&app, &admin.token, &id).await;
        fields["assignedTo"].is_string().then_some((at, fields))
    })
    .await
    .expect("the worker assigns the ticket");
    let agent = holder(&assigned.1);
    steps.push(assigned);
    set_status(agent.token.clone(), "InProgress").await;
    steps.push(checkpoint(&app, &admin.token, &id).await);
    set_status(agent.token.clone(), "Resolved").await;
    steps.push(checkpoint(&app, &admin.token, &id).await);
    // The customer reopens once the worker has given the agent's slot back (a reopen before
    // that leaves the slot to the worker's sweep, which this test does not run).
    let agent_id = quickfix::domain::UserId::parse("agent", &agent.id).unwrap();
    eventually(WAIT, || async {
        let user = app.store.find_user(agent_id).await.unwrap()?;
        user.agent?.holds.is_empty().then_some(())
    })
    .await
    .expect("the resolve frees the agent's slot");
    set_status(customer.token.clone(), "Open").await;
    let reassigned = eventually(WAIT, || async {
        let (at, fields) = checkpoint(&app, &admin.token, &id).await;
        fields["assignedTo"].is_string().then_some((at, fields))
    })
    .await
    .expect("the worker assigns the reopened ticket");
    let now_holder = holder(&reassigned.1);
    steps.push(reassigned);
    let other = agents
        .iter()
        .find(|a| a.id != now_holder.id && a.id != agents[1].id)
        .expect("another Technical agent");
    // Its slot comes back once the worker has handled the earlier resolve.
    eventually(WAIT, || async {
        let reply = app.assign(&admin, &id, &other.id).await;
        (reply.status == 200).then_some(())
    })
    .await
    .expect("the other agent takes the ticket");
    steps.push(checkpoint(&app, &admin.token, &id).await);
    set_status(other.token.clone(), "Resolved").await;
    steps.push(checkpoint(&app, &admin.token, &id).await);
    set_status(customer.token.clone(), "Closed").await;
    steps.push(checkpoint(&app, &admin.token, &id).await);
    shutdown.cancel();

    for (at, stored) in &steps {
        let then = app
            .get(
                &format!("/api/complaints/{id}?at={at}"),
                Some(&customer.token),
            )
            .await
            .expect(200)
            .body;
        assert_eq!(&event_fields(&then), stored, "at {at}");
    }
    let statuses: Vec<&str> = steps
        .iter()
        .filter_map(|(_, s)| s["status"].as_str())
        .collect();
    // The worker may have assigned it before the first checkpoint.
    assert!(matches!(statuses[0], "Open" | "Assigned"), "{statuses:?}");
    assert_eq!(
        statuses[1..],
        [
            "Assigned",
            "InProgress",
            "Resolved",
            "Assigned",
            "Assigned",
            "Resolved",
            "Closed"
        ]
    );
    // Before it was opened there was no ticket; a malformed time names the field.
    app.get(
        &format!("/api/complaints/{id}?at=2000-01-01T00:00:00Z"),
        Some(&admin.token),
    )
    .await
    .expect_error(404, "not_found");
    let reply = app
        .get(&format!("/api/complaints/{id}?at=noon"), Some(&admin.token))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(reply.field(), "at");
}

on_both_backends!(
    every_published_event_is_logged_once_with_its_cause,
    a_ticket_rebuilt_at_any_time_equals_what_was_stored_then,
);
