//! `/api/auth`: customer registration, sign-in, password change and "sign out everywhere".

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, Auth};
use super::input::required;
use super::users::modify_user;
use super::views::{SessionView, UserView};
use super::{ApiError, AppState, ErrorBody, Guards, schema};
use crate::auth::decoy_hash;
use crate::domain::{AgentProfile, Email, Password, PersonName, Role, User, ValidationError};

/// The account routes; registration and sign-in are rate-limited per client address.
pub fn router(guards: &Guards) -> OpenApiRouter<AppState> {
    let limited = OpenApiRouter::default()
        .routes(routes!(register))
        .routes(routes!(login))
        .route_layer(guards.sign_in_layer());
    OpenApiRouter::default()
        .merge(limited)
        .routes(routes!(change_password))
        .routes(routes!(sign_out_everywhere))
}

/// Body of `POST /api/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Display name.
    #[schema(required = true, schema_with = schema::person_name)]
    pub name: Option<String>,
    /// Sign-in email.
    #[schema(required = true, schema_with = schema::email)]
    pub email: Option<String>,
    /// 8 to 128 characters.
    #[schema(required = true, schema_with = schema::password)]
    pub password: Option<String>,
}

/// Creates a customer account and signs it in.
#[utoipa::path(post, path = "/api/auth/register", operation_id = "register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = SessionView),
        (status = 409, body = ErrorBody, description = "The email is already registered")))]
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
    #[schema(required = true, schema_with = schema::any_text)]
    pub email: Option<String>,
    /// Password.
    #[schema(required = true, schema_with = schema::any_text)]
    pub password: Option<String>,
}

/// Exchanges email and password for a bearer token. After a few failures on one account,
/// that account's sign-ins are refused (429) until its next attempt is earned.
#[utoipa::path(post, path = "/api/auth/login", operation_id = "signIn", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionView),
        (status = 401, body = ErrorBody, description = "Wrong email or password",
            headers(("WWW-Authenticate" = String))),
        (status = 403, body = ErrorBody, description = "The account is disabled")))]
async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<SessionView>, ApiError> {
    let email = required("email", &body.email)?.trim().to_lowercase();
    let password = required("password", &body.password)?.to_owned();
    let failures = state.guards.failed_sign_ins();
    if let Some(retry_after) = failures.wait(&email) {
        metrics::counter!("quickfix_rate_limited_total", "limit" => "account").increment(1);
        return Err(ApiError::TooManyRequests { retry_after });
    }
    let user = state.store.find_user_by_email(&email).await?;
    // Check a decoy hash for unknown emails so both failures take the same time.
    let hash = user
        .as_ref()
        .map_or_else(|| decoy_hash().clone(), |u| u.password_hash.clone());
    let matches = state.passwords.verify(password, hash).await?;
    match user {
        Some(user) if matches && user.disabled => {
            Err(ApiError::forbidden("this account is disabled"))
        }
        Some(user) if matches => Ok(Json(session(&state, &user))),
        _ => {
            failures.record(&email);
            Err(ApiError::Unauthorized("wrong email or password"))
        }
    }
}

/// Body of `POST /api/auth/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    /// The password now.
    #[schema(required = true, schema_with = schema::any_text)]
    pub current_password: Option<String>,
    /// The new one, 8 to 128 characters.
    #[schema(required = true, schema_with = schema::password)]
    pub new_password: Option<String>,
}

/// Changes the caller's password. Every token issued before stops working; the answer is a
/// new session for this client. A wrong current password is refused (403) and counts as a
/// failed sign-in of the account.
#[utoipa::path(post, path = "/api/auth/password", operation_id = "changePassword", tag = "auth", request_body = PasswordChange,
    security(("bearer" = [])),
    responses((status = 200, body = SessionView),
        (status = 403, body = ErrorBody,
            description = "`currentPassword` is not the current password"),
        (status = 409, body = ErrorBody,
            description = "The account changed concurrently several times; try again")))]
async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<SessionView>, ApiError> {
    let current = required("currentPassword", &body.current_password)?.to_owned();
    let new = Password::parse(required("newPassword", &body.new_password)?)
        .map_err(|e| ValidationError::new("newPassword", e.message))?;
    let user = state
        .store
        .find_user(auth.0.id)
        .await?
        .ok_or(ApiError::Unauthorized(
            "the session has ended; sign in again",
        ))?;
    let failures = state.guards.failed_sign_ins();
    if let Some(retry_after) = failures.wait(user.email.as_str()) {
        return Err(ApiError::TooManyRequests { retry_after });
    }
    if !state
        .passwords
        .verify(current, user.password_hash.clone())
        .await?
    {
        failures.record(user.email.as_str());
        return Err(ApiError::forbidden_on(
            "currentPassword",
            "currentPassword is not the current password",
        ));
    }
    let hash = state.passwords.hash(new).await?;
    let user = modify_user(&state, auth.0.id, |user| {
        user.password_hash = hash.clone();
        user.end_sessions();
        Ok(Vec::new())
    })
    .await?;
    Ok(Json(session(&state, &user)))
}

/// Ends every session of the caller: all their tokens stop working, this one included.
#[utoipa::path(post, path = "/api/auth/logout-all", operation_id = "signOutEverywhere", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out everywhere"),
        (status = 409, body = ErrorBody,
            description = "The account changed concurrently several times; try again")))]
async fn sign_out_everywhere(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<StatusCode, ApiError> {
    modify_user(&state, auth.0.id, |user| {
        user.end_sessions();
        Ok(Vec::new())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
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

    /// Builds the user (not yet stored): refuses a taken email, then hashes the password in a
    /// bounded slot, since argon2 takes tens of milliseconds of CPU and 19 MiB by design.
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
        let password_hash = state.passwords.hash(self.password).await?;
        Ok(User::new(
            self.name,
            self.email,
            role,
            password_hash,
            agent,
            state.clock.now(),
        ))
    }
}

fn session(state: &AppState, user: &User) -> SessionView {
    SessionView {
        token: state.sessions.issue(user),
        expires_in: state.sessions.ttl().as_secs(),
        user: UserView::from(user),
    }
}
