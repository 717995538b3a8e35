//! Who is calling: API keys (`Authorization: Bearer ak_…`), and the keys and custodial
//! keypairs registration hands out.
//!
//! Only hashes of API keys are stored; custodial secret keys are sealed with the server's
//! master key (ChaCha20-Poly1305, a fresh random nonce per key).

use std::fmt::Write as _;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::SigningKey;
use marketplace_core::store::{ApiKey, Credentials, CustodialKey};
use marketplace_core::{IdentityId, Store, Timestamp};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::server::AppState;

/// Random bytes in an API key (shown as hex after `ak_`).
pub const API_KEY_RANDOM_BYTES: usize = 32;
/// Characters of a key kept as its name: `ak_` and 8 hex digits.
pub const API_KEY_PREFIX_CHARS: usize = 11;

/// The server's master key: seals custodial secrets (and, later, signs sessions).
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// The key derived from a secret of any length (`MARKETPLACE_SECRET`, or the one the
    /// server generated and persisted on first start).
    pub fn from_secret(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }
}

/// `len` random bytes as lowercase hex: for new secrets.
pub fn random_hex(len: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lowercase hex SHA-256 of an API key: what the store looks keys up by.
pub fn api_key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// A new API key for `identity`: the key (shown once) and the record to store.
pub fn issue_api_key(identity: &IdentityId, now: Timestamp) -> Result<(String, ApiKey), ApiError> {
    let key = format!("ak_{}", random_hex(API_KEY_RANDOM_BYTES)?);
    let record = ApiKey {
        hash: api_key_hash(&key),
        prefix: key[..API_KEY_PREFIX_CHARS].to_owned(),
        identity: identity.clone(),
        created_at: now,
        revoked_at: None,
    };
    Ok((key, record))
}

/// A new custodial ed25519 keypair: its identity and its record, secret sealed.
pub fn custodial_keypair(
    master: &MasterKey,
    now: Timestamp,
) -> Result<(IdentityId, CustodialKey), ApiError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    let signing = SigningKey::from_bytes(&seed);
    let public = signing.verifying_key().to_bytes();
    let identity = IdentityId::from_public_key(&public);
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    let cipher = ChaCha20Poly1305::new(&Key::from(master.0));
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), seed.as_slice())
        .map_err(|_| ApiError::internal("sealing a custodial key failed".to_owned()))?;
    let record = CustodialKey {
        identity: identity.clone(),
        public_key: hex(&public),
        sealed_secret: format!("{}{}", hex(&nonce), hex(&sealed)),
        created_at: now,
    };
    Ok((identity, record))
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub IdentityId);

impl<S: Store + Credentials + Clone> FromRequestParts<AppState<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("missing credentials"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized(
                "expected `Authorization: Bearer <api key>`",
            ))?;
        if !token.starts_with("ak_") || token.len() != 3 + 2 * API_KEY_RANDOM_BYTES {
            return Err(ApiError::Unauthorized("invalid credentials"));
        }
        let key = app
            .market
            .store()
            .api_key(&api_key_hash(token))
            .await
            .map_err(|e| ApiError::Engine(e.into()))?;
        match key {
            Some(key) if key.revoked_at.is_none() => Ok(Self(key.identity)),
            _ => Err(ApiError::Unauthorized("invalid credentials")),
        }
    }
}
