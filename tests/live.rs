//! Live notifications over Socket.IO, with a Rust Socket.IO client: the handshake accepts the
//! REST bearer token and refuses anything else with a message; each user hears only their own
//! rooms; every notification kind a worker writes reaches its recipient's socket once, with the
//! ticket summary; ticket changes reach admins, the requester and the agent. Each test runs on
//! the embedded backends and on MongoDB + SNS/SQS.

mod common;

use std::time::Duration;

use common::socket::{WAIT, listen, signed_in};
use common::{Session, TestApp};
use quickfix::domain::{Notification, NotificationKind, SystemClock, UserId};
use quickfix::live::{FeedSettings, LiveSink, NotificationRelay};
use serde_json::json;

/// Writes a notification the way the worker does.
async fn notify(
    app: &TestApp,
    to: &Session,
    kind: NotificationKind,
    message: &str,
) -> Notification {
    let now = chrono::Utc::now();
    let event = common::some_event();
    let recipient = UserId::parse("id", &to.id).unwrap();
    let data = json!({"id": "t-1", "complaintId": "COMP-00001", "title": "Printer on fire"});
    let n = Notification::of(&event, recipient, kind, message.into(), data, now);
    app.store
        .insert_notifications(std::slice::from_ref(&n))
        .await
        .unwrap();
    n
}

async fn a_valid_token_connects_and_anything_else_is_refused_with_a_message(app: TestApp) {
    let customer = app.customer(1).await;
    let ok = signed_in(&app, &customer).await;
    ok.client.disconnect().await.unwrap();

    for (auth, expected) in [
        (json!({}), "authentication required"),
        (json!({"token": ""}), "authentication required"),
        (json!({"token": "not-a-jwt"}), "invalid or expired token"),
        (
            json!({"token": format!("{}x", customer.token)}),
            "invalid or expired token",
        ),
    ] {
        let mut refused = listen(&app, auth.clone()).await;
        let error = refused.next("error").await;
        let text = error.to_string();
        assert!(text.contains(expected), "{auth}: {text}");
        let later = refused.drain(Duration::from_millis(300)).await;
        assert!(
            !later.iter().any(|(e, _)| e == "connect"),
            "{auth}: refused sockets are never connected: {later:?}"
        );
    }
}

async fn every_notification_kind_reaches_its_recipient_once(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let customer = app.customer(1).await;
    let mut admin_socket = signed_in(&app, &admin).await;
    let mut agent_socket = signed_in(&app, &agent).await;
    let mut customer_socket = signed_in(&app, &customer).await;

    let cases = [
        (&agent, NotificationKind::TicketAssigned),
        (&customer, NotificationKind::ComplaintUpdated),
        (&admin, NotificationKind::TicketEscalated),
        (&admin, NotificationKind::SlaBreached),
        (&admin, NotificationKind::AgentAvailabilityChanged),
    ];
    for (to, kind) in cases {
        let n = notify(&app, to, kind, &format!("about {kind}")).await;
        let socket = if to.id == admin.id {
            &mut admin_socket
        } else if to.id == agent.id {
            &mut agent_socket
        } else {
            &mut customer_socket
        };
        let got = socket.next(kind.as_str()).await;
        assert_eq!(got["id"], n.id.as_str());
        assert_eq!(got["kind"], kind.as_str());
        assert_eq!(got["message"], format!("about {kind}"));
        assert_eq!(
            got["data"]["complaintId"], "COMP-00001",
            "the ticket summary"
        );
    }
    // Nothing twice, and nobody hears another person's notification.
    for (name, socket) in [
        ("admin", &mut admin_socket),
        ("agent", &mut agent_socket),
        ("customer", &mut customer_socket),
    ] {
        let extra: Vec<_> = socket
            .drain(Duration::from_millis(800))
            .await
            .into_iter()
            .filter(|(e, _)| e != "ticketChanged")
            .collect();
        assert!(extra.is_empty(), "{name} heard more: {extra:?}");
    }
}

async fn ticket_changes_reach_admins_the_requester_and_the_agent(app: TestApp) {
    let admin = app.admin().await;
    let agent = app.agent(1).await;
    let customer = app.customer(1).await;
    let stranger = app.customer(2).await;
    let mut admin_socket = signed_in(&app, &admin).await;
    let mut agent_socket = signed_in(&app, &agent).await;
    let mut customer_socket = signed_in(&app, &customer).await;
    let mut stranger_socket = signed_in(&app, &stranger).await;

    let ticket = app
        .open_ticket(&customer, "Router blinking", "Technical")
        .await;
    let number = ticket["complaintId"].as_str().unwrap().to_owned();
    let seen = admin_socket.next("ticketChanged").await;
    assert_eq!(seen["complaintId"], number.as_str());
    assert_eq!(seen["status"], "Open");
    assert_eq!(
        customer_socket.next("ticketChanged").await["complaintId"],
        number.as_str()
    );

    app.assign(&admin, ticket["id"].as_str().unwrap(), &agent.id)
        .await
        .expect(200);
    let assigned = agent_socket.next("ticketChanged").await;
    assert_eq!(assigned["status"], "Assigned");
    assert_eq!(assigned["assignedTo"], agent.id.as_str());

    let heard = stranger_socket.drain(Duration::from_millis(800)).await;
    assert!(
        heard.is_empty(),
        "another customer hears nothing: {heard:?}"
    );
}

