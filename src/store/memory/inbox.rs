//! Notifications in memory, pushed to this process's live relays.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{Notification, UserId};
use crate::store::{Inbox, NotificationStream, ResumeToken, StoreError, StoreResult};
use tokio::sync::broadcast;

#[async_trait]
impl Inbox for MemoryStore {
    async fn insert_notifications(&self, notifications: &[Notification]) -> StoreResult<()> {
        let mut inner = self.lock();
        for n in notifications {
            if !inner.notifications.contains_key(&n.id) {
                // No relay listening is fine: the feed keeps it.
                let _ = self.live.send(n.clone());
                inner
                    .inboxes
                    .entry(n.recipient)
                    .or_default()
                    .push(n.id.clone());
                inner.feed.insert((n.created_at, n.id.clone()));
                inner.notifications.insert(n.id.clone(), n.clone());
            }
        }
        Ok(())
    }

    async fn list_notifications(
        &self,
        recipient: Option<UserId>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        let inner = self.lock();
        let newer = |n: &&Notification| since.is_none_or(|s| n.created_at > s);
        let mut found: Vec<Notification> = match recipient {
            Some(user) => inner
                .inboxes
                .get(&user)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|id| inner.notifications.get(id))
                .filter(newer)
                .cloned()
                .collect(),
            None => {
                let from = (since.unwrap_or(DateTime::<Utc>::MIN_UTC), String::new());
                inner
                    .feed
                    .range(from..)
                    .filter_map(|(_, id)| inner.notifications.get(id))
                    .filter(newer)
                    .take(limit)
                    .cloned()
                    .collect()
            }
        };
        found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        found.truncate(limit);
        Ok(found)
    }

    async fn watch_notifications(
        &self,
        _resume: Option<ResumeToken>,
    ) -> StoreResult<Option<NotificationStream>> {
        let stream = futures::stream::unfold(self.live.subscribe(), |mut rx| async move {
            match rx.recv().await {
                Ok(n) => Some((Ok((n, ResumeToken(None))), rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some((
                    Err(StoreError::Other(format!(
                        "the live feed fell {missed} notifications behind"
                    ))),
                    rx,
                )),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        Ok(Some(Box::pin(stream)))
    }

    async fn mark_notification_read(
        &self,
        user: UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        match inner.notifications.get_mut(id) {
            Some(n) if n.recipient == user => {
                n.read_at.get_or_insert(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
