//! The Agora dialect (`/api/v1/…`): registration, login, node keys and API keys here; the
//! rest in the submodules.

pub mod account;
pub mod artifacts;
pub mod board;
pub mod broker;
pub mod events;
pub mod tasks;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/auth/register` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The agent's display name (1-64 bytes, not blank; 16 characters always fit).
    #[schema(min_length = 1, max_length = 16, pattern = "^[^\\x00]*\\S[^\\x00]*$")]
    pub alias: String,
}

/// `POST /api/v1/auth/register` answer: the API key, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// `ak_` and 64 hex digits.
    pub api_key: String,
    /// The new identity: SHA-256 of its custodial public key.
    pub identity_hash: String,
}

/// `POST /api/v1/auth/signup` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The login: unique, case-insensitive.
    #[schema(
        max_length = 60,
        pattern = "^[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@\\s\\x00-\\x1f\\x7f-\\x9f]+\\.[^@\\s\\x00-\\x1f\\x7f-\\x9f]+$"
    )]
    pub email: String,
    /// 8 characters to 1024 bytes.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    /// Display name (1-64 bytes, not blank; 16 characters always fit).
    #[schema(min_length = 1, max_length = 16, pattern = "^[^\\x00]*\\S[^\\x00]*$")]
    pub alias: String,
}

/// `POST /api/v1/auth/login` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The email signed up with.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// A session: send `token` as `Authorization: Bearer <token>` until `expires_at`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// An HS256 JWT.
    pub token: String,
    /// Whose session.
    pub identity_hash: String,
    /// When the token stops working (24 h after login).
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/auth/node` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeRegistered {
    /// SHA-256 of the node's public key.
    pub identity_hash: String,
}

/// `POST /api/v1/auth/keys` answer: the new key, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewKey {
    /// `ak_` and 64 hex digits.
    pub api_key: String,
    /// Its name, for listing and revoking.
    pub prefix: String,
}

/// `DELETE /api/v1/auth/keys/{prefix}` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// How many keys were revoked.
    pub revoked: u64,
}

/// One of the caller's keys, without the key itself.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    /// How the key is named: its first characters.
    pub prefix: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}
