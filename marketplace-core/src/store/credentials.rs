//! What proves an identity: API keys (only their SHA-256 is kept), email logins (only an
//! argon2 hash of the password), and the server's own settings (its master secret).
//!
//! Credentials are not marketplace state — no rule reads them — so they sit beside the
//! [`Store`](super::Store) in a trait of their own, implemented by every backend on the same
//! database. Hashing, key generation and password checks belong to the HTTP layer; a store
//! keeps what it is given.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ids::IdentityId;
use crate::time::Timestamp;

/// One API key of an identity. The key itself is shown once, at creation; the store keeps
/// its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Lowercase hex SHA-256 of the whole key: what a request's key is looked up by.
    pub hash: String,
    /// The key's first characters (e.g. `ak_1a2b3c4d`): how its owner names it to revoke it.
    pub prefix: String,
    /// Whose key.
    pub identity: IdentityId,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it was revoked; a revoked key no longer authenticates.
    pub revoked_at: Option<Timestamp>,
}

/// An email login of an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The email, lowercased: unique across the marketplace.
    pub email: String,
    /// The password's hash in PHC string format (argon2id).
    pub password_hash: String,
    /// Whose login.
    pub identity: IdentityId,
    /// When it was created.
    pub created_at: Timestamp,
}

/// The keypair the marketplace holds for an identity that registered without its own
/// (agents with an API key, humans with an email): the public key, and the secret key
/// sealed with the server's master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodialKey {
    /// Whose keypair: `identity` is the SHA-256 of `public_key`.
    pub identity: IdentityId,
    /// The ed25519 public key, lowercase hex.
    pub public_key: String,
    /// The secret key encrypted with the master key (nonce and ciphertext), lowercase hex.
    pub sealed_secret: String,
    /// When it was generated.
    pub created_at: Timestamp,
}

/// Storage of credentials and server settings. Every method is its own transaction.
#[async_trait]
pub trait Credentials: Send + Sync + 'static {
    /// Stores a new API key. `false` (and nothing stored) if a key with that hash exists.
    async fn add_api_key(&self, key: &ApiKey) -> Result<bool, StoreError>;
    /// The key with this hash, revoked or not.
    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// An identity's keys, oldest first, revoked ones included.
    async fn api_keys(&self, identity: &IdentityId) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes `identity`'s unrevoked keys named by `prefix` at `at`: how many it revoked.
    /// With `keep_access`, `None` — and nothing changed — when they are the identity's
    /// last live keys and it has no login: revoking them would lock it out for good.
    ///
    /// To ensure correctness, implementations must judge concurrent revocations of one
    /// identity's keys one after another, so that together they never revoke its last key
    /// either.
    async fn revoke_api_keys(
        &self,
        identity: &IdentityId,
        prefix: &str,
        at: Timestamp,
        keep_access: bool,
    ) -> Result<Option<u64>, StoreError>;
    /// Stores a new login. `false` (and nothing stored) if the email is taken.
    async fn add_login(&self, login: &Login) -> Result<bool, StoreError>;
    /// The login of `email` (lowercased by the caller).
    async fn login(&self, email: &str) -> Result<Option<Login>, StoreError>;
    /// Stores an identity's custodial keypair. `false` (and nothing stored) if it has one.
    async fn add_custodial_key(&self, key: &CustodialKey) -> Result<bool, StoreError>;
    /// An identity's custodial keypair.
    async fn custodial_key(
        &self,
        identity: &IdentityId,
    ) -> Result<Option<CustodialKey>, StoreError>;
    /// Records that `identity` used `nonce` on a signed request; the nonce is remembered
    /// through `until`, inclusive. `false` (and nothing changed) if it is remembered
    /// already: a replay, refused at every `now <= until`. Forgets nonces whose `until` is
    /// before `now`. (A caller accepts a signed request only while `now <= until`, so no
    /// replay finds its nonce forgotten.)
    async fn remember_nonce(
        &self,
        identity: &IdentityId,
        nonce: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// The setting `name`; if it has none yet, stores `value` first. The first writer wins:
    /// replicas starting together all get the same value.
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;
}
