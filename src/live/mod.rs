//! Live notifications: the relay that follows the notifications feed in every API process, and
//! the Socket.IO endpoint that delivers them to signed-in users' rooms.

mod relay;
mod socket;

pub use relay::{FeedSettings, LiveSink, NotificationRelay};
pub use socket::{
    ADMIN_ROOM, ConnectRefused, SocketSink, agent_room, close_ended_sessions, socket_layer,
    user_room,
};
