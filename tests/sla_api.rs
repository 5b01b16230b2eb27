//! The SLA routes: at-risk and breached lists, the compliance report, the policy, and the SLA
//! state every ticket carries. Each test runs on the embedded backends and on MongoDB + SNS/SQS.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Reply, TestApp};
use quickfix::domain::{
    Categories, Clock, ComplaintId, Description, EventMetadata, MessageBody, NewTicket, Principal,
    Priority, Role, SlaPolicy, SystemClock, Ticket, Title, UserId,
};
use serde_json::{Value, json};

fn meta() -> EventMetadata {
    EventMetadata::requested("test", "test")
}

/// Stores a ticket opened `ago` in the past (the API only opens tickets now), optionally
/// assigned `assigned_after` its opening.
async fn backdated(
    app: &TestApp,
    requester: &str,
    priority: Priority,
    ago: TimeDelta,
    answered_after: Option<TimeDelta>,
) -> Ticket {
    let seq = app.store.next_complaint_number().await.unwrap();
    let opened: DateTime<Utc> = SystemClock.now() - ago;
    let new = NewTicket {
        title: Title::parse(&format!("Backdated {seq}")).unwrap(),
        description: Description::parse("details").unwrap(),
        category: Categories::default().parse("category", "Account").unwrap(),
        priority,
        terms: Default::default(),
    };
    let (mut ticket, event) = Ticket::open(
        new,
        ComplaintId::from_sequence(seq),
        UserId::parse("id", requester).unwrap(),
        &SlaPolicy::default(),
        opened,
        meta(),
    );
    if let Some(after) = answered_after {
        let agent = Principal {
            id: UserId::generate(),
            role: Role::Agent,
        };
        ticket
            .assign(agent.id, "test", None, opened + after, meta())
            .unwrap();
        let body = MessageBody::parse("body", "On it").unwrap();
        ticket
            .reply(&agent, body, &SlaPolicy::default(), opened + after, meta())
            .unwrap();
    }
    app.store.insert_ticket(&ticket, &[event]).await.unwrap();
    ticket
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["complaintId"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_invalid(reply: &Reply, field: &str) {
    assert_eq!(reply.status.as_u16(), 422, "{}", reply.body);
    assert_eq!(reply.field(), field, "{}", reply.body);
}

async fn tickets_carry_their_due_times(app: TestApp) {
    // Staff may open a Critical ticket; customers are capped at High.
    let admin = app.admin().await;
    let reply = app
        .post(
            "/api/complaints",
            Some(&admin.token),
            json!({"title": "Site down", "description": "all of it", "category": "Technical", "priority": "Critical"}),
        )
        .await
        .expect(201);
    let sla = &reply.body["sla"];
    let due = |v: &Value| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let created = due(&reply.body["createdAt"]);
    assert_eq!(
        due(&sla["firstResponse"]["dueAt"]) - created,
        TimeDelta::minutes(15)
    );
    assert_eq!(
        due(&sla["resolution"]["dueAt"]) - created,
        TimeDelta::hours(4)
    );
    assert_eq!(sla["firstResponse"]["metAt"], Value::Null);
    assert_eq!(sla["escalationLevel"], 0);
}

async fn at_risk_and_breached_lists_split_on_now(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let overdue = backdated(
        &app,
        &customer.id,
        Priority::Critical,
        TimeDelta::hours(2),
        None,
    )
    .await;
    let answered = backdated(
        &app,
        &customer.id,
        Priority::Medium,
        TimeDelta::hours(1),
        Some(TimeDelta::minutes(1)),
    )
    .await;
    let fresh = app
        .post(
            "/api/complaints",
            Some(&admin.token),
            json!({"title": "Payments fail", "description": "since noon", "category": "Billing", "priority": "Critical"}),
        )
        .await
        .expect(201);
    let fresh_id = fresh.body["complaintId"].as_str().unwrap().to_owned();

    let breached = app
        .get("/api/sla/breached", Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(ids(&breached), [overdue.complaint_id.to_string()]);

    let soon = app
        .get("/api/sla/at-risk?within=30m", Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(
        ids(&soon),
        std::slice::from_ref(&fresh_id),
        "due in 15 min; the rest later or overdue"
    );
    let sooner = app
        .get("/api/sla/at-risk?within=10m", Some(&admin.token))
        .await
        .expect(200);
    assert!(ids(&sooner).is_empty());
    let day = app
        .get("/api/sla/at-risk?within=1d", Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(ids(&day), [fresh_id, answered.complaint_id.to_string()]);

    let agent = app.agent(1).await;
    app.get("/api/sla/breached", Some(&agent.token))
        .await
        .expect(200);
    let refused = app.get("/api/sla/at-risk", Some(&customer.token)).await;
    assert_eq!(refused.status.as_u16(), 403);
    assert_invalid(
        &app.get("/api/sla/at-risk?within=banana", Some(&admin.token))
            .await,
        "within",
    );
    assert_invalid(
        &app.get("/api/sla/at-risk?within=90d", Some(&admin.token))
            .await,
        "within",
    );
    assert_invalid(
        &app.get("/api/sla/breached?limit=0", Some(&admin.token))
            .await,
        "limit",
    );
}

async fn compliance_reports_the_share_met_per_priority(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    backdated(
        &app,
        &customer.id,
        Priority::Critical,
        TimeDelta::hours(2),
        None,
    )
    .await;
    backdated(
        &app,
        &customer.id,
        Priority::Critical,
        TimeDelta::hours(3),
        Some(TimeDelta::minutes(5)),
    )
    .await;
    backdated(
        &app,
        &customer.id,
        Priority::Medium,
        TimeDelta::hours(1),
        Some(TimeDelta::minutes(1)),
    )
    .await;
    // Opened before the window.
    backdated(&app, &customer.id, Priority::Low, TimeDelta::days(10), None).await;

    let report = app
        .get("/api/sla/compliance", Some(&admin.token))
        .await
        .expect(200);
    let rows = report.body["priorities"].as_array().unwrap();
    let row = |p: &str| rows.iter().find(|r| r["priority"] == p).unwrap();
    assert_eq!(rows[0]["priority"], "Critical", "Critical first");
    let critical = row("Critical");
    assert_eq!(critical["tickets"], 2);
    assert_eq!(
        critical["firstResponse"],
        json!({"met": 1, "missed": 1, "pending": 0, "shareMet": 0.5})
    );
    assert_eq!(critical["resolution"]["pending"], 2);
    assert_eq!(
        critical["nextReply"],
        json!({"met": 0, "missed": 0, "pending": 0, "shareMet": null}),
        "no customer has replied"
    );
    assert_eq!(critical["pausedSeconds"], 0);
    assert_eq!(critical["resolution"]["shareMet"], Value::Null);
    assert_eq!(row("Medium")["firstResponse"]["shareMet"], 1.0);
    assert_eq!(row("Low")["tickets"], 0, "opened before the window");
    assert_eq!(report.body["total"]["tickets"], 3);
    assert_eq!(report.body["total"]["firstResponse"]["met"], 2);

    let now = Utc::now();
    let narrow = format!(
        "/api/sla/compliance?from={}&to={}",
        (now - TimeDelta::days(11)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (now - TimeDelta::days(9)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let old = app.get(&narrow, Some(&admin.token)).await.expect(200);
    assert_eq!(old.body["total"]["tickets"], 1);
    assert_eq!(old.body["total"]["firstResponse"]["missed"], 1);

    assert_invalid(
        &app.get(
            "/api/sla/compliance?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Some(&admin.token),
        )
        .await,
        "from",
    );
    assert_invalid(
        &app.get("/api/sla/compliance?to=yesterday", Some(&admin.token))
            .await,
        "to",
    );
    let refused = app.get("/api/sla/compliance", Some(&customer.token)).await;
    assert_eq!(refused.status.as_u16(), 403);
}

async fn the_policy_in_force_is_readable(app: TestApp) {
    let admin = app.admin().await;
    let policy = app
        .get("/api/sla/policy", Some(&admin.token))
        .await
        .expect(200);
    assert_eq!(
        policy.body["targets"][0],
        json!({"priority": "Critical", "firstResponse": "15m", "nextReply": "30m", "resolution": "4h"})
    );
    assert_eq!(policy.body["warningFraction"], 0.8);
    assert_eq!(policy.body["businessHoursTimeZone"], Value::Null);
    assert_eq!(policy.body["holidays"], json!([]));
    assert_eq!(policy.body["plans"], json!([]));
    assert_eq!(policy.body["regions"], json!([]));
    let rules = policy.body["escalation"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0]["name"], "unanswered");
    assert_eq!(rules[0]["since"], "first_response_due");
    assert_eq!(
        rules[1]["actions"],
        json!(["reassign_higher_tier", "notify_managers"])
    );
}

on_both_backends!(
    tickets_carry_their_due_times,
    at_risk_and_breached_lists_split_on_now,
    compliance_reports_the_share_met_per_priority,
    the_policy_in_force_is_readable,
);
