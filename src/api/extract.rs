//! Request extractors whose failures are [`ApiError`]s: JSON bodies, the bearer principal, and
//! the correlation id.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::domain::{EventMetadata, OrganizationId, Principal, Role, ValidationError};

/// A JSON body; malformed JSON is a 400, a wrong field type a 422 naming the field, an
/// oversized body a 413, a missing content type a 415.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(super::BodyLimit(limit)) = req.extensions().get::<super::BodyLimit>().copied()
            && declared_length(&req).is_some_and(|n| n > limit as u64)
        {
            drain(req).await;
            return Err(ApiError::PayloadTooLarge);
        }
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Most of an oversized body read and discarded before answering 413. Answering without reading
/// makes the server close a socket with unread data, which the kernel turns into a reset that
/// can reach the client before the 413 does.
const DRAIN_LIMIT: usize = 4 * 1024 * 1024;

fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

async fn drain(req: Request) {
    use futures::StreamExt;
    let mut body = req.into_body().into_data_stream();
    let mut read = 0;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len();
        if read > DRAIN_LIMIT {
            break;
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // axum reports `<path>: <serde message>`; the path is the field to name.
            let text = e.body_text();
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, rest)| rest);
            let (field, message) = match detail.split_once(": ") {
                Some((path, msg)) if !path.contains(' ') && path != "." => {
                    (path.to_owned(), msg.to_owned())
                }
                _ => (
                    missing_field(detail).unwrap_or_else(|| "body".to_owned()),
                    detail.to_owned(),
                ),
            };
            ApiError::Validation(ValidationError::new(field, strip_position(&message)))
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::BadRequest("request body is not valid JSON".into())
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// Pulls `title` out of serde's "missing field `title` at line 1 column 2".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.split_once("missing field `")?.1;
    Some(rest.split_once('`')?.0.to_owned())
}

fn strip_position(message: &str) -> String {
    message
        .split_once(" at line ")
        .map_or(message, |(m, _)| m)
        .to_owned()
}

/// The caller, from `Authorization: Bearer <token>`, with the role, state and organization the
/// store has for the account now (a token names its account; it does not grant a role).
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Principal, pub Option<OrganizationId>);

impl Auth {
    /// Refuses anyone whose role is not in `roles`.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{what} is not allowed for a {}",
                self.0.role
            )))
        }
    }
}

impl<S> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized(
                "authorization header must be `Bearer <token>`",
            ))?;
        let session = state.sessions.open(token).await?;
        Ok(Auth(session.principal, session.organization))
    }
}

/// The correlation id of this request: the `x-request-id` header (set by the request-id layer
/// when the client sent none).
#[derive(Debug, Clone)]
pub struct Correlation(pub String);

impl Correlation {
    /// Event metadata for a change made by `actor` in this request.
    pub fn metadata(&self, actor: &Principal) -> EventMetadata {
        EventMetadata::requested(self.0.clone(), actor.id.to_string())
            .traced(crate::telemetry::trace::current_traceparent())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Correlation {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        Ok(Self(id))
    }
}
