//! Live notifications: the relay that follows the notifications feed in every API process, and
//! the Socket.IO endpoint that delivers them to signed-in users' rooms.

mod relay;

pub use relay::{FeedSettings, LiveSink, NotificationRelay};
