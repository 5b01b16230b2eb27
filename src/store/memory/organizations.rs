//! Organizations in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::{Organization, OrganizationId};
use crate::store::{Organizations, StoreError, StoreResult};

#[async_trait]
impl Organizations for MemoryStore {
    async fn insert_organization(&self, org: &Organization) -> StoreResult<()> {
        let mut inner = self.lock();
        let key = org.name_key();
        if inner.organization_names.contains_key(&key) {
            return Err(StoreError::Conflict { field: "name" });
        }
        inner.organization_names.insert(key, org.id);
        inner.organizations.insert(org.id, org.clone());
        Ok(())
    }

    async fn find_organization(&self, id: OrganizationId) -> StoreResult<Option<Organization>> {
        Ok(self.lock().organizations.get(&id).cloned())
    }

    async fn page_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: usize,
    ) -> StoreResult<Vec<Organization>> {
        let inner = self.lock();
        let page = match after {
            Some(after) => inner
                .organizations
                .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                .map(|(_, o)| o.clone())
                .take(limit)
                .collect(),
            None => inner.organizations.values().take(limit).cloned().collect(),
        };
        Ok(page)
    }
}
