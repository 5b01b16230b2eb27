//! The Socket.IO endpoint (`/socket.io/`): a client signs in during the handshake with the same
//! bearer token as the REST API (`auth: {token}`), joins its own rooms, and receives what the
//! relay delivers there. Clients cannot join rooms themselves.
//!
//! Rooms: `user:{id}` for everyone, `agent:{id}` for agents, `role:admin` for admins.
//! Events: the notification kinds (`ticketAssigned`, `complaintUpdated`, `ticketEscalated`,
//! `slaBreached`, `agentAvailabilityChanged`) to their recipient, and `ticketChanged` (the
//! ticket's summary) to admins, the ticket's requester and its agent, for live boards.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{SocketIo, SocketIoConfig};
use tracing::{debug, warn};

use super::LiveSink;
use crate::auth::TokenKeys;
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
    /// The token did not verify.
    #[error("invalid or expired token")]
    InvalidToken,
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
pub fn socket_layer(tokens: Arc<TokenKeys>) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder()
        .with_config(SocketIoConfig::default())
        .build_layer();
    let authenticate = move |s: SocketRef, TryData(handshake): TryData<Handshake>| {
        let tokens = tokens.clone();
        async move {
            let token = handshake
                .ok()
                .and_then(|h| h.token)
                .filter(|t| !t.trim().is_empty())
                .ok_or(ConnectRefused::MissingToken)?;
            let principal = tokens
                .verify(token.trim())
                .map_err(|_| ConnectRefused::InvalidToken)?;
            s.extensions.insert(principal);
            Ok::<(), ConnectRefused>(())
        }
    };
    io.ns("/", on_connect.with(authenticate));
    (layer, io)
}

/// Joins the signed-in user's rooms.
async fn on_connect(s: SocketRef) {
    let Some(principal) = s.extensions.get::<Principal>() else {
        warn!(socket = %s.id, "socket without a principal; disconnecting");
        let _ = s.disconnect();
        return;
    };
    let mut rooms = vec![user_room(principal.id)];
    match principal.role {
        Role::Agent => rooms.push(agent_room(principal.id)),
        Role::Admin => rooms.push(ADMIN_ROOM.to_owned()),
        Role::Customer => {}
    }
    debug!(socket = %s.id, user_id = %principal.id, ?rooms, "socket connected");
    s.join(rooms);
    metrics::gauge!("quickfix_live_sockets").increment(1.0);
    s.on_disconnect(async || {
        metrics::gauge!("quickfix_live_sockets").decrement(1.0);
    });
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
