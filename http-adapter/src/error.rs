//! One error type for every handler: engine errors become HTTP statuses with a stable
//! machine code; storage failures are logged and answered without their internals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use marketplace_core::{Error, ErrorKind};
use serde_json::json;

/// An error answered as `{"error": {"code": "<stable code>", "message": "…"}}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self.0.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InsufficientFunds => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Internal => match &self.0 {
                Error::Storage(marketplace_core::StoreError::Unavailable(_)) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            // The details are for the operator's log, not for the caller.
            tracing::error!(error = %self.0, "request failed");
            "the marketplace could not complete the request".to_owned()
        } else {
            self.0.to_string()
        };
        let body = json!({ "error": { "code": self.0.code(), "message": message } });
        (status, Json(body)).into_response()
    }
}
