//! A ticket's conversation: public replies between the requester and the staff, and internal
//! notes that no customer ever sees, by any path (REST, the ticket's events, its history,
//! notifications, Socket.IO). Each test runs on the embedded backends and on MongoDB + SNS/SQS.

mod common;

use std::time::Duration;

use common::socket::signed_in;
use common::system::{System, WAIT, only_agent1_online};
use common::{Session, TestApp, assert_error, eventually};
use quickfix::domain::Status;
use serde_json::{Value, json};

const NOTE: &str = "Internal: this customer is on the legacy plan, check the old router";

fn messages_path(id: &str) -> String {
    format!("/api/complaints/{id}/messages")
}

async fn reply(app: &TestApp, who: &Session, id: &str, body: &str) -> Value {
    app.post(
        &format!("/api/complaints/{id}/replies"),
        Some(&who.token),
        json!({"body": body}),
    )
    .await
    .expect(201)
    .body
}

async fn note(app: &TestApp, who: &Session, id: &str, body: &str) -> Value {
    app.post(
        &format!("/api/complaints/{id}/notes"),
        Some(&who.token),
        json!({"body": body}),
    )
    .await
    .expect(201)
    .body
}

/// The first notification of `kind` in `who`'s inbox, waited for.
async fn notified(s: &System, who: &Session, kind: &str) -> Value {
    eventually(WAIT, || async {
        s.notifications(who)
            .await
            .into_iter()
            .find(|n| n["kind"] == kind)
    })
    .await
    .unwrap_or_else(|| panic!("no `{kind}` notification"))
}

async fn replies_pass_between_the_requester_and_the_agent(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent = only_agent1_online(&s, &admin).await;
    let t = s
        .app
        .open_ticket(&customer, "Router blinking", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    s.ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;

    let answer = reply(
        &s.app,
        &agent,
        id,
        "  Have you tried turning it off and on?  ",
    )
    .await;
    assert_eq!(
        answer["body"], "Have you tried turning it off and on?",
        "trimmed"
    );
    assert_eq!(answer["visibility"], "public");
    assert_eq!(answer["authorId"], agent.id.as_str());
    assert_eq!(answer["authorRole"], "agent");
    let told = notified(&s, &customer, "ticketReplied").await;
    assert_eq!(told["data"]["id"], id);
    assert_eq!(told["data"]["message"]["id"], answer["id"]);
    assert_eq!(told["data"]["message"]["body"], answer["body"]);

    let back = reply(&s.app, &customer, id, "Yes, twice. Still blinking.").await;
    assert_eq!(back["authorRole"], "customer");
    let told = notified(&s, &agent, "ticketReplied").await;
    assert_eq!(told["data"]["message"]["id"], back["id"]);

    for who in [&customer, &agent, &admin] {
        let thread = s
            .app
            .get(&messages_path(id), Some(&who.token))
            .await
            .expect(200);
        let ids: Vec<&Value> = thread.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["id"])
            .collect();
        assert_eq!(
            ids,
            [&answer["id"], &back["id"]],
            "oldest first, the same for everyone"
        );
    }
    // A reply is a change the requester and the agent see.
    let ticket = s
        .app
        .get(&format!("/api/complaints/{id}"), Some(&customer.token))
        .await
        .expect(200);
    assert_eq!(ticket.body["updatedAt"], back["at"]);
    s.stop(vec![worker]).await;
}

