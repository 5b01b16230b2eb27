//! Accounts on MongoDB: the `users` collection.

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use tracing::instrument;

use super::user_doc::UserDoc;
use super::user_doc::skills_bson;
use super::{MongoStore, find_many, map_err, rev, to_document, with_events};
use crate::domain::{Envelope, Role, User, UserId};
use crate::store::{StoreResult, StoredAnswer, UserQuery, UserStore};

#[async_trait]
impl UserStore for MongoStore {
    #[instrument(skip_all, fields(user_id = %user.id))]
    async fn insert_user_answering(
        &self,
        user: &User,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let doc = to_document(&UserDoc::from_domain(user, events.to_vec()))?;
        self.insert_answering(&self.users, doc, answer, user.created_at, "email")
            .await
    }

    #[instrument(skip_all)]
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.find_user_where(doc! {"_id": id.to_string()}).await
    }

    #[instrument(skip_all)]
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.find_user_where(doc! {"email": email}).await
    }

    #[instrument(skip_all, fields(user_id = %user.id))]
    async fn update_user(&self, user: &User, events: &[Envelope]) -> StoreResult<bool> {
        let mut state = to_document(&UserDoc::from_domain(user, Vec::new()))?;
        for key in ["_id", "pendingEvents", "outboxPending", "agent"] {
            state.remove(key);
        }
        if let Some(agent) = &user.agent {
            // Slot counters change only through take_slot/release_slot.
            state.insert("agent.skills", skills_bson(&agent.skills));
            state.insert("agent.tier", agent.tier.as_str());
            state.insert("agent.capacity", i64::from(agent.capacity));
            state.insert("agent.presence", agent.presence.as_str());
        }
        state.insert("revision", rev(user.revision + 1));
        let result = self
            .users
            .update_one(
                doc! {"_id": user.id.to_string(), "revision": rev(user.revision)},
                with_events(state, events)?,
            )
            .await
            .map_err(map_err)?;
        Ok(result.matched_count == 1)
    }

    #[instrument(skip_all)]
    async fn list_users(&self, role: Role) -> StoreResult<Vec<User>> {
        let filter = doc! {"role": role.as_str()};
        find_many(&self.users, filter, doc! {"_id": 1}, None)
            .await?
            .into_iter()
            .map(UserDoc::into_domain)
            .collect()
    }

    #[instrument(skip_all)]
    async fn page_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let mut filter = doc! {};
        if let Some(role) = query.role {
            filter.insert("role", role.as_str());
        }
        if let Some(after) = query.after {
            filter.insert("_id", doc! {"$gt": after.to_string()});
        }
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        find_many(&self.users, filter, doc! {"_id": 1}, Some(limit))
            .await?
            .into_iter()
            .map(UserDoc::into_domain)
            .collect()
    }
}

impl MongoStore {
    /// The user matching `filter`, without its outbox.
    pub(super) async fn find_user_where(&self, filter: Document) -> StoreResult<Option<User>> {
        self.users
            .find_one(filter)
            .projection(doc! {"pendingEvents": 0})
            .await
            .map_err(map_err)?
            .map(UserDoc::into_domain)
            .transpose()
    }
}
