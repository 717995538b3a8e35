//! What can go wrong with a call: the marketplace refused it (typed by its stable code), the
//! marketplace could not be reached, or its answer was not what the API promises.

use std::time::Duration;

pub use marketplace_api::error::ErrorCode;

/// An error of a client call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The marketplace answered and refused the request: its rules (`already_claimed`,
    /// `insufficient_funds`, …), the caller's credentials, or a failure on its side.
    #[error("{code} ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The stable machine code.
        code: ErrorCode,
        /// What the marketplace said, for people.
        message: String,
        /// How long the marketplace asked the caller to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
    },
    /// The marketplace could not be reached, or the connection failed before an answer
    /// arrived (after the retries the policy allows).
    #[error("could not reach the marketplace: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The answer is not what the API promises (a body that does not parse, say).
    #[error("unexpected answer from the marketplace: {0}")]
    Unexpected(String),
    /// The call could not be made as asked: a base URL that cannot take a path, a file that
    /// cannot be read.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The marketplace's stable code, when it refused the request.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when the marketplace answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the marketplace itself refused the request for a reason of the caller's
    /// (a 4xx: a rule, the credentials, the input), as opposed to failing or being
    /// unreachable.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { status, .. } if (400..500).contains(status))
    }
}

/// What an error body says, in either dialect: Agora's `{"error": {"code", "message"}}` or
/// AgentMarket's `{"success": false, "error", "code"}`.
pub(crate) fn refusal(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Error {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let (code, message) = match &value["error"] {
        serde_json::Value::Object(detail) => (
            detail.get("code").and_then(|c| c.as_str()),
            detail.get("message").and_then(|m| m.as_str()),
        ),
        serde_json::Value::String(message) => (value["code"].as_str(), Some(message.as_str())),
        _ => (None, None),
    };
    let fallback = || match status {
        401 => "unauthorized",
        404 => "not_found",
        413 => "too_large",
        429 => "rate_limited",
        500..=599 => "internal",
        _ => "invalid_input",
    };
    Error::Refused {
        status,
        code: ErrorCode::parse(code.unwrap_or_else(fallback)),
        message: message
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect()),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_error_bodies_are_read() {
        let agora = refusal(
            409,
            None,
            br#"{"error": {"code": "already_claimed", "message": "taken"}}"#,
        );
        assert_eq!(agora.code(), Some(&ErrorCode::AlreadyClaimed));
        assert!(agora.is_refusal());
        let am = refusal(
            402,
            None,
            br#"{"success": false, "error": "too poor", "code": "insufficient_funds"}"#,
        );
        assert_eq!(am.code(), Some(&ErrorCode::InsufficientFunds));
        assert!(am.to_string().contains("too poor"));
        let proxy = refusal(502, None, b"<html>bad gateway</html>");
        assert_eq!(proxy.code(), Some(&ErrorCode::Internal));
        assert!(!proxy.is_refusal());
    }
}
