use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::bounded_text;
use super::event::payload::AgentAvailabilityChanged;
use super::named::named_enum;
use super::{Category, Envelope, Event, EventMetadata, OrganizationId, TicketId, ValidationError};
use std::str::FromStr;

/// A user's id (customers, agents and admins share one id space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(Uuid);

impl UserId {
    /// A fresh id.
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
            .map_err(|_| ValidationError::new(field, "is not a user id"))
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

super::named::text_serde!(UserId, |s| UserId::parse("id", s), {
    "type": "string", "format": "uuid", "description": "A user's id"
});

/// An email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Validates the shape `local@domain.tld` (the rest is the mail server's business).
    /// Lengths are in characters, like every other limit of the API (and of its OpenAPI
    /// document, where a length can only be stated in characters).
    ///
    /// # Errors
    /// If the address is longer than 254 characters, has spaces, or lacks a local part (of at
    /// most 64 characters), an `@` or a dotted domain.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let email = raw.trim().to_lowercase();
        let invalid = || ValidationError::new("email", "is not a valid email address");
        if email.is_empty()
            || email.chars().count() > 254
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || local.chars().count() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Validates a name.
    ///
    /// # Errors
    /// If it is empty or longer than 100 characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        bounded_text("name", raw, 1, 100).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text password on its way to being hashed: 8 to 128 characters.
///
/// Deliberately not `Debug`-printable with its content.
pub struct Password(String);

impl Password {
    /// Validates the length only: long passphrases beat composition rules.
    ///
    /// # Errors
    /// If it is shorter than 8 or longer than 128 characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let n = raw.chars().count();
        if n < 8 {
            return Err(ValidationError::new(
                "password",
                "must be at least 8 characters",
            ));
        }
        if n > 128 {
            return Err(ValidationError::new(
                "password",
                "must be at most 128 characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret text, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An argon2 PHC string.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by the hasher or read from the store.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

named_enum!(
    /// What a user may do.
    Role, "role" {
        /// Opens tickets and sees their own.
        Customer = "customer",
        /// Works tickets assigned to them.
        Agent = "agent",
        /// Manages agents and sees everything.
        Admin = "admin",
    }
);

named_enum!(
    /// An agent's seniority, used by escalation (agent, then senior, then manager).
    Tier, "tier" {
        /// First line.
        Agent = "agent",
        /// Second line.
        Senior = "senior",
        /// Last line; notified of escalations.
        Manager = "manager",
    }
);

named_enum!(
    /// Whether an agent is working; set by the agent or an admin.
    Presence, "presence" {
        /// Working and taking tickets.
        Online = "online",
        /// Not working.
        Offline = "offline",
    }
);

named_enum!(
    /// Derived from presence and free slots; never stored.
    Availability, "availability" {
        /// Online with a free slot.
        Available = "available",
        /// Online, every slot taken.
        Busy = "busy",
        /// Not working.
        Offline = "offline",
    }
);

/// A slot an agent holds for one ticket.
///
/// Slots are held per ticket, not just counted, so giving one back is idempotent: releasing the
/// slot for ticket T a second time (a redelivered `ticket.resolved`) finds nothing to release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotHold {
    /// The ticket the slot is held for.
    pub ticket: TicketId,
    /// When the slot was taken.
    pub since: DateTime<Utc>,
}

/// The routing side of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentProfile {
    /// Categories the agent takes.
    pub skills: Vec<Category>,
    /// Seniority.
    pub tier: Tier,
    /// How many tickets the agent holds at once.
    pub capacity: u32,
    /// Online or offline.
    pub presence: Presence,
    /// `capacity` minus the slots held; changed only by atomic claims and releases.
    pub free_slots: u32,
    /// The slots held, one per ticket; changed with `free_slots` in the same atomic update.
    pub holds: Vec<SlotHold>,
    /// When the agent last got a ticket, for longest-idle-first routing.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl AgentProfile {
    /// Largest capacity accepted.
    pub const MAX_CAPACITY: u32 = 50;

    /// A new agent: offline, all slots free.
    ///
    /// # Errors
    /// If there are no skills, or capacity is 0 or above [`Self::MAX_CAPACITY`].
    pub fn new(skills: Vec<Category>, tier: Tier, capacity: u32) -> Result<Self, ValidationError> {
        if skills.is_empty() {
            return Err(ValidationError::new(
                "skills",
                "at least one category is required",
            ));
        }
        if capacity == 0 || capacity > Self::MAX_CAPACITY {
            return Err(ValidationError::new(
                "capacity",
                format!("must be between 1 and {}", Self::MAX_CAPACITY),
            ));
        }
        Ok(Self {
            skills,
            tier,
            capacity,
            presence: Presence::Offline,
            free_slots: capacity,
            holds: Vec::new(),
            last_assigned_at: None,
        })
    }

    /// `available` (online with a free slot), `busy` (online, full) or `offline`.
    pub fn availability(&self) -> Availability {
        match (self.presence, self.free_slots) {
            (Presence::Offline, _) => Availability::Offline,
            (Presence::Online, 0) => Availability::Busy,
            (Presence::Online, _) => Availability::Available,
        }
    }

    /// Tickets the agent holds now.
    pub fn active_tickets(&self) -> u32 {
        self.capacity.saturating_sub(self.free_slots)
    }

    /// Whether the agent takes tickets of `category`.
    pub fn has_skill(&self, category: &Category) -> bool {
        self.skills.contains(category)
    }
}

/// A person who can sign in.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Display name.
    pub name: PersonName,
    /// Sign-in email, unique.
    pub email: Email,
    /// Role.
    pub role: Role,
    /// argon2 hash of the password.
    pub password_hash: PasswordHash,
    /// Present exactly when `role` is `Agent`.
    pub agent: Option<AgentProfile>,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// A disabled account cannot sign in and its tokens stop working; its tickets and history
    /// stay.
    pub disabled: bool,
    /// Bumped by a password change and by "sign out everywhere": tokens issued under an
    /// earlier value stop working.
    pub session_version: u32,
    /// The organization a customer belongs to, if any: its plan and region set the SLA of the
    /// tickets they open.
    pub organization: Option<OrganizationId>,
    /// Bumped by the store on every write; updates are conditional on it.
    pub revision: u64,
}

impl User {
    /// A new, enabled account (not yet stored). `agent` must be present exactly when `role` is
    /// `Agent`.
    pub fn new(
        name: PersonName,
        email: Email,
        role: Role,
        password_hash: PasswordHash,
        agent: Option<AgentProfile>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: UserId::generate(),
            name,
            email,
            role,
            password_hash,
            agent,
            created_at: now,
            disabled: false,
            session_version: 0,
            organization: None,
            revision: 0,
        }
    }

