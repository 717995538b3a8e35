//! Webhook secrets, and the headers of a signed webhook request; the signatures are
//! [`marketplace_api::signing`]'s (the scheme is described there).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use marketplace_api::signing::{
    AGENTMARKET_SIGNATURE_HEADER, EVENT_HEADER, SECRET_PREFIX, WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, agentmarket_signature, standard_signature,
};

/// A new random secret.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
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
    put(EVENT_HEADER, event.to_owned());
    put(
        AGENTMARKET_SIGNATURE_HEADER,
        agentmarket_signature(secret, body),
    );
    put(WEBHOOK_ID_HEADER, id.to_owned());
    put(WEBHOOK_TIMESTAMP_HEADER, timestamp.to_string());
    put(
        WEBHOOK_SIGNATURE_HEADER,
        standard_signature(secret, id, timestamp, body),
    );
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

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
