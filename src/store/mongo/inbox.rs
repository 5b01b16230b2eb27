//! Notifications on MongoDB: the `notifications` collection and its change stream.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use mongodb::bson::{Bson, Document, doc};
use tracing::instrument;

use super::notification_doc::NotificationDoc;
use super::{MongoStore, bson_time, corrupt, find_many, map_err};
use crate::domain::{Notification, UserId};
use crate::store::{Inbox, NotificationStream, ResumeToken, StoreError, StoreResult};

#[async_trait]
impl Inbox for MongoStore {
    #[instrument(skip_all, fields(count = notifications.len()))]
    async fn insert_notifications(&self, notifications: &[Notification]) -> StoreResult<()> {
        for n in notifications {
            match self
                .notifications
                .insert_one(NotificationDoc::from_domain(n))
                .await
                .map_err(map_err)
            {
                Ok(_) | Err(StoreError::Conflict { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    #[instrument(skip_all)]
    async fn list_notifications(
        &self,
        recipient: Option<UserId>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        let mut filter = Document::new();
        if let Some(user) = recipient {
            filter.insert("recipient", user.to_string());
        }
        if let Some(since) = since {
            filter.insert("createdAt", doc! {"$gt": bson_time(since)});
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        find_many(
            &self.notifications,
            filter,
            doc! {"createdAt": 1, "_id": 1},
            Some(limit),
        )
        .await?
        .into_iter()
        .map(NotificationDoc::into_domain)
        .collect()
    }

    #[instrument(skip_all)]
    async fn watch_notifications(
        &self,
        resume: Option<ResumeToken>,
    ) -> StoreResult<Option<NotificationStream>> {
        let stream = self
            .notifications
            .watch()
            .pipeline([doc! {"$match": {"operationType": "insert"}}])
            .resume_after(resume.and_then(|r| r.0))
            .await
            .map_err(map_err)?;
        let notifications = stream.map(|event| {
            let event = event.map_err(map_err)?;
            let doc = event.full_document.ok_or_else(|| {
                corrupt("notification", "insert event without its document".into())
            })?;
            Ok((doc.into_domain()?, ResumeToken(Some(event.id))))
        });
        Ok(Some(Box::pin(notifications)))
    }

    #[instrument(skip_all)]
    async fn mark_notification_read(
        &self,
        user: UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mine = doc! {"_id": id, "recipient": user.to_string()};
        let mut unread = mine.clone();
        unread.insert("readAt", Bson::Null);
        let result = self
            .notifications
            .update_one(unread, doc! {"$set": {"readAt": bson_time(now)}})
            .await
            .map_err(map_err)?;
        if result.matched_count == 1 {
            return Ok(true);
        }
        Ok(self
            .notifications
            .count_documents(mine)
            .await
            .map_err(map_err)?
            == 1)
    }
}
