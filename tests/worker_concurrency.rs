//! Workers side by side: four workers share the load without assigning a ticket twice, and a
//! worker killed mid-handler leaves its message to another. Each runs on the embedded backends
//! and on MongoDB + SNS/SQS.

mod common;

use std::time::Duration;

use common::Session;
use quickfix::domain::Status;
use serde_json::json;

use common::system::{System, WAIT, assigned_entries};

async fn four_workers_share_the_load_without_double_assignment(s: System) {
    let workers: Vec<_> = (0..4).map(|_| s.spawn_worker()).collect();
    let admin = s.app.admin().await;
    let customer = s.app.customer(1).await;
    for n in [1, 2, 3] {
        let a = s.app.agent(n).await;
        s.set_presence(&admin, &a.id, "offline").await;
    }
    let mut agents = Vec::new();
    for i in 0..10 {
        let email = format!("pool{i}@quickfix.dev");
        let body = json!({"name": format!("Pool {i}"), "email": email, "password": "agent-password",
                          "skills": ["General"], "capacity": 2, "presence": "online"});
        let id = s
            .app
            .post("/api/agents", Some(&admin.token), body)
            .await
            .expect(201)
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = s
            .app
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": "agent-password"}),
            )
            .await
            .expect(200)
            .body["token"]
            .as_str()
            .unwrap()
            .to_owned();
        agents.push(Session { token, id });
    }
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            s.app
                .open_ticket(&customer, &format!("Load ticket {i}"), "General")
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    // Agents resolve whatever they hold until every ticket is resolved; the invariants hold at
    // every look.
    let until = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        for agent in s
            .app
            .store
            .list_users(quickfix::domain::Role::Agent)
            .await
            .unwrap()
        {
            let p = agent.agent.unwrap();
            assert!(
                p.holds.len() <= p.capacity as usize,
                "agent over capacity: {p:?}"
            );
            assert_eq!(p.free_slots as usize + p.holds.len(), p.capacity as usize);
        }
        let mut resolved_now = 0;
        for agent in &agents {
            let mine = s
                .app
                .get(
                    "/api/complaints?status=Assigned&limit=100",
                    Some(&agent.token),
                )
                .await
                .expect(200)
                .body;
            let mine = mine["items"].as_array().unwrap();
            assert!(mine.len() <= 2, "an agent holds {} tickets", mine.len());
            for t in mine {
                let path = format!("/api/complaints/{}/status", t["id"].as_str().unwrap());
                s.app
                    .patch(&path, Some(&agent.token), json!({"status": "Resolved"}))
                    .await
                    .expect(200);
                resolved_now += 1;
            }
        }
        let done = s
            .app
            .get(
                "/api/complaints?status=Resolved&limit=100",
                Some(&admin.token),
            )
            .await
            .expect(200)
            .body;
        if done["items"].as_array().unwrap().len() == 100 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "not every ticket was assigned and resolved"
        );
        if resolved_now == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for id in &ids {
        let t = s.ticket(id).await;
        assert_eq!(
            assigned_entries(&t),
            1,
            "ticket {id} was assigned {} times",
            assigned_entries(&t)
        );
        assert_eq!(t.status, Status::Resolved);
    }
    s.stop(workers).await;
}

async fn a_worker_killed_mid_handler_leaves_the_message_to_another(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent2 = s.app.agent(2).await;
    s.set_presence(&admin, &agent2.id, "offline").await;
    // Handle the start-up events first, so the ticket's is the only message worker A sees.
    s.settle().await;

    // Worker A freezes after claiming an agent, before writing the ticket; then it is killed.
    let hanging = common::faulty_store::FaultyStore::hanging(s.app.store.clone());
    let mut ctx = s.context();
    ctx.store = hanging.clone();
    let doomed = s.spawn_worker_with(ctx);
    let t = s
        .app
        .open_ticket(&customer, "Crash test", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    tokio::time::timeout(WAIT, hanging.hung.notified())
        .await
        .expect("worker A reached the write");
    // While its handler runs, the heartbeat keeps the message hidden well past the 2 s
    // visibility timeout.
    let stolen = s.queue.receive(10, Duration::from_secs(5)).await.unwrap();
    assert!(
        stolen.is_empty(),
        "a running handler's message was redelivered"
    );
    doomed.abort();
    let _ = doomed.await;
    let claimed_by_dead: Vec<_> = s
        .app
        .store
        .list_users(quickfix::domain::Role::Agent)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            a.agent
                .as_ref()
                .unwrap()
                .holds
                .iter()
                .any(|h| h.ticket.to_string() == id)
        })
        .map(|a| a.id)
        .collect();
    assert_eq!(claimed_by_dead.len(), 1, "worker A had claimed one agent");
    assert_eq!(s.ticket(id).await.status, Status::Open);

    // The message comes back after its visibility timeout; worker B applies it once.
    let survivor = s.spawn_worker();
    let ticket = s
        .ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(assigned_entries(&ticket), 1);
    let holder = ticket.assignee.unwrap();
    assert_ne!(
        holder, claimed_by_dead[0],
        "the dead worker's claim is not reused"
    );

    // The sweep gives back the slot the dead worker claimed.
    let report = quickfix::worker::sweep(&s.context(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.released, 1);
    for agent in s
        .app
        .store
        .list_users(quickfix::domain::Role::Agent)
        .await
        .unwrap()
    {
        let holds: Vec<String> = agent
            .agent
            .unwrap()
            .holds
            .iter()
            .map(|h| h.ticket.to_string())
            .collect();
        if agent.id == holder {
            assert_eq!(holds, vec![id.to_owned()]);
        } else {
            assert!(holds.is_empty(), "{} still holds {holds:?}", agent.id);
        }
    }
    s.stop(vec![survivor]).await;
}

on_both_backends_system!(
    four_workers_share_the_load_without_double_assignment,
    a_worker_killed_mid_handler_leaves_the_message_to_another,
);
