//! `/api/auth`: customer registration and sign-in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::input::required;
use super::views::{SessionView, UserView};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::{decoy_hash, hash_password, verify_password};
use crate::domain::{
    AgentProfile, Email, Password, PersonName, Role, User, UserId, ValidationError,
};

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
}

/// Body of `POST /api/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Display name.
    pub name: Option<String>,
    /// Sign-in email.
    pub email: Option<String>,
    /// 8 to 128 characters.
    pub password: Option<String>,
}

/// Creates a customer account and signs it in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = SessionView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let account = NewAccount::parse(&body.name, &body.email, &body.password)?;
    let user = account.into_user(&state, Role::Customer, None).await?;
    state.store.insert_user(&user, &[]).await?;
    Ok((StatusCode::CREATED, Json(session(&state, &user))))
}

/// Body of `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Sign-in email.
    pub email: Option<String>,
    /// Password.
    pub password: Option<String>,
}

/// Exchanges email and password for a bearer token.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<SessionView>, ApiError> {
    let email = required("email", &body.email)?.trim().to_lowercase();
    let password = required("password", &body.password)?.to_owned();
    let user = state.store.find_user_by_email(&email).await?;
    // Check a decoy hash for unknown emails so both failures take the same time.
    let hash = user
        .as_ref()
        .map_or_else(|| decoy_hash().clone(), |u| u.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check panicked: {e}")))?;
    match user {
        Some(user) if matches => Ok(Json(session(&state, &user))),
        _ => Err(ApiError::Unauthorized("wrong email or password")),
    }
}

/// The identity every new account has, validated.
pub(crate) struct NewAccount {
    name: PersonName,
    email: Email,
    password: Password,
}

impl NewAccount {
    /// Validates the name, email and password fields of a request.
    pub(crate) fn parse(
        name: &Option<String>,
        email: &Option<String>,
        password: &Option<String>,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            name: PersonName::parse(required("name", name)?)?,
            email: Email::parse(required("email", email)?)?,
            password: Password::parse(required("password", password)?)?,
        })
    }

    /// Builds the user (not yet stored): refuses a taken email, then hashes the password on the
    /// blocking pool, since argon2 takes tens of milliseconds of CPU by design.
    pub(crate) async fn into_user(
        self,
        state: &AppState,
        role: Role,
        agent: Option<AgentProfile>,
    ) -> Result<User, ApiError> {
        if state
            .store
            .find_user_by_email(self.email.as_str())
            .await?
            .is_some()
        {
            return Err(ApiError::conflict_on(
                "email",
                "email is already registered",
            ));
        }
        let password = self.password;
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| ApiError::Internal(format!("password hashing panicked: {e}")))?;
        Ok(User {
            id: UserId::generate(),
            name: self.name,
            email: self.email,
            role,
            password_hash,
            agent,
            created_at: state.clock.now(),
            revision: 0,
        })
    }
}

fn session(state: &AppState, user: &User) -> SessionView {
    SessionView {
        token: state.tokens.issue(user),
        expires_in: state.tokens.ttl().as_secs(),
        user: UserView::from(user),
    }
}
