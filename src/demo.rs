//! Demo accounts for `quickfix dev`: an admin, two customers, three online agents with
//! different skills.

use std::fmt::Write as _;
use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::hash_password;
use crate::domain::{
    AgentProfile, Categories, Clock, Email, EventMetadata, Password, PersonName, Presence, Role,
    Tier, User, ValidationError,
};
use crate::store::{Store, StoreError};

/// A demo account that was created.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// Sign-in email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// For agents: their skills.
    pub skills: Vec<String>,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo password or a category is not acceptable.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the demo accounts (skipping any that exist) and returns them.
///
/// # Errors
/// When the password is too short or the store refuses.
pub async fn seed(
    store: &dyn Store,
    categories: &Categories,
    clock: &dyn Clock,
    password: &SecretString,
) -> Result<Vec<DemoAccount>, DemoError> {
    let password = Password::parse(password.expose_secret())
        .map_err(|e| ValidationError::new("QUICKFIX_DEMO_PASSWORD", e.message))?;
    let hash = hash_password(&password);
    let names = categories.names();
    let pick = |wanted: &[&str]| -> Vec<String> {
        let chosen: Vec<String> = wanted
            .iter()
            .filter(|w| names.iter().any(|n| n.eq_ignore_ascii_case(w)))
            .map(|w| (*w).to_owned())
            .collect();
        if chosen.is_empty() {
            vec![names[0].to_owned()]
        } else {
            chosen
        }
    };
    let all: Vec<&str> = names.clone();
    let people: Vec<(&str, &str, Role, Vec<String>, Tier)> = vec![
        (
            "Ada Admin",
            "admin@quickfix.dev",
            Role::Admin,
            vec![],
            Tier::Manager,
        ),
        (
            "Carla Customer",
            "customer1@quickfix.dev",
            Role::Customer,
            vec![],
            Tier::Agent,
        ),
        (
            "Colin Customer",
            "customer2@quickfix.dev",
            Role::Customer,
            vec![],
            Tier::Agent,
        ),
        (
            "Ana Agent",
            "agent1@quickfix.dev",
            Role::Agent,
            pick(&["Technical", "Account"]),
            Tier::Agent,
        ),
        (
            "Ben Agent",
            "agent2@quickfix.dev",
            Role::Agent,
            pick(&["Billing", "General"]),
            Tier::Agent,
        ),
        (
            "Sam Senior",
            "agent3@quickfix.dev",
            Role::Agent,
            pick(&all),
            Tier::Senior,
        ),
    ];
    let mut created = Vec::new();
    for (name, email, role, skills, tier) in people {
        if store.find_user_by_email(email).await?.is_some() {
            continue;
        }
        let agent = if role == Role::Agent {
            let skills = skills
                .iter()
                .map(|s| categories.parse("skills", s))
                .collect::<Result<Vec<_>, _>>()?;
            Some(AgentProfile::new(skills, tier, 1)?)
        } else {
            None
        };
        let mut user = User::new(
            PersonName::parse(name)?,
            Email::parse(email)?,
            role,
            hash.clone(),
            agent,
            clock.now(),
        );
        let meta = EventMetadata::system("demo-seed");
        let events: Vec<_> = user
            .set_presence(Presence::Online, clock.now(), meta)
            .into_iter()
            .collect();
        store.insert_user(&user, &events).await?;
        created.push(DemoAccount {
            email: email.to_owned(),
            role,
            skills,
        });
    }
    Ok(created)
}

/// The start-up text: where to point a browser or curl, and the demo logins.
pub fn banner(addr: SocketAddr, accounts: &[DemoAccount], password: &SecretString) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nQuickFix dev is running on embedded backends (nothing is saved)."
    );
    let _ = writeln!(
        out,
        "  Dashboard: http://{addr}/dashboard  (live, over Socket.IO)"
    );
    let _ = writeln!(out, "  API:      http://{addr}/api/complaints");
    let _ = writeln!(out, "  OpenAPI:  http://{addr}/openapi.json");
    let _ = writeln!(out, "  Metrics:  http://{addr}/metrics");
    let _ = writeln!(
        out,
        "\nDemo accounts (password: {}):",
        password.expose_secret()
    );
    for a in accounts {
        let skills = if a.skills.is_empty() {
            String::new()
        } else {
            format!("  skills: {}", a.skills.join(", "))
        };
        let _ = writeln!(out, "  {:<26} {:<9}{}", a.email, a.role.as_str(), skills);
    }
    let _ = writeln!(
        out,
        "\nTry:\n  TOKEN=$(curl -s localhost:{port}/api/auth/login -H 'content-type: application/json' \\\n    -d '{{\"email\":\"customer1@quickfix.dev\",\"password\":\"{pw}\"}}' | jq -r .token)\n  curl -s localhost:{port}/api/complaints -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n    -d '{{\"title\":\"Test Ticket\",\"description\":\"Testing event-driven assignment\",\"category\":\"Technical\"}}'",
        port = addr.port(),
        pw = password.expose_secret()
    );
    out
}
