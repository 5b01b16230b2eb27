//! Organizations: the companies customers belong to, each with the plan and region its
//! tickets' SLA runs on.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ValidationError;
use super::error::bounded_text;
use super::sla::{SlaPolicy, SlaTerms, check_term_name};

/// At most this many characters in an organization's name.
pub const MAX_ORGANIZATION_NAME: usize = 100;

/// An organization's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrganizationId(Uuid);

impl OrganizationId {
    /// A fresh id (time-ordered).
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses the hyphenated form, reporting errors against `field`.
    ///
    /// # Errors
    /// If `s` is not a UUID.
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| ValidationError::new(field, "is not an organization id"))
    }
}

impl fmt::Display for OrganizationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

super::named::text_serde!(OrganizationId, |s| OrganizationId::parse("id", s), {
    "type": "string", "format": "uuid", "description": "An organization's id"
});

/// A customer organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Id.
    pub id: OrganizationId,
    /// Display name, unique (ignoring case).
    pub name: String,
    /// Its tickets' SLA plan; `None` for the default targets.
    pub plan: Option<String>,
    /// Its tickets' business-calendar region; `None` for the default calendar.
    pub region: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl Organization {
    /// A new organization (not yet stored), its plan and region checked against `policy`.
    ///
    /// # Errors
    /// On an empty or over-long name (`name`), or a plan or region the SLA policy does not
    /// define (`plan`, `region`).
    pub fn new(
        name: &str,
        plan: Option<&str>,
        region: Option<&str>,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        let name = bounded_text("name", name, 1, MAX_ORGANIZATION_NAME)?;
        Ok(Self {
            id: OrganizationId::generate(),
            name,
            plan: plan
                .map(|p| known("plan", p, policy.has_plan(p), policy.plans()))
                .transpose()?,
            region: region
                .map(|r| known("region", r, policy.has_region(r), policy.regions()))
                .transpose()?,
            created_at: now,
        })
    }

    /// The terms its customers' new tickets run on.
    pub fn terms(&self) -> SlaTerms {
        SlaTerms {
            plan: self.plan.clone(),
            region: self.region.clone(),
        }
    }

    /// The name as uniqueness compares it.
    pub fn name_key(&self) -> String {
        self.name.to_lowercase()
    }
}

/// `value` when the policy knows it; otherwise an error listing what it knows.
fn known<'a>(
    field: &str,
    value: &str,
    exists: bool,
    names: impl Iterator<Item = &'a str>,
) -> Result<String, ValidationError> {
    check_term_name(field, value)?;
    if exists {
        return Ok(value.to_owned());
    }
    let names: Vec<&str> = names.collect();
    Err(ValidationError::new(
        field,
        if names.is_empty() {
            format!("`{value}` is not defined: the SLA policy has none")
        } else {
            format!(
                "`{value}` is not defined; the SLA policy has {}",
                names.join(", ")
            )
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeDelta;

    use super::*;
    use crate::domain::{Calendar, Priority, Targets};

    fn policy() -> SlaPolicy {
        let gold = Targets {
            first_response: TimeDelta::minutes(10),
            next_reply: TimeDelta::minutes(20),
            resolution: TimeDelta::hours(2),
        };
        SlaPolicy::default()
            .with_plans(BTreeMap::from([(
                "gold".to_owned(),
                BTreeMap::from([(Priority::High, gold)]),
            )]))
            .unwrap()
            .with_regions(BTreeMap::from([("us".to_owned(), Calendar::Always)]))
            .unwrap()
    }

    #[test]
    fn an_organization_takes_only_the_policys_plans_and_regions() {
        let now = Utc::now();
        let org = Organization::new(" Acme ", Some("gold"), Some("us"), &policy(), now).unwrap();
        assert_eq!(org.name, "Acme");
        assert_eq!(
            org.terms(),
            SlaTerms {
                plan: Some("gold".into()),
                region: Some("us".into())
            }
        );
        let err = Organization::new("Acme", Some("platinum"), None, &policy(), now).unwrap_err();
        assert_eq!(err.field, "plan");
        assert!(err.message.contains("gold"), "{}", err.message);
        let err = Organization::new("Acme", None, Some("eu"), &policy(), now).unwrap_err();
        assert_eq!(err.field, "region");
        assert_eq!(
            Organization::new("  ", None, None, &policy(), now)
                .unwrap_err()
                .field,
            "name"
        );
    }
}
