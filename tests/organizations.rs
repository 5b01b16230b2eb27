//! Organizations and SLA plans: admins make organizations with a plan and a region the SLA
//! policy defines and put customers in them; a member's new tickets run on the plan's targets
//! and the region's calendar (holidays included), tickets opened before keep their terms, and
//! bad input is refused naming the field. On the embedded backends and on MongoDB + SNS/SQS.

mod common;

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta, Utc};
use common::{Backend, Session, TestApp, assert_error};
use quickfix::domain::{BusinessHours, Calendar, Priority, SlaPolicy, Targets, UserId};
use serde_json::{Value, json};

/// The `gold` plan sets High to 10 minutes / 20 minutes / 1 hour; the `closed` region works
/// round the clock in UTC except on the three days starting `today`.
fn policy(today: NaiveDate) -> SlaPolicy {
    let gold_high = Targets {
        first_response: TimeDelta::minutes(10),
        next_reply: TimeDelta::minutes(20),
        resolution: TimeDelta::hours(1),
    };
    let week: Vec<(&str, &str)> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (*d, "00:00-24:00"))
        .collect();
    let holidays: Vec<String> = (0..3)
        .map(|i| (today + TimeDelta::days(i)).to_string())
        .collect();
    let closed = BusinessHours::parse("UTC", &week)
        .unwrap()
        .with_holidays("holidays", &holidays)
        .unwrap();
    SlaPolicy::default()
        .with_plans(BTreeMap::from([(
            "gold".to_owned(),
            BTreeMap::from([(Priority::High, gold_high)]),
        )]))
        .unwrap()
        .with_regions(BTreeMap::from([(
            "closed".to_owned(),
            Calendar::Business(closed),
        )]))
        .unwrap()
}

async fn create_org(app: &TestApp, admin: &Session, body: Value) -> common::Reply {
    app.post("/api/organizations", Some(&admin.token), body)
        .await
}

async fn join(app: &TestApp, admin: &Session, user: &str, org: Value) -> common::Reply {
    app.put(
        &format!("/api/users/{user}/organization"),
        Some(&admin.token),
        json!({"organizationId": org}),
    )
    .await
}

async fn open_high(app: &TestApp, customer: &Session) -> Value {
    app.post(
        "/api/complaints",
        Some(&customer.token),
        json!({"title": "Checkout is down", "description": "Nobody can pay",
               "category": "Technical", "priority": "High"}),
    )
    .await
    .expect(201)
    .body
}

