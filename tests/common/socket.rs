//! A Socket.IO test client (the `rust_socketio` crate) that records what it hears.

use std::time::Duration;

use futures::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Session, TestApp};

/// How long a test waits for something a socket should hear.
pub const WAIT: Duration = Duration::from_secs(20);

/// A connected test client and what it has heard: `(event, first argument)`.
pub struct Listener {
    pub client: Client,
    pub heard: mpsc::UnboundedReceiver<(String, Value)>,
}

pub async fn listen(app: &TestApp, auth: Value) -> Listener {
    let (tx, heard) = mpsc::unbounded_channel::<(String, Value)>();
    // The client calls `on_any` for named events only; connect and errors have their own.
    let named = |name: &'static str| {
        let tx = tx.clone();
        move |payload: Payload, _| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((name.to_owned(), first(payload)));
            }
            .boxed()
        }
    };
    let any = tx.clone();
    let client = ClientBuilder::new(app.url("/"))
        .auth(auth)
        .reconnect(false)
        .on(Event::Connect, named("connect"))
        .on(Event::Error, named("error"))
        .on(Event::Close, named("close"))
        .on_any(move |event: Event, payload: Payload, _| {
            let tx = any.clone();
            async move {
                let _ = tx.send((event.as_str().to_owned(), first(payload)));
            }
            .boxed()
        })
        .connect()
        .await
        .expect("the client connects at the transport level");
    Listener { client, heard }
}

pub fn first(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.remove(0),
        #[allow(deprecated)]
        Payload::String(s) => Value::String(s),
        _ => Value::Null,
    }
}

impl Listener {
    /// Waits for the next `event`, skipping others.
    pub async fn next(&mut self, event: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got = tokio::time::timeout_at(deadline, self.heard.recv())
                .await
                .unwrap_or_else(|_| panic!("no `{event}` within {WAIT:?}"))
                .expect("client channel open");
            if got.0 == event {
                return got.1;
            }
        }
    }

    /// Everything heard until `quiet` passes with nothing new.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Ok(Some(got)) = tokio::time::timeout(quiet, self.heard.recv()).await {
            out.push(got);
        }
        out
    }
}

pub async fn signed_in(app: &TestApp, session: &Session) -> Listener {
    let mut l = listen(app, json!({"token": session.token})).await;
    // The server acknowledges the namespace connection before anything is emitted to it.
    l.next("connect").await;
    l
}
