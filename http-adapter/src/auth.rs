//! Who is calling: API keys (`Authorization: Bearer ak_…`), session tokens, or a node's
//! ed25519 signature (`X-Knarr-*` headers); and the proof of work registration may ask for.
//! The keys themselves, sessions and passwords are [`crate::crypto`]'s (re-exported here).

use std::sync::LazyLock;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ed25519_dalek::{Signature, VerifyingKey};
use marketplace_core::IdentityId;
use marketplace_core::store::Backend;
use sha2::{Digest, Sha256};

pub use crate::crypto::*;
use crate::error::ApiError;
use crate::limits::{
    FILE_BODY_BYTES_MAX, NONCE_CHARS_MAX, POW_STAMP_BYTES_MAX, POW_WINDOW_SECS,
    SIGNATURE_WINDOW_SECS,
};
use crate::state::AppState;

/// The identity a node signature proved, put on the request by [`verify_signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy(pub IdentityId);

fn header<'a>(parts: &'a Parts, name: &'static str) -> Result<&'a str, ApiError> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized("a signed request needs X-Knarr-PublicKey, X-Knarr-Timestamp, X-Knarr-Nonce and X-Knarr-Signature"))
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

pub use marketplace_api::signing::signed_message;
use marketplace_api::signing::{
    NONCE_HEADER, PUBLIC_KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

/// Middleware: a request carrying `X-Knarr-Signature` must prove its key — a valid
/// ed25519 signature over [`signed_message`], a timestamp within
/// [`SIGNATURE_WINDOW_SECS`] of the server's clock, and a nonce not seen in that window.
/// The proven identity goes on the request as [`SignedBy`]. Requests without the header
/// pass untouched.
pub async fn verify_signature<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !request.headers().contains_key(SIGNATURE_HEADER) {
        return Ok(next.run(request).await);
    }
    let (mut parts, body) = request.into_parts();
    // Uploads and deliveries (which may carry a file) take larger bodies than the JSON
    // routes; the signature covers the whole body, so it is read up to its route's limit.
    let path = parts.uri.path();
    let limit = if path == "/api/upload" || path.ends_with("/deliver") {
        app.body_bytes_max.max(FILE_BODY_BYTES_MAX)
    } else {
        app.body_bytes_max
    };
    let body = to_bytes(body, limit)
        .await
        .map_err(|e| ApiError::unread_body(&e))?;
    let identity = check_signature(&app, &parts, &body).await?;
    parts.extensions.insert(SignedBy(identity));
    Ok(next.run(Request::from_parts(parts, Body::from(body))).await)
}

