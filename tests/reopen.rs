//! Reopening by reply: the requester's reply to a resolved ticket, within the SLA file's
//! `reopen_within`, reopens it; the worker gives it back to the agent who had it when they are
//! online with a free slot, otherwise to the backlog by priority, never to an offline agent.
//! Each test runs on the embedded backends and on MongoDB + SNS/SQS.

mod common;

use common::eventually;
use common::system::{System, WAIT, only_agent1_online};
use quickfix::domain::{HistoryKind, Status};
use serde_json::json;

async fn resolve(s: &System, agent: &common::Session, id: &str) {
    s.app
        .patch(
            &format!("/api/complaints/{id}/status"),
            Some(&agent.token),
            json!({"status": "Resolved"}),
        )
        .await
        .expect(200);
}

async fn reply(s: &System, who: &common::Session, id: &str, body: &str) {
    s.app
        .post(
            &format!("/api/complaints/{id}/replies"),
            Some(&who.token),
            json!({"body": body}),
        )
        .await
        .expect(201);
}

async fn a_reply_reopens_a_resolved_ticket_to_its_agent(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    // A second agent with the skill is online too: the ticket still goes back to agent 1.
    let agent3 = s.app.agent(3).await;
    s.set_presence(&admin, &agent3.id, "online").await;
    let t = s
        .app
        .open_ticket(&customer, "Wi-Fi drops", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    let first = s
        .ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    let holder = first.assignee.unwrap().to_string();
    let holder = if holder == agent1.id {
        &agent1
    } else {
        &agent3
    };
    resolve(&s, holder, id).await;
    // The agent's slot comes back when the worker handles ticket.resolved.
    eventually(WAIT, || async {
        (s.agent_view(&admin, &holder.id).await["availability"] == "available").then_some(())
    })
    .await
    .expect("the agent is free again");

    reply(&s, &customer, id, "It dropped again this morning").await;
    let back = s
        .ticket_where(id, "assigned again", |t| {
            t.status == Status::Assigned
                && t.history.iter().any(|h| h.to.as_deref() == Some("Open"))
        })
        .await;
    assert_eq!(
        back.assignee.unwrap().to_string(),
        holder.id,
        "back to the agent who had it"
    );
    let reopened = back
        .history
        .iter()
        .find(|h| h.kind == HistoryKind::StatusChanged && h.to.as_deref() == Some("Open"))
        .unwrap();
    assert_eq!(reopened.actor, customer.id);
    assert_eq!(reopened.from.as_deref(), Some("Resolved"));
    s.stop(vec![worker]).await;
}

async fn a_reopened_ticket_never_goes_to_an_offline_agent(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    s.settle().await;
    let t = s.app.open_ticket(&customer, "Disk full", "Technical").await;
    let id = t["id"].as_str().unwrap();
    s.settle().await;
    assert_eq!(s.ticket(id).await.assignee.unwrap().to_string(), agent1.id);
    resolve(&s, &agent1, id).await;
    s.settle().await;
    s.set_presence(&admin, &agent1.id, "offline").await;
    s.settle().await;

    reply(&s, &customer, id, "Full again").await;
    s.settle().await;
    let waiting = s.ticket(id).await;
    assert_eq!(waiting.status, Status::Open, "in the backlog");
    assert!(waiting.assignee.is_none(), "not given to the offline agent");

    // Back online, agent 1 takes it from the backlog.
    s.set_presence(&admin, &agent1.id, "online").await;
    s.settle().await;
    let taken = s.ticket(id).await;
    assert_eq!(taken.status, Status::Assigned);
    assert_eq!(taken.assignee.unwrap().to_string(), agent1.id);
}

on_both_backends_system!(
    a_reply_reopens_a_resolved_ticket_to_its_agent,
    a_reopened_ticket_never_goes_to_an_offline_agent,
);
