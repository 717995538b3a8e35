//! Text coming in, checked once at the boundary: no NUL character reaches the engine or a
//! store from any URI, JSON body or form field. (PostgreSQL cannot store one in text, and
//! no field of either API means one.)

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use marketplace_core::Error;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The refusal of a NUL character in `place`.
fn nul_in(place: &'static str) -> ApiError {
    Error::invalid(place, "must not contain a NUL character").into()
}

/// Middleware: refuses a request whose path or query carries a NUL (`%00`) with 400
/// `invalid_input`, before any handler sees it.
pub async fn refuse_nul_in_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let has_nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    if has_nul(uri.path()) {
        return nul_in("path").into_response();
    }
    if uri.query().is_some_and(has_nul) {
        return nul_in("query").into_response();
    }
    next.run(request).await
}

/// Whether a JSON text holds a NUL character in a string: an escaped `\u0000` (a raw one
/// is not JSON, and the parser refuses it). Every backslash of JSON begins an escape in a
/// string, so one pass from escape to escape finds it.
pub fn json_has_nul(json: &[u8]) -> bool {
    let mut at = 0;
    while let Some(slash) = json[at..].iter().position(|b| *b == b'\\') {
        let escape = at + slash + 1;
        if json.get(escape..escape + 5) == Some(b"u0000") {
            return true;
        }
        at = escape + 1;
        if at >= json.len() {
            return false;
        }
    }
    false
}

/// Refuses (415) a body whose `Content-Type` does not say JSON: it must be
/// `application/json`, a `+json` type, or the form type `curl -d` declares for the JSON it
/// sends (as the seed documents write their examples). A missing type is refused too.
pub fn require_json_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json" | "application/x-www-form-urlencoded") => Ok(()),
        Some(other) if other.starts_with("application/") && other.ends_with("+json") => Ok(()),
        _ => Err(ApiError::NotJson),
    }
}

/// A JSON body parsed as `T`: 400 `invalid_input` for JSON that is not `T`, or that holds
/// a NUL character.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadBody(format!("the body is not the JSON expected: {e}")))?;
    if json_has_nul(body) {
        return Err(nul_in("body"));
    }
    Ok(value)
}

/// A body that may be absent: empty (or blank) means the defaults; otherwise a JSON body
/// declared as one ([`require_json_type`]) and parsed as [`parse_json`] does.
pub fn optional_json<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    require_json_type(headers)?;
    parse_json(body)
}

/// A text field of a form, refused if it holds a NUL character.
pub fn text_field(name: &'static str, text: String) -> Result<String, ApiError> {
    if text.contains('\0') {
        return Err(nul_in(name));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::json_has_nul;

    #[test]
    fn an_escaped_nul_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(json_has_nul(br#"{"a": "x\u0000"}"#));
        assert!(json_has_nul(br#"{"a\u0000": 1}"#));
        assert!(json_has_nul(br#"["\\\u0000"]"#));
        assert!(
            !json_has_nul(br#"{"a": "\\u0000"}"#),
            "a backslash, then text"
        );
        assert!(!json_has_nul(br#"{"a": "\u00001"}"#.split_at(10).0));
        assert!(!json_has_nul(br#"{"a": "\u0001", "b": "\\"}"#));
        assert!(!json_has_nul(b"\\"));
        assert!(!json_has_nul(b""));
    }
}
