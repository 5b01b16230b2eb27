//! The [`UserStore`] port and the types it speaks in.

use async_trait::async_trait;

use super::{StoreResult, StoredAnswer};
use crate::domain::{Envelope, Role, User, UserId};

/// Filters and page for listing users, oldest account first.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only accounts made after this one (the cursor of the previous page).
    pub after: Option<UserId>,
    /// Page size.
    pub limit: usize,
}

/// Accounts: unique emails, conditional writes with their events, and pages by role.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a user with its events.
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::store::StoreError::Conflict) with field `email` when the email is taken.
    async fn insert_user(&self, user: &User, events: &[Envelope]) -> StoreResult<()> {
        self.insert_user_answering(user, events, None).await
    }

    /// [`UserStore::insert_user`], storing `answer` in the same write.
    ///
    /// # Errors
    /// As [`UserStore::insert_user`], and [`StoreError::Conflict`](crate::store::StoreError::Conflict) with field `Idempotency-Key`.
    async fn insert_user_answering(
        &self,
        user: &User,
        events: &[Envelope],
        answer: Option<&StoredAnswer>,
    ) -> StoreResult<()>;

    /// Finds a user by id.
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>>;

    /// Finds a user by (normalised) email.
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    /// Like [`TicketStore::update_ticket`](crate::store::TicketStore::update_ticket), for a user. Slot counters are not written: they change
    /// only
    /// through [`AgentSlots::take_slot`](crate::store::AgentSlots::take_slot) and [`AgentSlots::release_slot`](crate::store::AgentSlots::release_slot).
    async fn update_user(&self, user: &User, events: &[Envelope]) -> StoreResult<bool>;

    /// Users with `role`, oldest account first.
    async fn list_users(&self, role: Role) -> StoreResult<Vec<User>>;

    /// A page of users matching `query`, oldest account first (ids are time-ordered).
    async fn page_users(&self, query: &UserQuery) -> StoreResult<Vec<User>>;
}