    /// Gives the account `role`. Only customers belong to organizations: any other role leaves
    /// its organization.
    pub fn change_role(&mut self, role: Role) {
        self.role = role;
        if role != Role::Customer {
            self.organization = None;
        }
    }

    /// Puts a customer in `organization`, or (with `None`) takes them out.
    ///
    /// # Errors
    /// When the account is not a customer's.
    pub fn join_organization(
        &mut self,
        organization: Option<OrganizationId>,
    ) -> Result<(), &'static str> {
        if self.role != Role::Customer {
            return Err("only customers belong to organizations");
        }
        self.organization = organization;
        Ok(())
    }

    /// Ends every session: tokens issued before stop working.
    pub fn end_sessions(&mut self) {
        self.session_version = self.session_version.wrapping_add(1);
    }

    /// Sets an agent's presence and returns the `agent.availability_changed` event, or `None`
    /// when nothing changed (or the user is not an agent).
    pub fn set_presence(
        &mut self,
        presence: Presence,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Option<Envelope> {
        let agent = self.agent.as_mut()?;
        if agent.presence == presence {
            return None;
        }
        let previous = agent.availability();
        agent.presence = presence;
        Some(Envelope::new(
            Event::AgentAvailabilityChanged(AgentAvailabilityChanged {
                agent_id: self.id,
                name: self.name.as_str().to_owned(),
                presence,
                availability: agent.availability(),
                previous_availability: previous,
                free_slots: agent.free_slots,
                capacity: agent.capacity,
                skills: agent.skills.iter().map(|s| s.as_str().to_owned()).collect(),
                tier: agent.tier,
            }),
            meta,
            now,
        ))
    }
}

/// Who is making a request, as proven by their token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The user's id.
    pub id: UserId,
    /// The user's role.
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Categories;
    use proptest::prelude::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@@example.com",
            "ann@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn availability_is_derived_from_presence_and_slots() {
        let skills = vec![Categories::default().parse("skills", "Billing").unwrap()];
        let mut p = AgentProfile::new(skills, Tier::Agent, 2).unwrap();
        assert_eq!(p.availability(), Availability::Offline);
        p.presence = Presence::Online;
        assert_eq!(p.availability(), Availability::Available);
        p.free_slots = 0;
        assert_eq!(p.availability(), Availability::Busy);
        assert_eq!(p.active_tickets(), 2);
    }

    #[test]
    fn capacity_and_skills_are_required() {
        let skills = vec![Categories::default().parse("skills", "Billing").unwrap()];
        assert_eq!(
            AgentProfile::new(vec![], Tier::Agent, 1).unwrap_err().field,
            "skills"
        );
        assert_eq!(
            AgentProfile::new(skills.clone(), Tier::Agent, 0)
                .unwrap_err()
                .field,
            "capacity"
        );
        assert_eq!(
            AgentProfile::new(skills, Tier::Agent, 51)
                .unwrap_err()
                .field,
            "capacity"
        );
    }

    proptest! {
        #[test]
        fn parsed_emails_have_one_at_and_no_spaces(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
                prop_assert!(!e.as_str().chars().any(char::is_whitespace));
                prop_assert_eq!(e.as_str().to_lowercase(), e.as_str());
            }
        }
    }
}