fn at(v: &Value) -> chrono::DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn organizations_take_only_the_policys_plans_and_regions(app: TestApp) {
    let admin = app.admin().await;
    let made = create_org(
        &app,
        &admin,
        json!({"name": " Acme ", "plan": "gold", "region": "closed"}),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(made["name"], "Acme");
    assert_eq!(made["plan"], "gold");
    assert_eq!(made["region"], "closed");

    let taken = create_org(&app, &admin, json!({"name": "ACME"})).await;
    assert_error(&taken, 409, "conflict");
    assert_eq!(taken.field(), "name");
    for (body, field) in [
        (json!({"name": "Initech", "plan": "platinum"}), "plan"),
        (json!({"name": "Initech", "region": "mars"}), "region"),
        (json!({"name": "   "}), "name"),
        (json!({"plan": "gold"}), "name"),
    ] {
        let refused = create_org(&app, &admin, body.clone()).await;
        assert_error(&refused, 422, "validation_failed");
        assert_eq!(refused.field(), field, "{body}");
    }
    let customer = app.customer(1).await;
    assert_error(
        &create_org(&app, &customer, json!({"name": "Mine"})).await,
        403,
        "forbidden",
    );

    // Pages, oldest first.
    create_org(&app, &admin, json!({"name": "Globex"}))
        .await
        .expect(201);
    let first = app
        .get("/api/organizations?limit=1", Some(&admin.token))
        .await
        .expect(200)
        .body;
    assert_eq!(first["items"][0]["name"], "Acme");
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/api/organizations?limit=1&cursor={cursor}"),
            Some(&admin.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(second["items"][0]["name"], "Globex");
    assert_error(
        &app.get("/api/organizations", Some(&customer.token)).await,
        403,
        "forbidden",
    );

    // The policy lists the plans with their effective rows, and the regions.
    let policy = app
        .get("/api/sla/policy", Some(&admin.token))
        .await
        .expect(200)
        .body;
    let gold = &policy["plans"][0];
    assert_eq!(gold["name"], "gold");
    assert_eq!(
        gold["targets"][1],
        json!({"priority": "High", "firstResponse": "10m", "nextReply": "20m", "resolution": "1h"})
    );
    assert_eq!(
        gold["targets"][0], policy["targets"][0],
        "Critical: the default row"
    );
    assert_eq!(policy["regions"][0]["name"], "closed");
    assert_eq!(policy["regions"][0]["timeZone"], "UTC");
    assert_eq!(
        policy["regions"][0]["holidays"].as_array().unwrap().len(),
        3
    );
}

async fn a_members_new_tickets_run_on_the_plan_and_the_regions_calendar(app: TestApp) {
    let today = Utc::now().date_naive();
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let before = open_high(&app, &customer).await;
    assert_eq!(before["sla"]["plan"], Value::Null);

    let org = create_org(
        &app,
        &admin,
        json!({"name": "Acme", "plan": "gold", "region": "closed"}),
    )
    .await
    .expect(201)
    .body;
    let member = join(&app, &admin, &customer.id, org["id"].clone())
        .await
        .expect(200)
        .body;
    assert_eq!(member["organizationId"], org["id"]);

    let ticket = open_high(&app, &customer).await;
    assert_eq!(ticket["sla"]["plan"], "gold");
    assert_eq!(ticket["sla"]["region"], "closed");
    // The region is closed today and the next two days (even if the ticket opened after
    // midnight): the clock starts on the fourth day, and gold's High targets run from there.
    let reopens = (today + TimeDelta::days(3))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(
        at(&ticket["sla"]["firstResponse"]["dueAt"]),
        reopens + TimeDelta::minutes(10)
    );
    assert_eq!(
        at(&ticket["sla"]["resolution"]["dueAt"]),
        reopens + TimeDelta::hours(1)
    );

    // The ticket opened before keeps the default terms.
    let id = before["id"].as_str().unwrap();
    let again = app
        .get(&format!("/api/complaints/{id}"), Some(&customer.token))
        .await
        .expect(200)
        .body;
    assert_eq!(again["sla"]["plan"], Value::Null);
    assert_eq!(
        again["sla"]["firstResponse"]["dueAt"],
        before["sla"]["firstResponse"]["dueAt"]
    );
    let opened = at(&before["createdAt"]);
    assert_eq!(
        at(&before["sla"]["firstResponse"]["dueAt"]),
        opened + SlaPolicy::default().targets(Priority::High).first_response
    );

    // Out of the organization: the defaults again.
    join(&app, &admin, &customer.id, Value::Null)
        .await
        .expect(200);
    let after = open_high(&app, &customer).await;
    assert_eq!(after["sla"]["plan"], Value::Null);
    assert_eq!(after["sla"]["region"], Value::Null);
}

async fn memberships_are_for_customers_and_known_organizations(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let agent = app.agent(1).await;
    let org = create_org(&app, &admin, json!({"name": "Acme"}))
        .await
        .expect(201)
        .body;

    let unknown = join(
        &app,
        &admin,
        &customer.id,
        json!(uuid::Uuid::now_v7().to_string()),
    )
    .await;
    assert_error(&unknown, 409, "conflict");
    assert_eq!(unknown.field(), "organizationId");
    let not_a_customer = join(&app, &admin, &agent.id, org["id"].clone()).await;
    assert_error(&not_a_customer, 409, "conflict");
    assert_eq!(not_a_customer.field(), "id");
    let malformed = join(&app, &admin, &customer.id, json!("acme")).await;
    assert_error(&malformed, 422, "validation_failed");
    assert_eq!(malformed.field(), "organizationId");
    let missing = app
        .put(
            &format!("/api/users/{}/organization", customer.id),
            Some(&admin.token),
            json!({}),
        )
        .await;
    assert_error(&missing, 422, "validation_failed");
    assert_eq!(missing.field(), "organizationId");
    let nobody = join(
        &app,
        &admin,
        &uuid::Uuid::now_v7().to_string(),
        org["id"].clone(),
    )
    .await;
    assert_error(&nobody, 404, "not_found");
    let by_customer = join(&app, &customer, &customer.id, org["id"].clone()).await;
    assert_error(&by_customer, 403, "forbidden");

    // Nothing changed.
    let stored = app
        .store
        .find_user(UserId::parse("id", &customer.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.organization, None);
}

async fn a_customer_made_admin_leaves_their_organization(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer(2).await;
    let org = create_org(&app, &admin, json!({"name": "Acme", "plan": "gold"}))
        .await
        .expect(201)
        .body;
    join(&app, &admin, &customer.id, org["id"].clone())
        .await
        .expect(200);
    let promoted = app
        .patch(
            &format!("/api/users/{}", customer.id),
            Some(&admin.token),
            json!({"role": "admin"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(promoted["organizationId"], Value::Null);
    // Their own tickets now run on the default targets.
    let ticket = open_high(&app, &customer).await;
    assert_eq!(ticket["sla"]["plan"], Value::Null);
}

async fn app(backend: Backend) -> Option<TestApp> {
    common::spawn_app_with_policy(backend, policy(Utc::now().date_naive())).await
}

macro_rules! on_both_backends_with_plans {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::app(super::Backend::Embedded).await.unwrap()).await;
                }
            )+
        }
        mod real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = super::app(super::Backend::Real).await else { return };
                    super::$name(app).await;
                }
            )+
        }
    };
}

on_both_backends_with_plans!(
    organizations_take_only_the_policys_plans_and_regions,
    a_members_new_tickets_run_on_the_plan_and_the_regions_calendar,
    memberships_are_for_customers_and_known_organizations,
    a_customer_made_admin_leaves_their_organization,
);
