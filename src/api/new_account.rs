//! Creating an account, for `POST /api/agents` and `POST /api/users`: the fields both bodies
//! carry, and the one flow that checks, stores and announces the account.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::accounts::NewAccount;
use super::extract::{Auth, Correlation};
use super::idempotency::{IdempotencyKey, answer_once, replay_if_answered};
use super::input::whole_number;
use super::views::UserView;
use super::{ApiError, AppState};
use crate::domain::{AgentProfile, Presence, Role, Tier, ValidationError};

/// The body of a request that creates an account: `POST /api/users` takes it whole,
/// `POST /api/agents` without `role`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountFields {
    /// Display name, 1 to 100 characters.
    pub name: Option<String>,
    /// Sign-in email.
    pub email: Option<String>,
    /// 8 to 128 characters. (Not part of an `Idempotency-Key`'s fingerprint, which is stored.)
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// customer, agent or admin (`POST /api/users` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Agents only: categories the agent takes (at least one).
    pub skills: Option<Vec<String>>,
    /// Agents only: agent (default), senior or manager.
    pub tier: Option<String>,
    /// Agents only: tickets held at once, 1 to 50 (default 1).
    #[serde(default, deserialize_with = "whole_number")]
    pub capacity: Option<u32>,
    /// Agents only: online or offline (default).
    pub presence: Option<String>,
}

impl AccountFields {
    fn profile(&self, state: &AppState) -> Result<(AgentProfile, Presence), ApiError> {
        let skills = self
            .skills
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|s| state.categories.parse("skills", s))
            .collect::<Result<Vec<_>, _>>()?;
        let tier = self
            .tier
            .as_deref()
            .map(|t| Tier::parse_field("tier", t))
            .transpose()?
            .unwrap_or(Tier::Agent);
        let profile = AgentProfile::new(skills, tier, self.capacity.unwrap_or(1))?;
        let presence = self
            .presence
            .as_deref()
            .map(|p| Presence::parse_field("presence", p))
            .transpose()?
            .unwrap_or(Presence::Offline);
        Ok((profile, presence))
    }

    fn any(&self) -> bool {
        self.skills.is_some()
            || self.tier.is_some()
            || self.capacity.is_some()
            || self.presence.is_some()
    }
}

/// Creates an account of `role` (an agent's profile from `fields`; other roles take none) and
/// stores it; an agent created online announces it, so the backlog can drain to them.
///
/// With an `Idempotency-Key`, a repeat answers what the first request answered.
pub(super) async fn create_account(
    state: &AppState,
    auth: &Auth,
    correlation: &Correlation,
    idempotency: &IdempotencyKey,
    fields: &AccountFields,
    role: Role,
) -> Result<Response, ApiError> {
    let keyed = idempotency.for_request(&auth.0.id.to_string(), fields);
    let keyed = keyed.as_ref();
    let account = NewAccount::parse(&fields.name, &fields.email, &fields.password)?;
    let now = state.clock.now();
    if let Some(first) = replay_if_answered(keyed, state, now).await? {
        return Ok(first);
    }
    let (profile, presence) = match role {
        Role::Agent => {
            let (profile, presence) = fields.profile(state)?;
            (Some(profile), Some(presence))
        }
        _ if fields.any() => {
            return Err(ValidationError::new(
                "role",
                "skills, tier, capacity and presence are for agents only",
            )
            .into());
        }
        _ => (None, None),
    };
    let mut user = account.into_user(state, role, profile).await?;
    let events: Vec<_> = presence
        .and_then(|p| user.set_presence(p, now, correlation.metadata(&auth.0)))
        .into_iter()
        .collect();
    let view = UserView::from(&user);
    let store = state.store.clone();
    let announces = !events.is_empty();
    let response = answer_once(
        keyed,
        state,
        now,
        StatusCode::CREATED,
        &view,
        |answer| async move {
            store
                .insert_user_answering(&user, &events, answer.as_ref())
                .await
        },
    )
    .await?;
    if announces {
        state.outbox.notify_one();
    }
    Ok(response)
}
