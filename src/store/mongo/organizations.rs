//! Organizations on MongoDB: the `organizations` collection, unique on the lower-cased name.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::{MongoStore, bson_time, chrono_time, conflict_on, corrupt, find_many, map_err};
use crate::domain::{Organization, OrganizationId};
use crate::store::{Organizations, StoreResult};

/// One organization.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrganizationDoc {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    /// `name` lower-cased: the unique index.
    name_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    created_at: bson::DateTime,
}

impl OrganizationDoc {
    fn from_domain(o: &Organization) -> Self {
        Self {
            id: o.id.to_string(),
            name: o.name.clone(),
            name_key: o.name_key(),
            plan: o.plan.clone(),
            region: o.region.clone(),
            created_at: bson_time(o.created_at),
        }
    }

    fn into_domain(self) -> StoreResult<Organization> {
        let created_at: DateTime<Utc> = chrono_time(self.created_at);
        Ok(Organization {
            id: OrganizationId::parse("id", &self.id)
                .map_err(|e| corrupt("organization", e.to_string()))?,
            name: self.name,
            plan: self.plan,
            region: self.region,
            created_at,
        })
    }
}

#[async_trait]
impl Organizations for MongoStore {
    #[instrument(skip_all, fields(organization_id = %org.id))]
    async fn insert_organization(&self, org: &Organization) -> StoreResult<()> {
        self.organizations
            .insert_one(OrganizationDoc::from_domain(org))
            .await
            .map_err(conflict_on("name"))?;
        Ok(())
    }

    #[instrument(skip_all)]
    async fn find_organization(&self, id: OrganizationId) -> StoreResult<Option<Organization>> {
        self.organizations
            .find_one(doc! {"_id": id.to_string()})
            .await
            .map_err(map_err)?
            .map(OrganizationDoc::into_domain)
            .transpose()
    }

    #[instrument(skip_all)]
    async fn page_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: usize,
    ) -> StoreResult<Vec<Organization>> {
        let filter = match after {
            Some(after) => doc! {"_id": {"$gt": after.to_string()}},
            None => doc! {},
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        find_many(&self.organizations, filter, doc! {"_id": 1}, Some(limit))
            .await?
            .into_iter()
            .map(OrganizationDoc::into_domain)
            .collect()
    }
}
