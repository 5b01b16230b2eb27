//! The worker under delivery faults: duplicates, redeliveries, poison messages and failing
//! handlers (concurrent and killed workers: `tests/worker_concurrency.rs`). Each runs on the
//! embedded backends and on MongoDB + SNS/SQS.

mod common;

use std::time::Duration;

use common::eventually;
use quickfix::domain::{EventType, Status};
use quickfix::worker::Worker;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use common::system::{System, WAIT, assigned_entries, only_agent1_online, settings};

async fn duplicate_deliveries_change_nothing(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let t = s.app.open_ticket(&customer, "Once only", "Technical").await;
    let id = t["id"].as_str().unwrap();
    let ticket = s
        .ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    let first_inbox = eventually(WAIT, || async {
        let n = s.notifications(&agent1).await;
        (!n.is_empty()).then_some(n)
    })
    .await
    .unwrap();

    // The same ticket.created, delivered three more times.
    let created = common::envelope(
        EventType::TicketCreated,
        json!({"ticketId": id, "complaintId": t["complaintId"], "userId": customer.id, "title": "Once only",
               "category": "Technical", "priority": "Medium", "assignedTo": null,
               "description": "Something is wrong"}),
        &quickfix::domain::EventMetadata::requested("dup", customer.id.clone()),
    );
    // And the ticket.assigned that notified the agent, again.
    let assigned_event = ticket
        .history
        .iter()
        .find(|h| h.kind == quickfix::domain::HistoryKind::Assigned)
        .unwrap();
    assert_eq!(assigned_event.actor, "system");
    s.stop_workers(vec![worker]).await;
    let attrs = vec![("eventType".to_owned(), "ticket.created".to_owned())];
    for _ in 0..3 {
        s.queue.send(&created.to_json(), &attrs).await.unwrap();
    }
    s.drain_queue().await;
    let after = s.ticket(id).await;
    assert_eq!(after.revision, ticket.revision, "the ticket did not change");
    assert_eq!(assigned_entries(&after), 1);
    let view = s.agent_view(&admin, &agent1.id).await;
    assert_eq!(view["activeTickets"], 1);
    assert_eq!(
        s.notifications(&agent1).await.len(),
        first_inbox.len(),
        "no second notification"
    );
}

async fn a_redelivered_resolution_releases_the_slot_once(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    // An agent with two slots, alone online.
    let body = json!({"name": "Two Slots", "email": "two@quickfix.dev", "password": "agent-password",
                      "skills": ["General"], "capacity": 2, "presence": "online"});
    let two = s
        .app
        .post("/api/agents", Some(&admin.token), body)
        .await
        .expect(201)
        .body;
    let two_id = two["id"].as_str().unwrap().to_owned();
    for n in [1, 2, 3] {
        let a = s.app.agent(n).await;
        s.set_presence(&admin, &a.id, "offline").await;
    }
    let a = s.app.open_ticket(&customer, "Alpha", "General").await;
    let b = s.app.open_ticket(&customer, "Beta", "General").await;
    for t in [&a, &b] {
        s.ticket_where(t["id"].as_str().unwrap(), "Assigned", |t| {
            t.status == Status::Assigned
        })
        .await;
    }
    assert_eq!(s.agent_view(&admin, &two_id).await["freeSlots"], 0);
    let token = s
        .app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "two@quickfix.dev", "password": "agent-password"}),
        )
        .await
        .expect(200)
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_id = a["id"].as_str().unwrap();
    s.app
        .patch(
            &format!("/api/complaints/{a_id}/status"),
            Some(&token),
            json!({"status": "Resolved"}),
        )
        .await
        .expect(200);
    eventually(WAIT, || async {
        (s.agent_view(&admin, &two_id).await["freeSlots"] == 1).then_some(())
    })
    .await
    .expect("the slot came back");
    // The same ticket.resolved, redelivered twice: still one free slot, not two.
    let resolved = common::envelope(
        EventType::TicketResolved,
        json!({"ticketId": a_id, "complaintId": "COMP-00001", "agentId": two_id, "resolvedBy": two_id,
               "resolvedAt": chrono::Utc::now(), "userId": two_id, "title": "Resolved",
               "priority": "Medium"}),
        &quickfix::domain::EventMetadata::requested("dup", two_id.clone()),
    );
    s.stop_workers(vec![worker]).await;
    let attrs = vec![("eventType".to_owned(), "ticket.resolved".to_owned())];
    s.queue.send(&resolved.to_json(), &attrs).await.unwrap();
    s.queue.send(&resolved.to_json(), &attrs).await.unwrap();
    s.drain_queue().await;
    let view = s.agent_view(&admin, &two_id).await;
    assert_eq!(view["freeSlots"], 1);
    assert_eq!(view["activeTickets"], 1);
}

