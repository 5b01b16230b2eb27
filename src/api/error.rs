//! The one error type every handler returns, rendered as `{"error":{"code","message","details"}}`.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{HashingError, SessionError};
use crate::domain::{AcknowledgeError, ConversationError, StatusChangeError, ValidationError};
use crate::store::StoreError;

/// An error answer. Internal causes are logged here and never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not valid JSON, or a required header is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid bearer token, or wrong credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but not allowed.
    #[error("{message}")]
    Forbidden {
        /// What is not allowed.
        message: String,
        /// The field, when one value is what the caller may not send (a priority above the
        /// customers' cap, a wrong current password).
        field: Option<String>,
    },
    /// 404: no such resource (or not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405: the path exists without this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// What conflicts.
        message: String,
        /// The field, when one value is the cause (a taken email).
        field: Option<String>,
    },
    /// 413: the body is larger than the configured limit.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// 415: the body is not declared as JSON.
    #[error("expected a JSON body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: well-formed, but a field is invalid.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// 429: this client (or account) is over its rate limit.
    #[error("too many requests; retry after the time in the Retry-After header")]
    TooManyRequests {
        /// When to come back.
        retry_after: Duration,
    },
    /// 503: the server is at capacity (requests in flight, password hashing slots).
    #[error("the server is busy; retry shortly")]
    Overloaded {
        /// When to come back.
        retry_after: Duration,
    },
    /// 503: the request took longer than the request timeout.
    #[error("the request took too long and was stopped")]
    Timeout,
    /// 503: the store (or another dependency) is unavailable.
    #[error("service unavailable")]
    Unavailable(String),
    /// 500: a bug. Logged with its cause.
    #[error("internal error")]
    Internal(String),
}

/// The JSON shape of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// What the error is about, when one field is its cause; absent otherwise (never `null`,
    /// so a client reads `details.field` only when `details` is there).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub details: Option<ErrorDetails>,
}

/// Structured data of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetails {
    /// The JSON field, query parameter or header at fault, e.g. `title`, `limit` or
    /// `Idempotency-Key`.
    #[schema(example = "title")]
    pub field: String,
}

impl ApiError {
    /// A 409 about `field`.
    pub fn conflict_on(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    /// A 403 without a field.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
            field: None,
        }
    }

    /// A 403 about `field`.
    pub fn forbidden_on(field: &str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    /// A 409 without a field.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            field: None,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let details = match &self {
            Self::Validation(e) => Some(e.field.clone()),
            Self::Conflict { field: Some(f), .. } | Self::Forbidden { field: Some(f), .. } => {
                Some(f.clone())
            }
            _ => None,
        }
        .map(|field| ErrorDetails { field });
        match &self {
            Self::Unavailable(cause) => tracing::warn!(%cause, "answering 503"),
            Self::Internal(cause) => tracing::error!(%cause, "answering 500"),
            _ => {}
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: self.to_string(),
                details,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        let retry_after = match &self {
            Self::TooManyRequests { retry_after } | Self::Overloaded { retry_after } => {
                Some(*retry_after)
            }
            Self::Timeout => Some(Duration::from_secs(1)),
            Self::Unavailable(_) => Some(Duration::from_secs(5)),
            _ => None,
        };
        if let Some(wait) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, super::limits::retry_after_header(wait));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Conflict { field } => {
                Self::conflict_on(field, format!("{field} is already taken"))
            }
            StoreError::NotFound { what } => Self::NotFound(what),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<HashingError> for ApiError {
    fn from(err: HashingError) -> Self {
        match err {
            HashingError::Busy { retry_after } => Self::Overloaded { retry_after },
            HashingError::Failed(cause) => Self::Internal(cause),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::InvalidToken => Self::Unauthorized("invalid or expired token"),
            SessionError::Ended => Self::Unauthorized("the session has ended; sign in again"),
            SessionError::Store(e) => e.into(),
        }
    }
}

impl From<StatusChangeError> for ApiError {
    fn from(err: StatusChangeError) -> Self {
        match err {
            StatusChangeError::Forbidden(why) => Self::forbidden(why),
            StatusChangeError::IllegalTransition { .. } => {
                Self::conflict_on("status", err.to_string())
            }
        }
    }
}

impl From<ConversationError> for ApiError {
    fn from(err: ConversationError) -> Self {
        match err {
            ConversationError::Forbidden(why) => Self::forbidden(why),
            ConversationError::Closed | ConversationError::TooLateToReopen { .. } => {
                Self::conflict_on("status", err.to_string())
            }
            ConversationError::Full { .. } => Self::conflict(err.to_string()),
        }
    }
}

impl From<AcknowledgeError> for ApiError {
    fn from(err: AcknowledgeError) -> Self {
        match err {
            AcknowledgeError::Forbidden => Self::forbidden(err.to_string()),
            AcknowledgeError::NotBreached(_) | AcknowledgeError::Already(_) => {
                Self::conflict_on("target", err.to_string())
            }
        }
    }
}