async fn each_api_process_delivers_once_to_its_own_sockets(app: TestApp) {
    // A second API process on the same database (its events go to a topic nobody reads).
    let other = common::start_without_seed(
        app.store.clone(),
        quickfix::MemoryTopic::new(),
        quickfix::MemoryTopology::provision(&common::unique_spec(vec![])).queue,
        16 * 1024,
    )
    .await;
    let agent = app.agent(1).await;
    let mut here = signed_in(&app, &agent).await;
    let mut there = signed_in(&other, &agent).await;
    let mut second_tab = signed_in(&other, &agent).await;

    let n = notify(&app, &agent, NotificationKind::TicketAssigned, "yours").await;
    for socket in [&mut here, &mut there, &mut second_tab] {
        assert_eq!(socket.next("ticketAssigned").await["id"], n.id.as_str());
        let again: Vec<_> = socket
            .drain(Duration::from_millis(800))
            .await
            .into_iter()
            .filter(|(e, _)| e == "ticketAssigned")
            .collect();
        assert!(again.is_empty(), "delivered once per socket: {again:?}");
    }
    other.server.stop().await;
}

/// Records what a relay delivers.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl LiveSink for Recorder {
    async fn notify(&self, n: &Notification) {
        self.0.lock().unwrap().push(n.id.clone());
    }
    async fn ticket_changed(&self, _: &quickfix::domain::Ticket) {}
}

/// Pushed, not polled: the MongoDB change stream, or the embedded store's broadcast.
async fn the_relay_is_pushed_new_notifications(store: std::sync::Arc<dyn quickfix::Store>) {
    let sink = std::sync::Arc::new(Recorder::default());
    // Polling once an hour: only the change stream can deliver within the test's wait.
    let settings = FeedSettings {
        poll_interval: Duration::from_secs(3600),
        ..FeedSettings::default()
    };
    let relay = NotificationRelay::new(store.clone(), sink.clone(), &SystemClock, settings);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(relay.run(stop.clone()));
    // The first may arrive through the catch-up read made when the stream opens; every later
    // one can only come through the stream.
    let mut written = Vec::new();
    for _ in 0..3 {
        let now = chrono::Utc::now();
        let event = common::some_event();
        let n = Notification::of(
            &event,
            UserId::generate(),
            NotificationKind::TicketAssigned,
            "hi".into(),
            json!({}),
            now,
        );
        store
            .insert_notifications(std::slice::from_ref(&n))
            .await
            .unwrap();
        written.push(n.id);
        let delivered = common::eventually(WAIT, || async {
            let got = sink.0.lock().unwrap().clone();
            (got.len() >= written.len()).then_some(got)
        })
        .await
        .expect("the change stream delivers every notification");
        assert_eq!(delivered, written, "each once, in order");
    }
    stop.cancel();
    running.await.unwrap();
}

mod pushed {
    use super::*;

    on_both_stores!(the_relay_is_pushed_new_notifications);
}

on_both_backends!(
    each_api_process_delivers_once_to_its_own_sockets,
    a_valid_token_connects_and_anything_else_is_refused_with_a_message,
    every_notification_kind_reaches_its_recipient_once,
    ticket_changes_reach_admins_the_requester_and_the_agent,
);

/// A second API process started while the machine is busy: a notification written the moment
/// its socket is told it is connected reaches that socket (its rooms are joined before the
/// client hears "connected"), and the process reports ready only once its live relay follows
/// the feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_api_process_under_load_delivers_from_its_first_socket() {
    let app = common::spawn_app(common::Backend::Embedded).await.unwrap();
    // Keep both cores busy for the whole test.
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let hogs: Vec<_> = (0..4)
        .map(|_| {
            let busy = busy.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while busy.load(std::sync::atomic::Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                x
            })
        })
        .collect();
    for round in 0..5 {
        let other = common::start_without_seed(
            app.store.clone(),
            quickfix::MemoryTopic::new(),
            quickfix::MemoryTopology::provision(&common::unique_spec(vec![])).queue,
            16 * 1024,
        )
        .await;
        let ready = common::eventually(WAIT, || async {
            (other.get("/readyz", None).await.status == 200).then_some(())
        })
        .await;
        assert!(
            ready.is_some(),
            "round {round}: the new process became ready"
        );
        let agent = other.agent(1).await;
        let mut socket = signed_in(&other, &agent).await;
        let n = notify(&other, &agent, NotificationKind::TicketAssigned, "first").await;
        assert_eq!(socket.next("ticketAssigned").await["id"], n.id.as_str());
        other.server.stop().await;
    }
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
}
