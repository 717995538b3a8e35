//! Signatures both ends of the API compute the same way: a node's signed request, and the
//! two signatures on every webhook the marketplace sends.
//!
//! **Signed requests.** A node (an identity that keeps its own ed25519 key) signs every
//! request: the bytes of [`signed_message`] — method, path with query, timestamp, nonce
//! and the body's SHA-256 — go in [`SIGNATURE_HEADER`] as hex, beside its public key, the
//! timestamp (unix seconds) and the nonce. The server refuses a timestamp more than five
//! minutes from its clock and a nonce it has seen.
//!
//! **Webhooks.** A webhook secret looks like `whsec_<base64 of 32 random bytes>`. Every
//! request the marketplace sends to a user's URL carries two signatures made with it:
//!
//! - AgentMarket's: `X-AgentMarket-Signature: sha256=<hex HMAC-SHA256 of the raw body>`,
//!   keyed by the whole secret string (what the AgentMarket document's snippet checks);
//! - Standard Webhooks': `webhook-signature: v1,<base64 HMAC-SHA256 of
//!   "{webhook-id}.{webhook-timestamp}.{body}">`, keyed by the secret's decoded bytes, so a
//!   receiver can also refuse replays (an old timestamp, an id seen before).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The signer's ed25519 public key, hex.
pub const PUBLIC_KEY_HEADER: &str = "x-knarr-publickey";
/// When the request was signed, unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-knarr-timestamp";
/// A value the signer never uses twice (1 to 64 printable characters).
pub const NONCE_HEADER: &str = "x-knarr-nonce";
/// The ed25519 signature of [`signed_message`], hex.
pub const SIGNATURE_HEADER: &str = "x-knarr-signature";

/// The bytes a node signs: method, path with query, timestamp, nonce and the body's
/// SHA-256 (hex), joined by single newlines.
///
/// ```
/// let message = marketplace_api::signing::signed_message("GET", "/api/v1/balance", "1800000000", "n1", b"");
/// assert!(message.starts_with("GET\n/api/v1/balance\n1800000000\nn1\ne3b0c442"));
/// ```
pub fn signed_message(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    signed_message_of_digest(
        method,
        path_and_query,
        timestamp,
        nonce,
        &Sha256::digest(body).into(),
    )
}

/// [`signed_message`] for a body known by its SHA-256 (a file streamed as it is sent).
pub fn signed_message_of_digest(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body_sha256: &[u8; 32],
) -> String {
    format!(
        "{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        hex::encode(body_sha256)
    )
}

/// What every webhook secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// The event's name on a webhook request.
pub const EVENT_HEADER: &str = "x-agentmarket-event";
/// AgentMarket's signature of a webhook request, see [`agentmarket_signature`].
pub const AGENTMARKET_SIGNATURE_HEADER: &str = "x-agentmarket-signature";
/// The Standard Webhooks message id.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// The Standard Webhooks timestamp, unix seconds.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The Standard Webhooks signature, see [`standard_signature`].
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// AgentMarket's signature header value: `sha256=<hex HMAC-SHA256(secret, body)>`.
///
/// ```
/// use marketplace_api::signing::agentmarket_signature;
/// let sig = agentmarket_signature("whsec_c2VjcmV0", b"{}");
/// assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
/// ```
pub fn agentmarket_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), &[body])))
}

/// The Standard Webhooks signature header value: `v1,<base64 HMAC-SHA256>` over
/// `{id}.{timestamp}.{body}`, keyed by the base64 after the secret's prefix (the whole
/// string's bytes if it is not base64).
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| secret.as_bytes().to_vec());
    let signed = hmac(
        &key,
        &[
            id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ],
    );
    format!("v1,{}", STANDARD.encode(signed))
}

/// Leading zero bits of a digest: how much work a registration's proof of work shows
/// (`X-Registration-Pow: TIMESTAMP:NONCE`, whose SHA-256 must start with the number of
/// zero bits the server asks for).
///
/// ```
/// assert_eq!(marketplace_api::signing::zero_bits(&[0, 0x1f, 0xff]), 11);
/// ```
pub fn zero_bits(digest: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in digest {
        bits += byte.leading_zeros();
        if *byte != 0 {
            break;
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agentmarket_signature_is_the_hmac_of_the_body_keyed_by_the_secret() {
        // RFC 4231 test case 2: key "Jefe".
        let sig = agentmarket_signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn standard_signature_matches_the_specification_example() {
        // The example of the Standard Webhooks specification.
        let sig = standard_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
