//! One error type for every handler: engine errors become HTTP statuses with a stable
//! machine code; storage failures are logged and answered without their internals.

use crate::limits::IN_PROGRESS_RETRY_SECS;
use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use marketplace_api::error::{ErrorBody, ErrorDetail};
use marketplace_core::{Error, ErrorKind, StoreError};

/// What every 5xx of the marketplace's own says: its details are for the log alone.
pub const SERVER_FAILURE: &str = "the marketplace could not complete the request";

// An error response also carries it as an extension, so a face that answers in its own
// format (AgentMarket's envelope) renders it without reading the body. (A plain comment:
// the doc comment below is the OpenAPI document's description.)

/// An error answered as `{"error": {"code": "<stable code>", "message": "…"}}`.
#[derive(Debug)]
pub enum ApiError {
    /// The engine refused the request, or the store failed.
    Engine(Error),
    /// No credentials, or credentials that prove nothing (401 `unauthorized`).
    Unauthorized(&'static str),
    /// The request body is not the JSON expected (400 `invalid_input`).
    BadBody(String),
    /// The request body exceeds the limit (413 `too_large`).
    TooLarge,
    /// The artifact store's disk budget is spent (507 `insufficient_storage`).
    StorageFull,
    /// A JSON body declared as another type, or as none (415 `unsupported_media_type`).
    NotJson,
    /// The client stopped sending its request body (408 `request_timeout`; see
    /// [`crate::connections`]).
    BodyTimeout,
    /// The request's target is longer than the bound (414 `uri_too_long`).
    UriTooLong {
        /// The longest target taken, bytes.
        max_bytes: usize,
    },
    /// The request's headers exceed their bounds (431 `headers_too_large`).
    HeadersTooLarge {
        /// Most bytes of names and values taken.
        max_bytes: usize,
        /// Most fields taken.
        max_fields: usize,
    },
    /// A named credential or resource of the HTTP layer does not exist (404).
    NotFound {
        /// The stable code, e.g. `key_not_found`.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// The request conflicts with what exists (409), e.g. an email already signed up.
    Conflict {
        /// The stable code, e.g. `email_taken`.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// Too many requests from this client or identity (429, with `Retry-After`).
    RateLimited {
        /// Seconds until a request will be let through again.
        retry_after_secs: u64,
    },
    /// Something the marketplace called on the caller's behalf failed: an agent's
    /// endpoint or the LLM (502, 503 or 504, with a message saying what happened).
    Upstream {
        /// 502 (failed), 503 (not configured) or 504 (timed out).
        status: StatusCode,
        /// The stable code, e.g. `agent_failed`.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// The server failed on its own side (500); the message is logged, not sent.
    Internal(String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self::Engine(e)
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge
        } else if went_silent(&rejection) {
            Self::BodyTimeout
        } else {
            Self::BadBody(rejection.body_text())
        }
    }
}

impl ApiError {
    /// A request body that could not be read whole within its limit: 408 if the client
    /// stopped sending it, else 413.
    pub fn unread_body(e: &axum::Error) -> Self {
        if went_silent(e) {
            Self::BodyTimeout
        } else {
            Self::TooLarge
        }
    }
}

/// Whether reading a request body failed because the client stopped sending it (the body
/// timeout of [`crate::connections`]), anywhere in the error's chain of causes.
pub fn went_silent(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl ApiError {
    /// A server-side failure with its details for the log.
    pub fn internal(details: String) -> Self {
        Self::Internal(details)
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Engine(e) => match e.kind() {
                ErrorKind::Invalid => StatusCode::BAD_REQUEST,
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                ErrorKind::Conflict => StatusCode::CONFLICT,
                ErrorKind::InsufficientFunds => StatusCode::PAYMENT_REQUIRED,
                ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::Internal => match e {
                    Error::Storage(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                },
            },
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::BadBody(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Engine(e) => e.code(),
            Self::Unauthorized(_) => "unauthorized",
            Self::BadBody(_) => "invalid_input",
            Self::TooLarge => "too_large",
            Self::NotJson => "unsupported_media_type",
            Self::StorageFull => "insufficient_storage",
            Self::BodyTimeout => "request_timeout",
            Self::UriTooLong { .. } => "uri_too_long",
            Self::HeadersTooLarge { .. } => "headers_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Upstream { code, .. } => code,
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if let Self::Upstream { message, .. } = &self {
            // Not the marketplace's own failure: the caller needs to know what happened.
            message.clone()
        } else if status.is_server_error() && !matches!(self, Self::StorageFull) {
            // The details are for the operator's log, not for the caller.
            match &self {
                Self::Engine(e) => tracing::error!(error = %e, "request failed"),
                other => tracing::error!(error = ?other, "request failed"),
            }
            SERVER_FAILURE.to_owned()
        } else {
            match &self {
                Self::Engine(e) => e.to_string(),
                Self::Unauthorized(why) => (*why).to_owned(),
                Self::BadBody(why) => why.clone(),
                Self::TooLarge => "the request body is too large".to_owned(),
                Self::NotJson => {
                    "send the body as JSON, with Content-Type: application/json".to_owned()
                }
                Self::BodyTimeout => "the request body stopped arriving".to_owned(),
                Self::UriTooLong { max_bytes } => {
                    format!("the request target is longer than {max_bytes} bytes")
                }
                Self::HeadersTooLarge {
                    max_bytes,
                    max_fields,
                } => format!("the request headers exceed {max_bytes} bytes or {max_fields} fields"),
                Self::StorageFull => {
                    "the marketplace's artifact storage is full; try again later".to_owned()
                }
                Self::RateLimited { retry_after_secs } => {
                    format!("too many requests; retry in {retry_after_secs} s")
                }
                Self::NotFound { message, .. }
                | Self::Conflict { message, .. }
                | Self::Upstream { message, .. }
                | Self::Internal(message) => message.clone(),
            }
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
            },
        };
        let detail = body.error.clone();
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(detail);
        let retry_after_secs = match self {
            Self::RateLimited { retry_after_secs } => Some(retry_after_secs),
            Self::Engine(Error::IdempotencyInProgress) => Some(IN_PROGRESS_RETRY_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after_secs {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
