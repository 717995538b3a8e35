//! Keys, sessions and passwords: the server's [`MasterKey`] (seals custodial secrets and
//! webhook secrets, signs sessions), API keys (only their hashes are stored), session
//! tokens, password hashes (argon2) and custodial ed25519 keypairs. No request handling:
//! the caller's identity is [`crate::auth`]'s.
//!
//! Custodial secret keys are sealed with the master key (ChaCha20-Poly1305, a fresh random
//! nonce per key).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::SigningKey;
use marketplace_core::store::{ApiKey, CustodialKey};
use marketplace_core::{IdentityId, Timestamp};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::limits::SESSION_SECS;

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

impl MasterKey {
    /// `plain` sealed with this key (ChaCha20-Poly1305, a fresh random nonce): lowercase
    /// hex of nonce and ciphertext.
    pub fn seal(&self, plain: &[u8]) -> Result<String, ApiError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plain)
            .map_err(|_| ApiError::internal("sealing failed".to_owned()))?;
        Ok(format!("{}{}", hex::encode(nonce), hex::encode(sealed)))
    }

    /// What [`MasterKey::seal`] sealed, if this key sealed it and it is intact.
    pub fn unseal(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = hex::decode(sealed).ok()?;
        let (nonce, ciphertext) = bytes.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        ChaCha20Poly1305::new(&Key::from(self.0))
            .decrypt(&Nonce::from(nonce), ciphertext)
            .ok()
    }
}

/// What a session token says: whose it is, and until when.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SessionClaims {
    /// The identity hash.
    sub: String,
    /// Issued at, unix seconds.
    iat: i64,
    /// Expires at, unix seconds.
    exp: i64,
}

impl MasterKey {
    /// The HS256 key sessions are signed with: derived from the master key, never the
    /// key that seals custodial secrets itself.
    fn session_key(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"marketplace session tokens\0");
        hasher.update(self.0);
        hasher.finalize().into()
    }
}

/// A session token (HS256 JWT) for `identity`, valid [`SESSION_SECS`] from `now`: the token
/// and when it expires.
pub fn issue_session(
    master: &MasterKey,
    identity: &IdentityId,
    now: Timestamp,
) -> Result<(String, Timestamp), ApiError> {
    let expires_at = now + chrono::Duration::seconds(SESSION_SECS);
    let claims = SessionClaims {
        sub: identity.as_str().to_owned(),
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&master.session_key()),
    )
    .map_err(|e| ApiError::internal(format!("signing a session: {e}")))?;
    Ok((token, expires_at))
}

/// The identity a session token names, if its signature holds and it has not expired at
/// `now` (the engine's clock, not the machine's).
pub fn verify_session(master: &MasterKey, token: &str, now: Timestamp) -> Option<IdentityId> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    // Expiry is checked against the engine's clock below.
    validation.validate_exp = false;
    validation.required_spec_claims = ["sub", "exp"].into_iter().map(str::to_owned).collect();
    let data = jsonwebtoken::decode::<SessionClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&master.session_key()),
        &validation,
    )
    .ok()?;
    if data.claims.exp <= now.timestamp() {
        return None;
    }
    IdentityId::parse(&data.claims.sub).ok()
}

/// Hashes a password with argon2id (on a blocking thread: it is slow on purpose).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| ApiError::internal(format!("hashing a password: {e}")))?
}

/// Whether `password` matches a stored argon2 hash (on a blocking thread).
pub async fn verify_password(password: String, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordVerifier, phc::PasswordHash};
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ApiError::internal(format!("a stored password hash: {e}")))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| ApiError::internal(format!("checking a password: {e}")))?
}

/// `len` random bytes as lowercase hex: for new secrets.
pub fn random_hex(len: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

/// Lowercase hex SHA-256 of an API key: what the store looks keys up by.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What a web session's secret starts with (an API key's is `ak_`): stored as API keys are,
/// hashed and revocable, never accepted as one, and not listed among the caller's keys.
pub const WEB_SESSION_PREFIX: &str = "ws_";

/// Whether a stored key is a web session's, not an API key.
pub fn is_web_session(key: &ApiKey) -> bool {
    key.prefix.starts_with(WEB_SESSION_PREFIX)
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
    let sealed_secret = master.seal(&seed)?;
    let record = CustodialKey {
        identity: identity.clone(),
        public_key: hex::encode(public),
        sealed_secret,
        created_at: now,
    };
    Ok((identity, record))
}