async fn check_signature<S: Backend + Clone>(
    app: &AppState<S>,
    parts: &Parts,
    body: &[u8],
) -> Result<IdentityId, ApiError> {
    let public = header(parts, PUBLIC_KEY_HEADER)?;
    let timestamp = header(parts, TIMESTAMP_HEADER)?;
    let nonce = header(parts, NONCE_HEADER)?;
    let signature = header(parts, SIGNATURE_HEADER)?;
    let key = unhex::<32>(public)
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or(ApiError::Unauthorized(
            "X-Knarr-PublicKey must be a hex ed25519 public key",
        ))?;
    let signature = unhex::<64>(signature)
        .map(|b| Signature::from_bytes(&b))
        .ok_or(ApiError::Unauthorized(
            "X-Knarr-Signature must be a hex ed25519 signature",
        ))?;
    if nonce.is_empty()
        || nonce.len() > NONCE_CHARS_MAX
        || !nonce.bytes().all(|b| b.is_ascii_graphic())
    {
        static RULE: LazyLock<String> = LazyLock::new(|| {
            format!("X-Knarr-Nonce must be 1-{NONCE_CHARS_MAX} printable characters")
        });
        return Err(ApiError::Unauthorized(RULE.as_str()));
    }
    let signed_at = timestamp
        .parse::<i64>()
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .ok_or(ApiError::Unauthorized(
            "X-Knarr-Timestamp must be unix seconds",
        ))?;
    // Both sides at the clock's full precision: a request is accepted until exactly the
    // moment its nonce may be forgotten (`until` below), never a fraction of a second past.
    let now = app.market.now();
    let window = chrono::Duration::seconds(SIGNATURE_WINDOW_SECS);
    if now - signed_at > window || signed_at - now > window {
        static RULE: LazyLock<String> = LazyLock::new(|| {
            format!("the signature's timestamp is outside the {SIGNATURE_WINDOW_SECS} s window")
        });
        return Err(ApiError::Unauthorized(RULE.as_str()));
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let message = signed_message(parts.method.as_str(), path, timestamp, nonce, body);
    key.verify_strict(message.as_bytes(), &signature)
        .map_err(|_| ApiError::Unauthorized("the signature does not match the request"))?;
    let identity = IdentityId::from_public_key(key.as_bytes());
    // Remembered while any request carrying it can be accepted: through `signed_at + window`.
    let until = signed_at + window;
    let fresh = app
        .market
        .store()
        .remember_nonce(&identity, nonce, until, now)
        .await
        .map_err(|e| ApiError::Engine(e.into()))?;
    if !fresh {
        return Err(ApiError::Unauthorized("the nonce was used already"));
    }
    Ok(identity)
}

/// AgentMarket's credential header; `Authorization: Bearer` works on every route too.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The credential a request presents: `Authorization: Bearer <token>` or `X-API-Key:
/// <key>`; `None` when it presents neither.
fn presented_key(parts: &Parts) -> Result<Option<&str>, ApiError> {
    if let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        return header
            .to_str()
            .ok()
            .and_then(|h| h.trim_start().split_once(' '))
            // The scheme's name is case-insensitive (RFC 9110 §11.1).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| Some(token.trim()))
            .ok_or(ApiError::Unauthorized(
                "expected `Authorization: Bearer <api key or token>`",
            ));
    }
    match parts.headers.get(API_KEY_HEADER) {
        None => Ok(None),
        Some(key) => key
            .to_str()
            .map(|k| Some(k.trim()))
            .map_err(|_| ApiError::Unauthorized("invalid credentials")),
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub IdentityId);

impl<S: Backend + Clone> FromRequestParts<AppState<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(SignedBy(identity)) = parts.extensions.get::<SignedBy>() {
            return Ok(Self(identity.clone()));
        }
        let token = presented_key(parts)?.ok_or(ApiError::Unauthorized("missing credentials"))?;
        if !token.starts_with("ak_") {
            // Not an API key: a session token from a login, or nothing.
            return verify_session(&app.master, token, app.market.now())
                .map(Self)
                .ok_or(ApiError::Unauthorized("invalid or expired credentials"));
        }
        if token.len() != 3 + 2 * API_KEY_RANDOM_BYTES {
            return Err(ApiError::Unauthorized("invalid credentials"));
        }
        let hash = api_key_hash(token);
        if let Some(identity) = app.keys.identity(&hash, Instant::now()) {
            return Ok(Self(identity));
        }
        let ticket = app.keys.ticket();
        let key = app
            .market
            .store()
            .api_key(&hash)
            .await
            .map_err(|e| ApiError::Engine(e.into()))?;
        match key {
            Some(key) if key.revoked_at.is_none() => {
                app.keys
                    .remember(&hash, &key.identity, ticket, Instant::now());
                Ok(Self(key.identity))
            }
            _ => Err(ApiError::Unauthorized("invalid credentials")),
        }
    }
}

/// The identity a credential (`ak_…` API key or session token) proves, as a request
/// presenting it as `Authorization: Bearer` would be taken.
pub async fn identify<S: Backend + Clone>(
    app: &AppState<S>,
    credential: &str,
) -> Result<IdentityId, ApiError> {
    let request = axum::http::Request::builder()
        .header(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {credential}"),
        )
        .body(())
        .map_err(|_| ApiError::Unauthorized("invalid credentials"))?;
    let (mut parts, ()) = request.into_parts();
    let Caller(identity) =
        <Caller as FromRequestParts<AppState<S>>>::from_request_parts(&mut parts, app).await?;
    Ok(identity)
}

impl<S: Backend + Clone> OptionalFromRequestParts<AppState<S>> for Caller {
    type Rejection = ApiError;

