//! Live sockets live only as long as their session, and connection attempts are rate-limited.

use std::time::Duration;

use quickfix::app::AccessSettings;
use quickfix::{ApiLimits, RateLimit};
use serde_json::json;

use crate::common::socket::{Listener, signed_in};
use crate::common::{self, test_access};

/// Waits until the server ends the socket: it says `sessionEnded` or closes the connection.
async fn ended(listener: &mut Listener) -> String {
    let deadline = tokio::time::Instant::now() + common::socket::WAIT;
    loop {
        let (event, _) = tokio::time::timeout_at(deadline, listener.heard.recv())
            .await
            .expect("the server ended the socket in time")
            .expect("client channel open");
        if event == "sessionEnded" || event == "close" {
            return event;
        }
    }
}

fn checked_often() -> AccessSettings {
    AccessSettings {
        session_check: Duration::from_millis(200),
        ..test_access()
    }
}

#[tokio::test]
async fn a_socket_is_closed_when_its_session_is_revoked() {
    let app = common::embedded_app_with(ApiLimits::generous(16 * 1024), checked_often()).await;
    let customer = app.customer(1).await;
    let mut socket = signed_in(&app, &customer).await;
    let quiet = socket.drain(Duration::from_millis(600)).await;
    assert!(
        !quiet
            .iter()
            .any(|(e, _)| e == "sessionEnded" || e == "close"),
        "a live session stays open: {quiet:?}"
    );
    app.post("/api/auth/logout-all", Some(&customer.token), json!({}))
        .await
        .expect(204);
    ended(&mut socket).await;
}

#[tokio::test]
async fn a_socket_is_closed_when_its_account_is_disabled() {
    let app = common::embedded_app_with(ApiLimits::generous(16 * 1024), checked_often()).await;
    let admin = app.admin().await;
    let agent = app.agent(2).await;
    let mut socket = signed_in(&app, &agent).await;
    app.patch(
        &format!("/api/users/{}", agent.id),
        Some(&admin.token),
        json!({"disabled": true}),
    )
    .await
    .expect(200);
    ended(&mut socket).await;
}

#[tokio::test]
async fn a_socket_is_closed_when_its_token_expires() {
    let (store, publisher, events, _) = common::backends(common::Backend::Embedded).await.unwrap();
    common::seed(store.as_ref()).await;
    let app = common::start_configured(
        store.clone(),
        publisher,
        events,
        ApiLimits::generous(16 * 1024),
        checked_often(),
        None,
    )
    .await;
    let user = store
        .find_user_by_email("customer1@quickfix.dev")
        .await
        .unwrap()
        .unwrap();
    // A token that expires two seconds from now, signed with the app's secret.
    let keys = quickfix::TokenKeys::new(
        &secrecy::SecretString::from(common::JWT_SECRET.to_owned()),
        Duration::from_secs(2),
    );
    let session = common::Session {
        token: keys.issue(&user),
        id: user.id.to_string(),
    };
    let mut socket = signed_in(&app, &session).await;
    ended(&mut socket).await;
}

#[tokio::test]
async fn socket_connection_attempts_are_rate_limited_per_address() {
    let limits = ApiLimits {
        socket_connects_per_client: RateLimit::per_minute(1, 2),
        ..ApiLimits::generous(16 * 1024)
    };
    let app = common::embedded_app_with(limits, test_access()).await;
    let handshake = || app.get("/socket.io/?EIO=4&transport=polling", None);
    for _ in 0..2 {
        let open = handshake().await;
        assert_eq!(open.status, 200, "{}", open.body);
    }
    let limited = handshake().await.expect_error(429, "rate_limited");
    assert!(limited.headers.get("retry-after").is_some());
    // The REST API is not affected by the socket budget.
    app.get("/healthz", None).await.expect(200);
}