async fn a_note_never_reaches_the_customer(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent = only_agent1_online(&s, &admin).await;
    let mut customer_socket = signed_in(&s.app, &customer).await;
    let t = s
        .app
        .open_ticket(&customer, "Invoice wrong", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    s.ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    let before = s
        .app
        .get(&format!("/api/complaints/{id}"), Some(&customer.token))
        .await
        .expect(200);

    let written = note(&s.app, &admin, id, NOTE).await;
    assert_eq!(written["visibility"], "internal");
    // The agent hears of a note someone else wrote; then a reply follows it.
    let told = notified(&s, &agent, "noteAdded").await;
    assert_eq!(told["data"]["message"]["body"], NOTE);
    let answer = reply(&s.app, &agent, id, "We are looking into it.").await;
    notified(&s, &customer, "ticketReplied").await;

    // Staff read the note in the thread and in the ticket's events.
    let staff_thread = s
        .app
        .get(&messages_path(id), Some(&agent.token))
        .await
        .expect(200);
    assert_eq!(staff_thread.body["items"].as_array().unwrap().len(), 2);
    let events_path = format!("/api/complaints/{id}/events");
    let staff_events = eventually(WAIT, || async {
        let events = s
            .app
            .get(&events_path, Some(&admin.token))
            .await
            .expect(200)
            .body;
        let types: Vec<String> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventType"].as_str().unwrap().to_owned())
            .collect();
        (types.contains(&"ticket.note_added".to_owned())
            && types.contains(&"ticket.replied".to_owned()))
        .then_some(types)
    })
    .await
    .expect("the note's and the reply's events are logged");
    assert!(staff_events.contains(&"ticket.note_added".to_owned()));

    // The customer, by every path: the thread, the ticket, its history, its events, the inbox
    // and the socket hold the reply and nothing of the note.
    let thread = s
        .app
        .get(&messages_path(id), Some(&customer.token))
        .await
        .expect(200);
    let items = thread.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], answer["id"]);
    let events = s
        .app
        .get(&events_path, Some(&customer.token))
        .await
        .expect(200);
    assert!(
        events.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["eventType"] == "ticket.replied")
    );
    let mut seen = vec![
        thread.body,
        events.body,
        s.app
            .get(&format!("/api/complaints/{id}"), Some(&customer.token))
            .await
            .expect(200)
            .body,
        s.app
            .get(
                &format!("/api/complaints/{id}/history"),
                Some(&customer.token),
            )
            .await
            .expect(200)
            .body,
        json!(s.notifications(&customer).await),
    ];
    let heard = customer_socket.drain(Duration::from_millis(1500)).await;
    assert!(
        heard.iter().any(|(event, _)| event == "ticketReplied"),
        "{heard:?}"
    );
    seen.extend(
        heard
            .into_iter()
            .map(|(event, payload)| json!([event, payload])),
    );
    for what in &seen {
        let text = what.to_string();
        assert!(!text.contains(NOTE), "the customer saw the note: {text}");
        assert!(
            !text.contains(written["id"].as_str().unwrap()),
            "the customer saw the note's id: {text}"
        );
        assert!(
            !text.contains("note_added") && !text.contains("noteAdded"),
            "{text}"
        );
    }
    // The note alone did not change the ticket as the customer sees it.
    assert_ne!(before.body["updatedAt"], written["at"]);
    s.stop(vec![worker]).await;
}

async fn bad_messages_are_refused_and_change_nothing(app: TestApp) {
    let customer = app.customer(1).await;
    let stranger = app.customer(2).await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let other_agent = app.agent(2).await;
    let t = app
        .open_ticket(&customer, "Password reset", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    let replies = format!("/api/complaints/{id}/replies");
    let notes = format!("/api/complaints/{id}/notes");
    // An agent who could take the ticket sees it, but only its agent replies.
    let answer = app
        .post(&replies, Some(&agent.token), json!({"body": "mine?"}))
        .await;
    assert_error(&answer, 403, "forbidden");
    app.assign(&admin, id, &agent.id).await.expect(200);

    let refused = [
        (
            &customer,
            &replies,
            json!({}),
            422,
            "validation_failed",
            "body",
        ),
        (
            &customer,
            &replies,
            json!({"body": "   "}),
            422,
            "validation_failed",
            "body",
        ),
        (
            &customer,
            &replies,
            json!({"body": "x".repeat(5001)}),
            422,
            "validation_failed",
            "body",
        ),
        (
            &customer,
            &replies,
            json!({"body": "bell \u{7}"}),
            422,
            "validation_failed",
            "body",
        ),
        (
            &customer,
            &notes,
            json!({"body": "let me in"}),
            403,
            "forbidden",
            "",
        ),
        (
            &stranger,
            &replies,
            json!({"body": "not mine"}),
            404,
            "not_found",
            "",
        ),
        // Another agent does not see a ticket someone else holds.
        (
            &other_agent,
            &replies,
            json!({"body": "not my ticket"}),
            404,
            "not_found",
            "",
        ),
    ];
    for (who, path, body, status, code, field) in refused {
        let answer = app.post(path, Some(&who.token), body.clone()).await;
        assert_error(&answer, status, code);
        if !field.is_empty() {
            assert_eq!(answer.field(), field, "{body}");
        }
    }
    let max = "y".repeat(5000);
    assert_eq!(
        reply(&app, &customer, id, &max).await["body"],
        max.as_str(),
        "5,000 characters fit"
    );

    // A closed ticket takes no more messages, from anyone.
    app.patch(
        &format!("/api/complaints/{id}/status"),
        Some(&admin.token),
        json!({"status": "Resolved"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/api/complaints/{id}/status"),
        Some(&customer.token),
        json!({"status": "Closed"}),
    )
    .await
    .expect(200);
    for (who, path) in [(&customer, &replies), (&agent, &notes), (&admin, &replies)] {
        let answer = app
            .post(path, Some(&who.token), json!({"body": "too late"}))
            .await;
        assert_error(&answer, 409, "conflict");
        assert_eq!(answer.field(), "status");
    }
    let thread = app
        .get(&messages_path(id), Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(
        thread.body["items"].as_array().unwrap().len(),
        1,
        "only the one accepted reply"
    );
}

on_both_backends_system!(
    replies_pass_between_the_requester_and_the_agent,
    a_note_never_reaches_the_customer,
);

mod api {
    use super::*;

    on_both_backends!(bad_messages_are_refused_and_change_nothing);
}
