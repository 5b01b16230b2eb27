//! The Socket.IO endpoint (`/socket.io/`): a client signs in during the handshake with the same
//! bearer token as the REST API (`auth: {token}`), joins its own rooms, and receives what the
//! relay delivers there. Clients cannot join rooms themselves.
//!
//! A socket lives only as long as its session: a periodic check
//! ([`close_ended_sessions`]) disconnects sockets whose token has expired or whose account was
//! disabled, demoted or signed out everywhere since.
//!
//! Rooms: `user:{id}` for everyone, `agent:{id}` for agents, `role:admin` for admins.
//! Events: the notification kinds (`ticketAssigned`, `complaintUpdated`, `ticketEscalated`,
//! `slaBreached`, `agentAvailabilityChanged`) to their recipient, and `ticketChanged` (the
//! ticket's summary) to admins, the ticket's requester and its agent, for live boards.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{SocketIo, SocketIoConfig};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::LiveSink;
use crate::auth::{SessionError, Sessions, TokenClaims};
use crate::domain::{Notification, Principal, Role, Ticket, UserId};

/// What the client sends in the handshake.
#[derive(Debug, Deserialize)]
struct Handshake {
    token: Option<String>,
}

/// Why a connection was refused; the client receives the text as its `connect_error`.
#[derive(Debug, thiserror::Error)]
pub enum ConnectRefused {
    /// No `auth.token` in the handshake.
    #[error("authentication required: connect with auth: {{token}}")]
    MissingToken,
    /// The token did not verify, or its session has ended.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The store could not confirm the session.
    #[error("cannot check the session right now; retry")]
    Unavailable,
}

/// The room of one user.
pub fn user_room(id: UserId) -> String {
    format!("user:{id}")
}

/// The room of one agent.
pub fn agent_room(id: UserId) -> String {
    format!("agent:{id}")
}

/// The room of every admin.
pub const ADMIN_ROOM: &str = "role:admin";

/// Builds the Socket.IO layer (mounted on the API router) and its handle.
pub fn socket_layer(sessions: Arc<Sessions>) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder()
        .with_config(SocketIoConfig::default())
        .build_layer();
    let authenticate = move |s: SocketRef, TryData(handshake): TryData<Handshake>| {
        let sessions = sessions.clone();
        async move {
            let token = handshake
                .ok()
                .and_then(|h| h.token)
                .filter(|t| !t.trim().is_empty())
                .ok_or(ConnectRefused::MissingToken)?;
            let claims = sessions
                .verify(token.trim())
                .map_err(|_| ConnectRefused::InvalidToken)?;
            let session = sessions.check(&claims).await.map_err(|e| match e {
                SessionError::Store(_) => ConnectRefused::Unavailable,
                _ => ConnectRefused::InvalidToken,
            })?;
            // Join the rooms here, before the client is told it is connected: a notification
            // emitted the moment it hears so must find it in them. (The connect handler runs
            // after the client has been told.)
            s.join(rooms_of(&session.principal));
            s.extensions.insert(session.principal);
            s.extensions.insert(claims);
            Ok::<(), ConnectRefused>(())
        }
    };
    io.ns("/", on_connect.with(authenticate));
    (layer, io)
}

/// The rooms of a signed-in user.
fn rooms_of(principal: &Principal) -> Vec<String> {
    let mut rooms = vec![user_room(principal.id)];
    match principal.role {
        Role::Agent => rooms.push(agent_room(principal.id)),
        Role::Admin => rooms.push(ADMIN_ROOM.to_owned()),
        Role::Customer => {}
    }
    rooms
}

/// Counts the socket (its rooms were joined during the handshake).
async fn on_connect(s: SocketRef) {
    let Some(principal) = s.extensions.get::<Principal>() else {
        warn!(socket = %s.id, "socket without a principal; disconnecting");
        let _ = s.disconnect();
        return;
    };
    debug!(socket = %s.id, user_id = %principal.id, "socket connected");
    metrics::gauge!("quickfix_live_sockets").increment(1.0);
    s.on_disconnect(async || {
        metrics::gauge!("quickfix_live_sockets").decrement(1.0);
    });
}

/// Every `every`, disconnects the sockets whose session has ended: the token expired, or the
/// account is gone, disabled, demoted, or signed out everywhere. A socket whose session cannot
/// be checked (the store is down) stays; it is checked again next round. Runs until `shutdown`.
pub async fn close_ended_sessions(
    io: SocketIo,
    sessions: Arc<Sessions>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        for socket in io.sockets() {
            let Some(claims) = socket.extensions.get::<TokenClaims>() else {
                continue;
            };
            let still = sessions.check(&claims).await;
            let role_now = still.as_ref().ok().map(|s| s.principal.role);
            let role_then = socket.extensions.get::<Principal>().map(|p| p.role);
            let ended = matches!(still, Err(SessionError::InvalidToken | SessionError::Ended))
                || (role_now.is_some() && role_now != role_then);
            if ended {
                info!(socket = %socket.id, user_id = %claims.user, "session ended; closing its socket");
                let _ = socket.emit("sessionEnded", &serde_json::json!({"reason": "signed out"}));
                let _ = socket.disconnect();
            }
        }
    }
}

/// A notification as a socket receives it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationPayload<'a> {
    id: &'a str,
    kind: String,
    message: &'a str,
    /// The ticket (or agent) summary.
    data: &'a Value,
    event_id: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// Delivers to this process's sockets.
pub struct SocketSink {
    io: SocketIo,
}

impl SocketSink {
    /// A sink emitting through `io`.
    pub fn new(io: SocketIo) -> Self {
        Self { io }
    }
}

#[async_trait]
impl LiveSink for SocketSink {
    async fn notify(&self, n: &Notification) {
        let payload = NotificationPayload {
            id: &n.id,
            kind: n.kind.to_string(),
            message: &n.message,
            data: &n.data,
            event_id: n.event_id.to_string(),
            created_at: n.created_at,
        };
        let kind = n.kind.as_str();
        if let Err(err) = self
            .io
            .to(user_room(n.recipient))
            .emit(kind, &payload)
            .await
        {
            warn!(error = %err, notification = %n.id, "could not emit a notification");
        }
    }

    async fn ticket_changed(&self, t: &Ticket) {
        let mut rooms = vec![ADMIN_ROOM.to_owned(), user_room(t.requester)];
        rooms.extend(t.assignee.map(agent_room));
        if let Err(err) = self.io.to(rooms).emit("ticketChanged", &t.summary()).await {
            warn!(error = %err, ticket_id = %t.id, "could not emit a ticket change");
        }
    }
}
