//! Accounts in memory.

use async_trait::async_trait;

use super::{MemoryStore, Record};
use crate::domain::{Envelope, Role, User, UserId};
use crate::store::{OutboxOwner, StoreError, StoreResult, StoredAnswer, UserQuery, UserStore};

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user_answering(
        &self,
        user: &User,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        inner.check_answer(answer, user.created_at)?;
        if inner.by_email.contains_key(user.email.as_str()) {
            return Err(StoreError::Conflict { field: "email" });
        }
        inner.keep_answer(answer);
        inner
            .by_email
            .insert(user.email.as_str().to_owned(), user.id);
        inner.users.insert(
            user.id,
            Record {
                doc: user.clone(),
                outbox: events.to_vec(),
                lease: None,
            },
        );
        inner.add_events(OutboxOwner::User(user.id), events);
        Ok(())
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).map(|r| r.doc.clone()))
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let inner = self.lock();
        Ok(inner
            .by_email
            .get(email)
            .and_then(|id| inner.users.get(id))
            .map(|r| r.doc.clone()))
    }

    async fn update_user(&self, user: &User, events: &[Envelope]) -> StoreResult<bool> {
        let mut inner = self.lock();
        let Some(record) = inner.users.get_mut(&user.id) else {
            return Ok(false);
        };
        if record.doc.revision != user.revision {
            return Ok(false);
        }
        // Slot counters belong to take_slot/release_slot; keep the stored ones.
        let slots = record
            .doc
            .agent
            .as_ref()
            .map(|a| (a.free_slots, a.holds.clone(), a.last_assigned_at));
        record.doc = user.clone();
        record.doc.revision += 1;
        if let (Some(agent), Some((free, holds, last))) = (record.doc.agent.as_mut(), slots) {
            agent.free_slots = free;
            agent.holds = holds;
            agent.last_assigned_at = last;
        }
        record.outbox.extend_from_slice(events);
        inner.add_events(OutboxOwner::User(user.id), events);
        Ok(true)
    }

    async fn list_users(&self, role: Role) -> StoreResult<Vec<User>> {
        Ok(self
            .lock()
            .users
            .values()
            .filter(|r| r.doc.role == role)
            .map(|r| r.doc.clone())
            .collect())
    }

    async fn page_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let inner = self.lock();
        let mut users: Vec<User> = inner
            .users
            .values()
            .map(|r| &r.doc)
            .filter(|u| query.role.is_none_or(|r| u.role == r))
            .filter(|u| query.after.is_none_or(|after| u.id > after))
            .cloned()
            .collect();
        users.sort_by_key(|u| u.id);
        users.truncate(query.limit);
        Ok(users)
    }
}
