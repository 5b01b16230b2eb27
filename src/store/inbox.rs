//! The [`Inbox`] port and the types it speaks in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{Notification, UserId};

/// A position in the notifications feed that a watch resumes after (opaque; the embedded
/// store's in-process feed has none).
#[derive(Debug, Clone)]
pub struct ResumeToken(pub(crate) Option<mongodb::change_stream::event::ResumeToken>);

/// New notifications as the database announces them, each with the position after it.
pub type NotificationStream =
    futures::stream::BoxStream<'static, StoreResult<(Notification, ResumeToken)>>;

/// Notifications: stored once per id, listed per recipient, pushed live where the database can.
#[async_trait]
pub trait Inbox: Send + Sync + 'static {
    /// Stores notifications; one already stored (same id) is skipped, so redelivered events
    /// notify once.
    async fn insert_notifications(&self, notifications: &[Notification]) -> StoreResult<()>;

    /// Notifications of `recipient` (of everyone when `None`: the live relay's feed), oldest
    /// first, made after `since` if given, at most `limit`.
    async fn list_notifications(
        &self,
        recipient: Option<UserId>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>>;

    /// New notifications as they are written, after `resume` if given (a MongoDB change
    /// stream, or the embedded store's in-process broadcast); `None` when the store cannot
    /// push them, and the relay polls instead.
    async fn watch_notifications(
        &self,
        _resume: Option<ResumeToken>,
    ) -> StoreResult<Option<NotificationStream>> {
        Ok(None)
    }

    /// Marks one of `user`'s notifications read; `false` if `user` has no such notification.
    async fn mark_notification_read(
        &self,
        user: UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