    /// No credentials at all: an anonymous caller. Credentials that fail are still refused.
    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S>,
    ) -> Result<Option<Self>, Self::Rejection> {
        let anonymous = parts.extensions.get::<SignedBy>().is_none()
            && !parts
                .headers
                .contains_key(axum::http::header::AUTHORIZATION)
            && !parts.headers.contains_key(API_KEY_HEADER);
        if anonymous {
            return Ok(None);
        }
        <Self as FromRequestParts<AppState<S>>>::from_request_parts(parts, app)
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::SESSION_SECS;

    #[test]
    fn sessions_hold_for_a_day_under_their_own_key_only() {
        let master = MasterKey::from_secret("one");
        let identity = IdentityId::from_public_key(b"human");
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (token, expires_at) = issue_session(&master, &identity, now).unwrap();
        assert_eq!(expires_at, now + chrono::Duration::hours(24));
        let later = |secs| now + chrono::Duration::seconds(secs);
        assert_eq!(verify_session(&master, &token, later(3600)), Some(identity));
        assert_eq!(verify_session(&master, &token, later(SESSION_SECS)), None);
        let other = MasterKey::from_secret("two");
        assert_eq!(verify_session(&other, &token, now), None);
        let mut tampered = token.clone().into_bytes();
        let middle = token.find('.').unwrap() + 3;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(verify_session(&master, &tampered, now), None);
        assert_eq!(verify_session(&master, "not.a.token", now), None);
    }
}

/// The header a registration carries its proof of work in: `TIMESTAMP:NONCE`.
pub const POW_HEADER: &str = "x-registration-pow";

/// A registration's proof of work, when the server asks for one (`--registration-pow-bits`):
/// hashcash-style, `X-Registration-Pow: TIMESTAMP:NONCE` where the SHA-256 of that text
/// starts with the asked number of zero bits, the timestamp (unix seconds) is within
/// [`POW_WINDOW_SECS`] of the server's clock, and the stamp was never used before (stamps
/// are remembered, across replicas, as long as they are good). Registering many identities
/// then costs their creator work; one costs a moment.
///
/// ```
/// use sha2::{Digest, Sha256};
/// // A client's search, for 8 bits:
/// let timestamp = 1_800_000_000;
/// let stamp = (0u64..)
///     .map(|nonce| format!("{timestamp}:{nonce}"))
///     .find(|s| Sha256::digest(s.as_bytes())[0] == 0)
///     .unwrap();
/// assert!(stamp.starts_with("1800000000:"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ProofOfWork;

impl<S: Backend + Clone> FromRequestParts<AppState<S>> for ProofOfWork {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let bits = app.registration_pow_bits;
        if bits == 0 {
            return Ok(Self);
        }
        let refuse = |why: String| -> ApiError {
            marketplace_core::Error::invalid("X-Registration-Pow", why).into()
        };
        let stamp = parts
            .headers
            .get(POW_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|s| s.len() <= POW_STAMP_BYTES_MAX)
            .ok_or_else(|| {
                refuse(format!(
                    "registering needs a proof of work: TIMESTAMP:NONCE whose SHA-256 starts \
                     with {bits} zero bits"
                ))
            })?;
        let signed_at = stamp
            .split_once(':')
            .and_then(|(ts, _)| ts.parse::<i64>().ok())
            .and_then(|ts| chrono::DateTime::from_timestamp(ts, 0))
            .ok_or_else(|| {
                refuse("must be TIMESTAMP:NONCE, the timestamp in unix seconds".into())
            })?;
        let now = app.market.now();
        let window = chrono::Duration::seconds(POW_WINDOW_SECS);
        if now - signed_at > window || signed_at - now > window {
            return Err(refuse(format!(
                "the timestamp must be within {POW_WINDOW_SECS} s of the server's clock"
            )));
        }
        let digest = Sha256::digest(stamp.as_bytes());
        if marketplace_api::signing::zero_bits(&digest) < u32::from(bits) {
            return Err(refuse(format!(
                "its SHA-256 must start with {bits} zero bits"
            )));
        }
        // Remembered under an identity no key can have, as long as the stamp is good.
        let fresh = app
            .market
            .store()
            .remember_nonce(&pow_stamps(), &hex::encode(digest), signed_at + window, now)
            .await
            .map_err(|e| ApiError::Engine(e.into()))?;
        if !fresh {
            return Err(refuse("this proof of work was used already".into()));
        }
        Ok(Self)
    }
}

/// The identity used stamps are remembered under: a hash no public key hashes to in
/// practice, named for what it keeps.
fn pow_stamps() -> IdentityId {
    IdentityId::from_public_key(b"marketplace: used registration proofs of work")
}
