//! Who the client calls as: an API key, a session token from an email login, or a node's own
//! ed25519 key that signs every request.

use ed25519_dalek::{Signer, SigningKey};
use marketplace_api::signing::signed_message_of_digest;
use sha2::{Digest, Sha256};

/// The credentials a client presents.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Credentials {
    /// None: public reads, registration, login.
    #[default]
    Anonymous,
    /// An API key (`ak_…`), sent as `Authorization: Bearer` on Agora routes and as
    /// `X-API-Key` on AgentMarket ones.
    ApiKey(String),
    /// A session token from [`Client::login`](crate::Client::login) or
    /// [`Client::signup`](crate::Client::signup), sent as `Authorization: Bearer`.
    Session(String),
    /// A node's own key: every request is signed (see
    /// [`marketplace_api::signing`]).
    Node(NodeKey),
}

impl std::fmt::Debug for Credentials {
    /// Names the kind only: a secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Anonymous => "Anonymous",
            Self::ApiKey(_) => "ApiKey(…)",
            Self::Session(_) => "Session(…)",
            Self::Node(_) => "Node(…)",
        })
    }
}

/// A node's ed25519 key.
#[derive(Clone)]
pub struct NodeKey(SigningKey);

impl NodeKey {
    /// A new random key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(Self::from_seed(seed))
    }

    /// The key of a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The key of a seed written as 64 hex digits (what [`NodeKey::seed_hex`] gives).
    pub fn from_seed_hex(hex_seed: &str) -> Option<Self> {
        let bytes: [u8; 32] = hex::decode(hex_seed.trim()).ok()?.try_into().ok()?;
        Some(Self::from_seed(bytes))
    }

    /// The seed as 64 hex digits: keep it secret.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// The identity hash this key proves: the SHA-256 of the public key, hex.
    ///
    /// ```
    /// let key = marketplace_client::NodeKey::from_seed([7; 32]);
    /// assert_eq!(key.identity_hash().len(), 64);
    /// ```
    pub fn identity_hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.verifying_key().as_bytes()))
    }

    /// The four `X-Knarr-*` headers of a request whose body has the SHA-256
    /// `body_sha256`, signed now with a fresh nonce.
    pub(crate) fn sign_digest(
        &self,
        method: &str,
        path_and_query: &str,
        body_sha256: &[u8; 32],
    ) -> Result<[(&'static str, String); 4], getrandom::Error> {
        use marketplace_api::signing::{
            NONCE_HEADER, PUBLIC_KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
        };
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let nonce = random_hex(16)?;
        let message =
            signed_message_of_digest(method, path_and_query, &timestamp, &nonce, body_sha256);
        let signature = hex::encode(self.0.sign(message.as_bytes()).to_bytes());
        Ok([
            (PUBLIC_KEY_HEADER, self.public_hex()),
            (TIMESTAMP_HEADER, timestamp),
            (NONCE_HEADER, nonce),
            (SIGNATURE_HEADER, signature),
        ])
    }
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey({})", self.public_hex())
    }
}

/// `bytes` random bytes as hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)?;
    Ok(hex::encode(buffer))
}
