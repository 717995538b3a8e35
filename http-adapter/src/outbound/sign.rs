//! Webhook secrets and signatures.
//!
//! A secret looks like `whsec_<base64 of 32 random bytes>`. Every request the marketplace
//! sends to a user's URL carries two signatures made with it:
//!
//! - AgentMarket's: `X-AgentMarket-Signature: sha256=<hex HMAC-SHA256 of the raw body>`,
//!   keyed by the whole secret string (what the seed's JavaScript snippet checks);
//! - Standard Webhooks': `webhook-signature: v1,<base64 HMAC-SHA256 of
//!   "{webhook-id}.{webhook-timestamp}.{body}">`, keyed by the secret's decoded bytes, so a
//!   receiver can also refuse replays (an old timestamp, an id seen before).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new random secret.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

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
/// use http_adapter::outbound::sign::agentmarket_signature;
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

/// The headers of a signed JSON request: `Content-Type`, `X-AgentMarket-Event`,
/// `X-AgentMarket-Signature`, `webhook-id`, `webhook-timestamp` and `webhook-signature`.
pub fn signed_headers(
    secret: &str,
    event: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("content-type", "application/json".to_owned());
    put("x-agentmarket-event", event.to_owned());
    put(
        "x-agentmarket-signature",
        agentmarket_signature(secret, body),
    );
    put("webhook-id", id.to_owned());
    put("webhook-timestamp", timestamp.to_string());
    put(
        "webhook-signature",
        standard_signature(secret, id, timestamp, body),
    );
    headers
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

    #[test]
    fn secrets_are_fresh_and_prefixed() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(
            STANDARD.decode(&a[SECRET_PREFIX.len()..]).unwrap().len(),
            32
        );
    }
}
