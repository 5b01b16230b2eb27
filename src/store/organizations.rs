//! The [`Organizations`] port: customer organizations, unique by name.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{Organization, OrganizationId};

/// Customer organizations: unique names (ignoring case), pages oldest first.
#[async_trait]
pub trait Organizations: Send + Sync + 'static {
    /// Inserts an organization.
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::store::StoreError::Conflict) with field `name` when
    /// another organization has the name (ignoring case).
    async fn insert_organization(&self, org: &Organization) -> StoreResult<()>;

    /// Finds an organization by id.
    async fn find_organization(&self, id: OrganizationId) -> StoreResult<Option<Organization>>;

    /// At most `limit` organizations made after `after`, oldest first (ids are time-ordered).
    async fn page_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: usize,
    ) -> StoreResult<Vec<Organization>>;
}