async fn poison_messages_are_dead_lettered_and_the_worker_keeps_going(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let attrs = |t: &str| vec![("eventType".to_owned(), t.to_owned())];
    s.queue
        .send("this is not JSON", &attrs("ticket.created"))
        .await
        .unwrap();
    s.queue
        .send(
            r#"{"eventType":"ticket.exploded","version":1}"#,
            &attrs("ticket.exploded"),
        )
        .await
        .unwrap();
    // A `ticket.created` of `version` with an empty payload.
    let empty_created = |version: u32| {
        json!({"eventId": uuid::Uuid::new_v4(), "eventType": "ticket.created", "version": version,
               "timestamp": chrono::Utc::now(), "data": {}, "metadata": {"correlationId": "c", "causationId": null, "actor": "x"}})
    };
    let future = empty_created(3);
    let missing = empty_created(1);
    for poison in [&future, &missing] {
        s.queue
            .send(&poison.to_string(), &attrs("ticket.created"))
            .await
            .unwrap();
    }

    // The worker keeps going.
    let t = s
        .app
        .open_ticket(&customer, "After the poison", "Technical")
        .await;
    s.ticket_where(t["id"].as_str().unwrap(), "Assigned", |t| {
        t.status == Status::Assigned
    })
    .await;

    let letters = eventually(WAIT, || async {
        let l = quickfix::worker::dead_letters::list(s.dead_letters.as_ref(), 10)
            .await
            .unwrap();
        (l.len() >= 4).then_some(l)
    })
    .await
    .expect("four dead letters");
    let mut reasons: Vec<String> = letters
        .iter()
        .map(|l| l.reason.clone().unwrap_or_default())
        .collect();
    reasons.sort();
    assert!(
        reasons.iter().any(|r| r.contains("not JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("unknown eventType `ticket.exploded`")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("unsupported ticket.created version 3")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("invalid ticket.created payload")
                && r.contains("missing field `ticketId`")),
        "{reasons:?}"
    );
    assert!(letters.iter().all(|l| l.receive_count >= 1));

    // Redrive brings them back to the worker queue (where the worker dead-letters them again).
    s.shutdown.cancel();
    tokio::time::timeout(WAIT, worker).await.unwrap().unwrap();
    let moved = quickfix::worker::dead_letters::redrive(s.dead_letters.as_ref(), s.queue.as_ref())
        .await
        .unwrap();
    assert_eq!(moved, 4);
    // The queue also carries what the relay still publishes after the worker stopped (the
    // last ticket's events): read until every redriven message is back.
    let poison = [
        "this is not JSON".to_owned(),
        r#"{"eventType":"ticket.exploded","version":1}"#.to_owned(),
        future.to_string(),
        missing.to_string(),
    ];
    let mut back = Vec::new();
    let until = tokio::time::Instant::now() + WAIT;
    while !poison.iter().all(|p| back.contains(p)) && tokio::time::Instant::now() < until {
        back.extend(common::collect_bodies(s.queue.as_ref(), 1, Duration::from_secs(5)).await);
    }
    assert!(poison.iter().all(|p| back.contains(p)), "{back:?}");
    assert!(
        quickfix::worker::dead_letters::list(s.dead_letters.as_ref(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_failing_handler_backs_off_then_lands_in_the_dead_letter_queue(s: System) {
    let customer = s.app.customer(1).await;
    s.settle().await;
    let failing = common::faulty_store::FaultyStore::failing(s.app.store.clone());
    let mut ctx = s.context();
    ctx.store = failing;
    let worker = Worker::new(
        s.queue.clone(),
        Some(s.dead_letters.clone()),
        ctx,
        settings(),
    );
    let t = s
        .app
        .open_ticket(&customer, "Never assignable", "Technical")
        .await;
    let token = CancellationToken::new();

    // maxReceiveCount is 3: three failed attempts, each retried later than the one before.
    let mut attempts = Vec::new();
    let until = tokio::time::Instant::now() + WAIT;
    while attempts.len() < 3 {
        assert!(
            tokio::time::Instant::now() < until,
            "the message did not come back"
        );
        let report = worker.step(&token).await.unwrap();
        if report.received > 0 {
            assert_eq!(report.retried, 1);
            attempts.push(tokio::time::Instant::now());
        }
    }
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(900),
        "first retry after ~1 s, was {:?}",
        gaps[0]
    );
    assert!(
        gaps[1] >= Duration::from_millis(1900),
        "second retry after ~2 s, was {:?}",
        gaps[1]
    );
    // The next receive moves it to the dead-letter queue instead of delivering it.
    let dead = common::eventually(WAIT, || async {
        let _ = worker.step(&token).await.unwrap();
        let l = quickfix::worker::dead_letters::list(s.dead_letters.as_ref(), 10)
            .await
            .unwrap();
        (!l.is_empty()).then_some(l)
    })
    .await
    .expect("dead-lettered after maxReceiveCount");
    assert_eq!(dead[0].ticket_id.as_deref(), t["id"].as_str());
    assert_eq!(
        dead[0].reason, None,
        "moved by the queue's redrive policy, not as poison"
    );
    assert_eq!(
        s.ticket(t["id"].as_str().unwrap()).await.status,
        Status::Open
    );
    // The failed attempts gave their claimed slots back.
    for agent in s
        .app
        .store
        .list_users(quickfix::domain::Role::Agent)
        .await
        .unwrap()
    {
        assert!(agent.agent.unwrap().holds.is_empty());
    }
}

on_both_backends_system!(
    duplicate_deliveries_change_nothing,
    a_redelivered_resolution_releases_the_slot_once,
    poison_messages_are_dead_lettered_and_the_worker_keeps_going,
    a_failing_handler_backs_off_then_lands_in_the_dead_letter_queue,
);
