//! `Idempotency-Key` on the POST routes that create or assign: a client that did not hear the
//! answer (a timeout, an API process killed mid-request) sends the request again with the same
//! key, to any API process, and gets the first answer back instead of a second ticket.
//!
//! The answer is stored in the same document write as the change it describes (the ticket or
//! the account), so a crash cannot keep one without the other. A key is scoped to its sender
//! and kept for `QUICKFIX_IDEMPOTENCY_HOURS` (default 24). The same key with another request
//! (method, path or body) is refused with 422; a repeat is answered with the stored status and
//! body and the header `Idempotent-Replayed: true`.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::domain::ValidationError;
use crate::store::{StoreError, StoredAnswer};

/// The request header.
pub use crate::store::IDEMPOTENCY_KEY;
/// The response header on a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key accepted.
const MAX_KEY_LEN: usize = 255;

/// The `Idempotency-Key` header, as the OpenAPI document describes it on the keyed routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyParams {
    /// Any unique string (e.g. a UUID), 1 to 255 visible ASCII characters: a repeat with the
    /// same key and body within the idempotency window (default 24 h) gets the first answer
    /// again, with `Idempotent-Replayed: true`, instead of a second change; the same key with
    /// another request is refused with 422 naming `Idempotency-Key`.
    #[param(rename = "Idempotency-Key", schema_with = super::schema::idempotency_key)]
    pub idempotency_key: Option<String>,
}

/// The `Idempotency-Key` of a request, if it sent one, with what identifies the request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: Option<String>,
    route: String,
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let route = format!("{} {}", parts.method, parts.uri.path());
        let Some(raw) = parts.headers.get(IDEMPOTENCY_KEY) else {
            return Ok(Self { key: None, route });
        };
        let invalid = || {
            ValidationError::new(
                IDEMPOTENCY_KEY,
                format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters, e.g. a UUID"),
            )
        };
        let key = raw.to_str().map_err(|_| invalid())?.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid().into());
        }
        Ok(Self {
            key: Some(key.to_owned()),
            route,
        })
    }
}

impl IdempotencyKey {
    /// The key as `scope` (who sent it) uses it for `body`; `None` without a key.
    pub fn for_request<T: Serialize>(&self, scope: &str, body: &T) -> Option<Idempotent> {
        let key = self.key.as_ref()?;
        let mut hash = Sha256::new();
        hash.update(self.route.as_bytes());
        hash.update(b"\n");
        hash.update(serde_json::to_vec(body).unwrap_or_default());
        Some(Idempotent {
            key: format!("{scope}:{key}"),
            fingerprint: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// A keyed request: replays its first answer, or makes the answer to store with its change.
#[derive(Debug, Clone)]
pub struct Idempotent {
    key: String,
    fingerprint: String,
}

impl Idempotent {
    /// The first answer to this key, if there is one.
    ///
    /// # Errors
    /// 422 naming `Idempotency-Key` when the key was used for another request.
    pub async fn stored(
        &self,
        state: &AppState,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredAnswer>, ApiError> {
        let Some(answer) = state.store.find_answer(&self.key, now).await? else {
            return Ok(None);
        };
        if answer.fingerprint != self.fingerprint {
            return Err(ValidationError::new(
                IDEMPOTENCY_KEY,
                "was already used for a different request; use a new key",
            )
            .into());
        }
        metrics::counter!("quickfix_idempotent_replays_total").increment(1);
        Ok(Some(answer))
    }

    /// The answer to store with the change: `status` and `body`, kept for `window`.
    pub fn answer<T: Serialize>(
        &self,
        status: StatusCode,
        body: &T,
        now: DateTime<Utc>,
        window: Duration,
    ) -> StoredAnswer {
        StoredAnswer {
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            status: status.as_u16(),
            body: serde_json::to_string(body).expect("BUG: an API view serializes"),
            expires_at: now + TimeDelta::from_std(window).unwrap_or(TimeDelta::hours(24)),
        }
    }

    /// Turns a write refused for this key (a twin request stored its answer first) into that
    /// answer; other errors pass through.
    ///
    /// # Errors
    /// The original error, or what [`Idempotent::stored`] returns.
    pub async fn after_conflict(
        &self,
        state: &AppState,
        err: StoreError,
        now: DateTime<Utc>,
    ) -> Result<StoredAnswer, ApiError> {
        if matches!(err, StoreError::Conflict { field } if field == IDEMPOTENCY_KEY)
            && let Some(answer) = self.stored(state, now).await?
        {
            return Ok(answer);
        }
        Err(err.into())
    }
}

/// The first answer to `keyed`, as a response, if the key answered before.
///
/// # Errors
/// 422 when the key was used for another request; 503 when the store is down.
pub async fn replay_if_answered(
    keyed: Option<&Idempotent>,
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Option<Response>, ApiError> {
    match keyed {
        Some(k) => Ok(k.stored(state, now).await?.as_ref().map(replay)),
        None => Ok(None),
    }
}

/// Runs `write` with the answer to store (for a keyed request) and answers `status` with
/// `view`; a write refused because a twin request answered first returns that answer.
///
/// # Errors
/// What `write` fails with.
pub async fn answer_once<T, F, Fut>(
    keyed: Option<&Idempotent>,
    state: &AppState,
    now: DateTime<Utc>,
    status: StatusCode,
    view: &T,
    write: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce(Option<StoredAnswer>) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let answer = keyed.map(|k| k.answer(status, view, now, state.idempotency_window));
    match (write(answer).await, keyed) {
        (Ok(()), _) => Ok((status, axum::Json(view)).into_response()),
        (Err(err), Some(k)) => Ok(replay(&k.after_conflict(state, err, now).await?)),
        (Err(err), None) => Err(err.into()),
    }
}

/// A stored answer as a response, marked as replayed.
pub fn replay(answer: &StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (REPLAYED, HeaderValue::from_static("true")),
        ],
        answer.body.clone(),
    )
        .into_response()
}
