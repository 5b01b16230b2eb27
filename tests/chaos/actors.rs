//! The people of the chaos run at work: customer clients opening tickets with
//! `Idempotency-Key`s and failing over between the APIs, agents working what they hold, and a
//! sampler that checks every agent's slots against their capacity while it runs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::client::Request;
use crate::run::{Person, Run, Sent};
use crate::{CATEGORIES, CLIENTS, CREATES_PER_SECOND, TICKETS};

/// A customer client: opens tickets at the shared pace, each with a fresh `Idempotency-Key`,
/// alternating the API it prefers; a create that fails is sent again, unchanged, with the same
/// key, to the other API.
pub async fn open_tickets(run: Arc<Run>, customers: Arc<Vec<Person>>) {
    let interval = Duration::from_secs_f64(CLIENTS as f64 / CREATES_PER_SECOND);
    loop {
        let n = run.next.fetch_add(1, Ordering::SeqCst);
        if n >= TICKETS {
            return;
        }
        let started = Instant::now();
        let customer = &customers[n % customers.len()];
        let key = Uuid::new_v4().to_string();
        // A few titles trip the prioritisation rules ("urgent" → High, "outage" → Critical).
        let subject = match n % 20 {
            0 => "urgent: cannot pay my invoice",
            7 => "outage in the mobile app",
            _ => "something does not work",
        };
        let title = format!("Chaos #{n:03} {subject} [{}]", &key[..8]);
        let priority = ["Low", "Medium", "High"][n % 3];
        let body = json!({
            "title": title,
            "description": format!("Ticket {n} opened by {} during the chaos run.", customer.name),
            "category": CATEGORIES[n % CATEGORIES.len()],
            "priority": priority,
        });
        let mut request = Request::with_body(
            Method::POST,
            "/api/complaints",
            Some(&customer.token),
            &body,
        );
        request.idempotency_key = Some(&key);
        let until = Instant::now() + Duration::from_secs(120);
        let mut attempts = 0;
        let answer = loop {
            let answer = run.apis.send(n, &request).await;
            attempts += answer.attempts;
            // 409: the key's first request is still being answered somewhere; ask again.
            if answer.status == 409 && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            break answer;
        };
        assert!(
            matches!(answer.status, 200 | 201),
            "opening ticket {n} answered {}: {}",
            answer.status,
            answer.body
        );
        run.sent.lock().unwrap().push(Sent {
            key: key.clone(),
            title,
            ticket_id: answer.body["id"].as_str().unwrap().to_owned(),
            replayed: answer.replayed,
            api: answer.api,
            attempts,
        });
        run.created.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(interval.saturating_sub(started.elapsed())).await;
    }
}

/// An agent at work: lists what they hold, resolves what is in progress, starts and resolves
/// what is assigned (unless about to go offline), and checks they never hold more tickets
/// than their capacity.
pub async fn work_as_agent(run: Arc<Run>, index: usize, me: Person, capacity: u32) {
    let list = |status: &'static str| {
        let run = run.clone();
        let token = me.token.clone();
        async move {
            run.apis
                .send(
                    index,
                    &Request::get(format!("/api/complaints?status={status}&limit=100"), &token),
                )
                .await
                .expect(200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    while !run.finished.load(Ordering::SeqCst) {
        // In progress first, then assigned: only this agent moves a ticket from Assigned to
        // InProgress, so no ticket is counted twice.
        let in_progress = list("InProgress").await;
        let assigned = list("Assigned").await;
        if in_progress.len() + assigned.len() > capacity as usize {
            run.violation(format!(
                "agent {} (capacity {capacity}) holds {} tickets: in progress {in_progress:?}, assigned {assigned:?}",
                me.name,
                in_progress.len() + assigned.len()
            ));
        }
        for id in &in_progress {
            set_status(&run, index, &me, id, "Resolved").await;
        }
        if !run.paused[index].load(Ordering::SeqCst) {
            for id in &assigned {
                if run.paused[index].load(Ordering::SeqCst) {
                    break;
                }
                if set_status(&run, index, &me, id, "InProgress").await {
                    // A moment of work.
                    let ms = 50 + u64::from(Uuid::new_v4().as_bytes()[0]);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    set_status(&run, index, &me, id, "Resolved").await;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Moves a ticket the agent holds to `status`; `false` when the ticket moved on first
/// (requeued to someone else, or changed concurrently), which the next look sorts out.
async fn set_status(run: &Run, index: usize, me: &Person, id: &str, status: &str) -> bool {
    let answer = run
        .apis
        .send(
            index,
            &Request::with_body(
                Method::PATCH,
                format!("/api/complaints/{id}/status"),
                Some(&me.token),
                &json!({"status": status}),
            ),
        )
        .await;
    match answer.status {
        200 => {
            if status == "Resolved" {
                run.resolved_by_agents.fetch_add(1, Ordering::SeqCst);
            }
            true
        }
        403 | 404 | 409 => {
            run.agent_refusals.fetch_add(1, Ordering::SeqCst);
            false
        }
        other => {
            run.violation(format!(
                "agent {} moving {id} to {status} answered {other}: {}",
                me.name, answer.body
            ));
            false
        }
    }
}

/// Samples every agent's slots every 250 ms: never more tickets than capacity, never more
/// free slots than capacity (a slot given back twice).
pub async fn sample_agents(run: Arc<Run>, admin: Person) {
    let mut turn = 0;
    while !run.finished.load(Ordering::SeqCst) {
        turn += 1;
        let answer = run
            .apis
            .send(turn, &Request::get("/api/agents", &admin.token))
            .await;
        if answer.status == 200 {
            for agent in answer.body.as_array().unwrap() {
                let a = &agent["agent"];
                let (capacity, free, active) = (
                    a["capacity"].as_i64().unwrap(),
                    a["freeSlots"].as_i64().unwrap(),
                    a["activeTickets"].as_i64().unwrap(),
                );
                if active > capacity || free < 0 || free > capacity {
                    run.violation(format!(
                        "agent {} has capacity {capacity}, {free} free slots, {active} active tickets: {a}",
                        agent["name"]
                    ));
                }
            }
            run.agent_samples.fetch_add(1, Ordering::SeqCst);
        } else {
            run.violation(format!(
                "GET /api/agents answered {}: {}",
                answer.status, answer.body
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
