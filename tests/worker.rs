//! The worker end to end: the original QuickFix "Expected Behavior" flows (assignment,
//! resolution, presence, the sweep, reopening, escalation). Each runs on the embedded backends
//! and on MongoDB + SNS/SQS.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::eventually;
use quickfix::domain::{HistoryKind, Priority, Status};
use serde_json::json;

use common::system::{System, WAIT, assigned_entries, insert_ticket, only_agent1_online};

async fn creating_a_ticket_assigns_a_free_agent_and_notifies(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;

    // 1. the ticket is saved; 2. ticket.created is published (the outbox relay)
    let t = s
        .app
        .open_ticket(&customer, "Internet issue", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    // 3./4. the worker receives it and assigns the free agent
    let ticket = s
        .ticket_where(id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(ticket.assignee.unwrap().to_string(), agent1.id);
    assert_eq!(assigned_entries(&ticket), 1);
    assert_eq!(ticket.history.last().unwrap().actor, "system");
    // 5. the agent is busy
    let view = s.agent_view(&admin, &agent1.id).await;
    assert_eq!(view["availability"], "busy");
    assert_eq!(view["activeTickets"], 1);
    // 6. the agent is notified (and so is the customer)
    let agent_inbox = eventually(WAIT, || async {
        let n = s.notifications(&agent1).await;
        (!n.is_empty()).then_some(n)
    })
    .await
    .expect("the agent was notified");
    assert_eq!(agent_inbox[0]["kind"], "ticketAssigned");
    assert_eq!(agent_inbox[0]["data"]["id"], id);
    assert_eq!(agent_inbox[0]["data"]["status"], "Assigned");
    let customer_inbox = eventually(WAIT, || async {
        let n = s.notifications(&customer).await;
        (!n.is_empty()).then_some(n)
    })
    .await
    .expect("the customer was notified");
    assert_eq!(customer_inbox[0]["kind"], "complaintUpdated");
    s.stop(vec![worker]).await;
}

async fn resolving_frees_the_agent_who_takes_the_next_ticket(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let first = s
        .app
        .open_ticket(&customer, "First problem", "Technical")
        .await;
    let first_id = first["id"].as_str().unwrap();
    s.ticket_where(first_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    // The agent is busy: the next tickets wait in the backlog, the urgent one first.
    let low = s
        .app
        .open_ticket(&customer, "Second problem", "Account")
        .await;
    let urgent = s
        .app
        .open_ticket(&customer, "Urgent problem", "Technical")
        .await;
    let urgent_id = urgent["id"].as_str().unwrap();
    s.ticket_where(urgent_id, "High", |t| {
        t.priority == quickfix::domain::Priority::High
    })
    .await;
    assert_eq!(
        s.ticket(low["id"].as_str().unwrap()).await.status,
        Status::Open
    );

    // 1. resolved in the store; 2. the agent's slot is given back; 3. ticket.resolved published
    s.app
        .patch(
            &format!("/api/complaints/{first_id}/status"),
            Some(&agent1.token),
            json!({"status": "Resolved", "message": "Issue fixed!"}),
        )
        .await
        .expect(200);
    // 4.-7. the worker gives the agent the next ticket: the highest priority, then the oldest
    let next = s
        .ticket_where(urgent_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(next.assignee.unwrap().to_string(), agent1.id);
    assert_eq!(
        s.ticket(low["id"].as_str().unwrap()).await.status,
        Status::Open
    );
    assert_eq!(
        s.agent_view(&admin, &agent1.id).await["availability"],
        "busy"
    );
    // 8. the agent is notified of the new ticket; 9. the customer sees the resolution
    eventually(WAIT, || async {
        let n = s.notifications(&agent1).await;
        n.iter()
            .any(|n| n["kind"] == "ticketAssigned" && n["data"]["id"] == urgent_id)
            .then_some(())
    })
    .await
    .expect("the agent was notified of the next ticket");
    eventually(WAIT, || async {
        let n = s.notifications(&customer).await;
        n.iter()
            .any(|n| n["message"].as_str().unwrap().contains("is now Resolved"))
            .then_some(())
    })
    .await
    .expect("the customer was told the ticket is resolved");
    s.stop(vec![worker]).await;
}

async fn an_agent_going_offline_has_untouched_tickets_rerouted(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let t = s
        .app
        .open_ticket(&customer, "Reroute me", "Technical")
        .await;
    let id = t["id"].as_str().unwrap();
    s.ticket_where(id, "Assigned to agent 1", |t| {
        t.assignee.is_some_and(|a| a.to_string() == agent1.id)
    })
    .await;
    let agent3 = s.app.agent(3).await;
    s.set_presence(&admin, &agent3.id, "online").await;
    s.set_presence(&admin, &agent1.id, "offline").await;

    let moved = s
        .ticket_where(id, "Assigned to agent 3", |t| {
            t.assignee.is_some_and(|a| a.to_string() == agent3.id)
        })
        .await;
    assert!(
        moved
            .history
            .iter()
            .any(|h| h.kind == quickfix::domain::HistoryKind::Requeued)
    );
    assert_eq!(s.agent_view(&admin, &agent1.id).await["activeTickets"], 0);
    assert_eq!(
        s.agent_view(&admin, &agent3.id).await["availability"],
        "busy"
    );
    s.stop(vec![worker]).await;
}

async fn an_agent_coming_online_takes_the_backlog(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    for n in [1, 2, 3] {
        let a = s.app.agent(n).await;
        s.set_presence(&admin, &a.id, "offline").await;
    }
    let normal = s.app.open_ticket(&customer, "Normal", "Billing").await;
    let outage = s
        .app
        .open_ticket(&customer, "Payments outage", "Billing")
        .await;
    let outage_id = outage["id"].as_str().unwrap();
    s.ticket_where(outage_id, "Critical", |t| {
        t.priority == quickfix::domain::Priority::Critical
    })
    .await;
    assert_eq!(s.ticket(outage_id).await.status, Status::Open);

    let agent2 = s.app.agent(2).await;
    s.set_presence(&admin, &agent2.id, "online").await;
    let taken = s
        .ticket_where(outage_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(taken.assignee.unwrap().to_string(), agent2.id);
    assert_eq!(
        s.ticket(normal["id"].as_str().unwrap()).await.status,
        Status::Open,
        "capacity 1: one ticket"
    );
    s.stop(vec![worker]).await;
}

async fn the_sweep_assigns_a_ticket_whose_event_was_lost(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    // Written without its event, as if the message had been lost.
    let ticket = insert_ticket(&s, &customer, "Account", Priority::Low, Utc::now(), false).await;

    let report = quickfix::worker::sweep(&s.context(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.assigned, 1);
    assert_eq!(report.released, 0);
    let t = s.ticket(&ticket.id.to_string()).await;
    assert_eq!(t.status, Status::Assigned);
    assert_eq!(t.assignee.unwrap().to_string(), agent1.id);
}

async fn a_ticket_drained_before_its_created_event_gets_the_priority_rules(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    // No worker consumes: the sweep takes the ticket before its `ticket.created` is handled.
    let opened = s
        .app
        .open_ticket(&customer, "Sign-in outage since noon", "Account")
        .await;
    assert_eq!(opened["priority"], "Medium", "the customer's own priority");
    let id = opened["id"].as_str().unwrap();

    let report = quickfix::worker::sweep(&s.context(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.assigned, 1);
    let t = s.ticket(id).await;
    assert_eq!(t.assignee.unwrap().to_string(), agent1.id);
    assert_eq!(
        t.priority,
        Priority::Critical,
        "the rule for `outage` applies"
    );
    assert!(
        t.history
            .iter()
            .any(|h| h.kind == HistoryKind::PriorityChanged),
        "{:?}",
        t.history
    );

    // Its `ticket.created`, handled afterwards, changes nothing.
    s.settle().await;
    let again = s.ticket(id).await;
    assert_eq!(again.priority, Priority::Critical);
    assert_eq!(again.assignee, t.assignee);
    assert_eq!(assigned_entries(&again), 1);
    s.stop(Vec::new()).await;
}

async fn a_reopened_ticket_is_routed_again_without_overbooking(s: System) {
    let worker = s.spawn_worker();
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    let agent1 = only_agent1_online(&s, &admin).await;
    let first = s
        .app
        .open_ticket(&customer, "Comes back", "Technical")
        .await;
    let first_id = first["id"].as_str().unwrap();
    s.ticket_where(first_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    let waiting = s.app.open_ticket(&customer, "Waiting", "Technical").await;
    let waiting_id = waiting["id"].as_str().unwrap();
    let path = format!("/api/complaints/{first_id}/status");
    s.app
        .patch(&path, Some(&agent1.token), json!({"status": "Resolved"}))
        .await
        .expect(200);
    // The freed agent takes the waiting ticket.
    s.ticket_where(waiting_id, "Assigned", |t| t.status == Status::Assigned)
        .await;
    // The customer reopens the first: it waits for a free agent instead of overbooking agent 1.
    s.app
        .patch(&path, Some(&customer.token), json!({"status": "Open"}))
        .await
        .expect(200);
    s.settle().await;
    let reopened = s.ticket(first_id).await;
    assert_eq!(reopened.status, Status::Open);
    assert!(reopened.assignee.is_none());
    let view = s.agent_view(&admin, &agent1.id).await;
    assert_eq!(view["activeTickets"], 1);
    // Once agent 3 comes online, the reopened ticket is routed to them.
    let agent3 = s.app.agent(3).await;
    s.set_presence(&admin, &agent3.id, "online").await;
    let routed = s
        .ticket_where(first_id, "Assigned again", |t| t.status == Status::Assigned)
        .await;
    assert_eq!(routed.assignee.unwrap().to_string(), agent3.id);
    s.stop(vec![worker]).await;
}

async fn an_unanswered_ticket_breaches_escalates_and_alerts_admins(s: System) {
    let customer = s.app.customer(1).await;
    let admin = s.app.admin().await;
    for n in 1..=3 {
        let agent = s.app.agent(n).await;
        s.set_presence(&admin, &agent.id, "offline").await;
    }
    let _worker = s.spawn_worker();
    tokio::spawn(quickfix::worker::run_escalations(
        s.context(),
        Duration::from_millis(200),
        s.shutdown.clone(),
    ));
    // Nobody is online; the ticket has waited 20 minutes against a 15-minute target.
    let opened = Utc::now() - chrono::TimeDelta::minutes(20);
    let ticket = insert_ticket(&s, &customer, "Technical", Priority::Critical, opened, true).await;
    let t = s
        .ticket_where(&ticket.id.to_string(), "escalated", |t| {
            t.sla.escalation_level >= 1
        })
        .await;
    let kinds: Vec<HistoryKind> = t.history.iter().map(|h| h.kind).collect();
    assert!(kinds.contains(&HistoryKind::SlaBreach), "{kinds:?}");
    assert!(!kinds.contains(&HistoryKind::SlaWarning), "{kinds:?}");
    assert_eq!(t.status, Status::Open);
    // The breach and the escalation travel as events to the worker, which notifies admins.
    let inbox = eventually(WAIT, || async {
        let reply = s
            .app
            .get("/api/notifications", Some(&admin.token))
            .await
            .expect(200);
        let kinds: Vec<String> = reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["data"]["id"] == ticket.id.to_string())
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .collect();
        (kinds.len() >= 2).then_some(kinds)
    })
    .await
    .expect("the admin is told of the breach and the escalation");
    assert!(inbox.contains(&"slaBreached".to_owned()), "{inbox:?}");
    assert!(inbox.contains(&"ticketEscalated".to_owned()), "{inbox:?}");
}

on_both_backends_system!(
    creating_a_ticket_assigns_a_free_agent_and_notifies,
    resolving_frees_the_agent_who_takes_the_next_ticket,
    an_agent_going_offline_has_untouched_tickets_rerouted,
    an_agent_coming_online_takes_the_backlog,
    the_sweep_assigns_a_ticket_whose_event_was_lost,
    a_ticket_drained_before_its_created_event_gets_the_priority_rules,
    a_reopened_ticket_is_routed_again_without_overbooking,
    an_unanswered_ticket_breaches_escalates_and_alerts_admins,
);
