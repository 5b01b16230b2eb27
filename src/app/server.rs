//! A running API: the HTTP server, Socket.IO, the outbox relay and the live feed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::AppConfig;
use super::tasks::Tasks;
use crate::api::{AppState, Guards, Readiness, router};
use crate::auth::Sessions;
use crate::live::{
    FeedSettings, NotificationRelay, SocketSink, close_ended_sessions, socket_layer,
};
use crate::outbox::OutboxRelay;
use crate::telemetry;

/// A running API with its outbox relay.
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    shutdown: CancellationToken,
    /// Everything but the relay: stopped first.
    tasks: Tasks,
    relay_stop: CancellationToken,
    relaying: Tasks,
    grace: Duration,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and starts serving and relaying.
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn start(config: AppConfig, addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("Failed to listen on {addr} (QUICKFIX_ADDR)"))?;
        let addr = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        let shutdown = CancellationToken::new();
        if let Some(metrics_addr) = config.metrics_addr {
            let bound = telemetry::serve_metrics(metrics_addr, shutdown.clone())
                .await
                .with_context(|| {
                    format!("Failed to listen on {metrics_addr} (QUICKFIX_METRICS_ADDR)")
                })?;
            info!(addr = %bound, "API metrics on http://{bound}/metrics");
        }
        let wake = Arc::new(Notify::new());
        let sessions = Arc::new(Sessions::new(
            config.tokens,
            config.store.clone(),
            config.access.auth_cache,
        ));
        let guards = Guards::new(&config.limits);
        let (live_layer, io) = socket_layer(sessions.clone());
        let live = NotificationRelay::new(
            config.store.clone(),
            Arc::new(SocketSink::new(io.clone())),
            config.clock.as_ref(),
            FeedSettings::default(),
        );
        let state = AppState {
            store: config.store.clone(),
            publisher: config.publisher.clone(),
            clock: config.clock,
            sessions: sessions.clone(),
            passwords: config.access.passwords.clone(),
            guards: guards.clone(),
            customer_max_priority: config.access.customer_max_priority,
            readiness: Arc::new(Readiness::default()),
            live_ready: live.ready(),
            idempotency_window: config.limits.idempotency_window,
            public_metrics: config.metrics_addr.is_none(),
            categories: Arc::new(config.categories),
            sla: config.sla,
            outbox: wake.clone(),
            metrics: telemetry::metrics_handle(),
        };
        let mut tasks = Tasks::new();

        // The relay stops after the requests: its last pass publishes what they wrote.
        let relay = OutboxRelay::new(config.store.clone(), config.publisher, wake, config.relay);
        let relay_stop = CancellationToken::new();
        let mut relaying = Tasks::new();
        relaying.spawn("outbox relay", relay.run(relay_stop.clone()));
        tasks.spawn(
            "rate limiter cleanup",
            forget_idle_clients(guards.clone(), shutdown.clone()),
        );
        tasks.spawn("live feed", live.run(shutdown.clone()));
        tasks.spawn(
            "session check",
            close_ended_sessions(
                io.clone(),
                sessions,
                config.access.session_check,
                shutdown.clone(),
            ),
        );
        // Open sockets would hold the graceful shutdown forever: close them when it starts.
        let closing = io;
        let stop_sockets = shutdown.clone();
        tasks.spawn("socket close", async move {
            stop_sockets.cancelled().await;
            closing.close().await;
        });

        let socket_guard = guards.clone();
        let app = router(state.clone(), &config.limits)
            .layer(live_layer)
            .layer(axum::middleware::from_fn(move |req, next| {
                let guard = socket_guard.clone();
                async move { guard.socket_connects(req, next).await }
            }))
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        tasks.spawn("http server", async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(err) = serve.await {
                warn!(error = %err, "the HTTP server stopped with an error");
            }
        });
        Ok(Self {
            addr,
            state,
            shutdown,
            tasks,
            relay_stop,
            relaying,
            grace: config.shutdown_grace,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The handlers' shared state (for tests and embedding).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting requests, closes the sockets and finishes the requests in flight, then
    /// runs a last outbox pass for what they wrote; each phase within the shutdown grace, what
    /// is still running after it aborted. Returns the names of the aborted tasks (an empty list
    /// is a clean stop).
    pub async fn stop(self) -> Vec<&'static str> {
        self.shutdown.cancel();
        let mut aborted = self.tasks.stop_within(self.grace).await;
        self.relay_stop.cancel();
        aborted.extend(self.relaying.stop_within(self.grace).await);
        aborted
    }

    /// Waits until the shutdown token is cancelled (by a signal), then stops.
    pub async fn wait(self) -> Vec<&'static str> {
        self.shutdown.cancelled().await;
        self.stop().await
    }
}

/// Every minute, drops the rate limiters' memory of clients not seen lately.
async fn forget_idle_clients(guards: Guards, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => guards.forget_idle(),
        }
    }
}
