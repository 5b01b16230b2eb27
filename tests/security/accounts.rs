//! The first admin, user administration, and sessions that follow the stored account.

use chrono::Utc;
use quickfix::admin::{AdminError, AdminOutcome, create_admin};
use quickfix::domain::Role;
use quickfix::{MemoryStore, UserStore};
use serde_json::json;

use crate::common::{self, Backend, TestApp};

async fn app() -> TestApp {
    common::spawn_app(Backend::Embedded)
        .await
        .expect("embedded app")
}

#[tokio::test]
async fn admin_create_makes_an_admin_once_and_refuses_other_accounts_without_promote() {
    let store = MemoryStore::new();
    let now = Utc::now();
    let create = |email: &'static str, promote: bool| {
        let store = &store;
        async move { create_admin(store, "Ops", email, "a long passphrase", promote, now).await }
    };
    assert_eq!(
        create("ops@example.com", false).await.unwrap(),
        AdminOutcome::Created
    );
    assert_eq!(
        create("OPS@example.com", false).await.unwrap(),
        AdminOutcome::AlreadyExists,
        "running it again is success"
    );
    let admin = store
        .find_user_by_email("ops@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(quickfix::verify_password(
        "a long passphrase",
        &admin.password_hash
    ));

    common::seed(&store).await;
    let refused = create("customer1@quickfix.dev", false).await.unwrap_err();
    assert!(
        matches!(refused, AdminError::NotAnAdmin(Role::Customer)),
        "{refused}"
    );
    assert!(refused.to_string().contains("--promote"), "{refused}");
    assert_eq!(
        create("customer1@quickfix.dev", true).await.unwrap(),
        AdminOutcome::Promoted
    );
    let promoted = store
        .find_user_by_email("customer1@quickfix.dev")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert!(matches!(
        create("agent1@quickfix.dev", true).await.unwrap_err(),
        AdminError::IsAnAgent
    ));
    let short = create_admin(&store, "Ops", "new@example.com", "short", false, now).await;
    assert!(matches!(short, Err(AdminError::Invalid(ref e)) if e.field == "password"));
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> common::Reply {
    app.post(
        "/api/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

#[tokio::test]
async fn admins_create_users_of_every_role_and_list_them_page_by_page() {
    let app = app().await;
    let admin = app.admin().await;
    for (email, role, extra) in [
        ("new-admin@example.com", "admin", json!({})),
        ("new-customer@example.com", "customer", json!({})),
        (
            "new-agent@example.com",
            "agent",
            json!({"skills": ["Billing"], "capacity": 2}),
        ),
    ] {
        let mut body =
            json!({"name": "New", "email": email, "password": "a long passphrase", "role": role});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let made = app
            .post("/api/users", Some(&admin.token), body)
            .await
            .expect(201);
        assert_eq!(made.body["role"], role);
        let session = sign_in(&app, email, "a long passphrase").await.expect(200);
        assert_eq!(session.body["user"]["role"], role);
    }
    app.post(
        "/api/users",
        Some(&admin.token),
        json!({"name": "X", "email": "x@example.com", "password": "a long passphrase", "role": "customer", "skills": ["Billing"]}),
    )
    .await
    .expect_error(422, "validation_failed");
    app.post(
        "/api/users",
        Some(&app.customer(1).await.token),
        json!({"name": "X", "email": "y@example.com", "password": "a long passphrase", "role": "admin"}),
    )
    .await
    .expect_error(403, "forbidden");

    // 6 demo accounts + 3 new ones, two at a time, oldest first, each exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/users?limit=2&cursor={c}"),
            None => "/api/users?limit=2".to_owned(),
        };
        let page = app.get(&path, Some(&admin.token)).await.expect(200);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let total = seen.len();
    seen.dedup();
    assert_eq!(seen.len(), total, "no account twice");
    assert!(total >= 9, "{seen:?}");
    let agents = app
        .get("/api/users?role=agent", Some(&admin.token))
        .await
        .expect(200);
    assert!(
        agents.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["role"] == "agent")
    );
    app.get("/api/users?limit=0", Some(&admin.token))
        .await
        .expect_error(422, "validation_failed");
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_access_on_the_next_request() {
    let app = app().await;
    let admin = app.admin().await;
    app.post(
        "/api/users",
        Some(&admin.token),
        json!({"name": "Second", "email": "second@example.com", "password": "a long passphrase", "role": "admin"}),
    )
    .await
    .expect(201);
    let second = sign_in(&app, "second@example.com", "a long passphrase")
        .await
        .expect(200);
    let token = second.body["token"].as_str().unwrap();
    let id = second.body["user"]["id"].as_str().unwrap();
    app.get("/api/users", Some(token)).await.expect(200);

    app.patch(
        &format!("/api/users/{id}"),
        Some(&admin.token),
        json!({"role": "customer"}),
    )
    .await
    .expect(200);
    // The same token, unchanged: the role comes from the store.
    app.get("/api/users", Some(token))
        .await
        .expect_error(403, "forbidden");
    app.patch(
        &format!("/api/users/{}", admin.id),
        Some(&admin.token),
        json!({"role": "customer"}),
    )
    .await
    .expect_error(409, "conflict");
}

#[tokio::test]
async fn an_agents_role_is_fixed_and_no_account_becomes_an_agent() {
    let app = app().await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let customer = app.customer(1).await;
    // Nobody is made an agent by a role change: that is not a role this route takes.
    let refused = app
        .patch(
            &format!("/api/users/{}", customer.id),
            Some(&admin.token),
            json!({"role": "agent"}),
        )
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(refused.field(), "role");
    // An agent's role conflicts with what the account is: their slots and tickets hang on it.
    let refused = app
        .patch(
            &format!("/api/users/{}", agent.id),
            Some(&admin.token),
            json!({"role": "customer"}),
        )
        .await
        .expect_error(409, "conflict");
    assert_eq!(refused.field(), "role");
    // Neither field given (or both `null`): nothing to change.
    let refused = app
        .patch(
            &format!("/api/users/{}", customer.id),
            Some(&admin.token),
            json!({"role": null, "disabled": null}),
        )
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(refused.field(), "body");
}

#[tokio::test]
async fn a_disabled_account_is_refused_at_once_and_keeps_its_tickets() {
    let app = app().await;
    let admin = app.admin().await;
    let customer = app.customer(1).await;
    let ticket = app
        .open_ticket(&customer, "Broken invoice", "Billing")
        .await;
    let id = ticket["id"].as_str().unwrap();

    let disabled = app
        .patch(
            &format!("/api/users/{}", customer.id),
            Some(&admin.token),
            json!({"disabled": true}),
        )
        .await
        .expect(200);
    assert_eq!(disabled.body["disabled"], true);
    app.get("/api/complaints", Some(&customer.token))
        .await
        .expect_error(401, "unauthorized");
    sign_in(&app, "customer1@quickfix.dev", common::PASSWORD)
        .await
        .expect_error(403, "forbidden");
    // Nothing of theirs is gone.
    let kept = app
        .get(&format!("/api/complaints/{id}/history"), Some(&admin.token))
        .await
        .expect(200);
    assert!(!kept.body.as_array().unwrap().is_empty());

    app.patch(
        &format!("/api/users/{}", customer.id),
        Some(&admin.token),
        json!({"disabled": false}),
    )
    .await
    .expect(200);
    app.customer(1).await;
}

#[tokio::test]
async fn a_disabled_agent_goes_offline_and_cannot_come_back_online() {
    let app = app().await;
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    app.patch(
        &format!("/api/users/{}", agent.id),
        Some(&admin.token),
        json!({"disabled": true}),
    )
    .await
    .expect(200);
    let stored = app
        .store
        .find_user(quickfix::domain::UserId::parse("id", &agent.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.agent.unwrap().presence,
        quickfix::domain::Presence::Offline
    );
    app.patch(
        &format!("/api/agents/{}/presence", agent.id),
        Some(&admin.token),
        json!({"presence": "online"}),
    )
    .await
    .expect_error(409, "conflict");
}

#[tokio::test]
async fn a_password_change_ends_every_earlier_session() {
    let app = app().await;
    let first = app.customer(1).await;
    let second = app.customer(1).await;
    // A wrong current password is refused (the token is fine: not 401) and names the field.
    let wrong = app
        .post(
            "/api/auth/password",
            Some(&first.token),
            json!({"currentPassword": "wrong password", "newPassword": "a new long passphrase"}),
        )
        .await
        .expect_error(403, "forbidden");
    assert_eq!(wrong.field(), "currentPassword");
    let changed = app
        .post(
            "/api/auth/password",
            Some(&first.token),
            json!({"currentPassword": common::PASSWORD, "newPassword": "a new long passphrase"}),
        )
        .await
        .expect(200);
    for old in [&first.token, &second.token] {
        app.get("/api/complaints", Some(old))
            .await
            .expect_error(401, "unauthorized");
    }
    let fresh = changed.body["token"].as_str().unwrap();
    app.get("/api/complaints", Some(fresh)).await.expect(200);
    sign_in(&app, "customer1@quickfix.dev", common::PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    sign_in(&app, "customer1@quickfix.dev", "a new long passphrase")
        .await
        .expect(200);
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let app = app().await;
    let here = app.agent(1).await;
    let there = app.agent(1).await;
    app.post("/api/auth/logout-all", Some(&here.token), json!({}))
        .await
        .expect(204);
    for token in [&here.token, &there.token] {
        app.get("/api/complaints", Some(token))
            .await
            .expect_error(401, "unauthorized");
    }
    app.agent(1).await; // signing in again works
}

#[tokio::test]
async fn tokens_for_another_issuer_or_audience_are_refused() {
    let app = app().await;
    let user = app
        .store
        .find_user_by_email("admin@quickfix.dev")
        .await
        .unwrap()
        .unwrap();
    let secret = secrecy::SecretString::from(common::JWT_SECRET.to_owned());
    let ttl = std::time::Duration::from_secs(60);
    let right = quickfix::TokenKeys::new(&secret, ttl).issue(&user);
    app.get("/api/users", Some(&right)).await.expect(200);
    for (iss, aud) in [
        ("someone-else", "quickfix-api"),
        ("quickfix", "another-api"),
    ] {
        let token = quickfix::TokenKeys::with_names(&secret, ttl, iss, aud).issue(&user);
        app.get("/api/users", Some(&token))
            .await
            .expect_error(401, "unauthorized");
    }
}

#[tokio::test]
async fn another_api_process_sees_a_disabled_account_within_its_cache_time() {
    use std::time::Duration;
    let (store, publisher, events, _) = common::backends(Backend::Embedded).await.unwrap();
    common::seed(store.as_ref()).await;
    let cached = quickfix::app::AccessSettings {
        auth_cache: Duration::from_secs(1),
        ..common::test_access()
    };
    let limits = || quickfix::ApiLimits::generous(16 * 1024);
    let a = common::start_configured(
        store.clone(),
        publisher.clone(),
        events.clone(),
        limits(),
        cached.clone(),
        None,
    )
    .await;
    let b = common::start_configured(store, publisher, events, limits(), cached, None).await;
    let admin = a.admin().await;
    let customer = a.customer(1).await;
    b.get("/api/complaints", Some(&customer.token))
        .await
        .expect(200);
    a.patch(
        &format!("/api/users/{}", customer.id),
        Some(&admin.token),
        json!({"disabled": true}),
    )
    .await
    .expect(200);
    a.get("/api/complaints", Some(&customer.token))
        .await
        .expect_error(401, "unauthorized");
    let refused = common::eventually(Duration::from_secs(20), || async {
        (b.get("/api/complaints", Some(&customer.token)).await.status == 401).then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "the other process refuses within its cache time"
    );
}
