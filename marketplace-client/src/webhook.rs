//! Checking the webhooks an agent receives: both signatures the marketplace puts on every
//! webhook (see [`marketplace_api::signing`]), and a replay window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use marketplace_api::signing::{
    AGENTMARKET_SIGNATURE_HEADER, EVENT_HEADER, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER, agentmarket_signature, standard_signature,
};
use reqwest::header::HeaderMap;

/// The most message ids remembered against replays; past it the oldest are forgotten (they
/// are older than the window in any realistic flow).
pub const SEEN_IDS_MAX: usize = 100_000;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A header the check needs is missing or not text.
    #[error("the webhook lacks the {0} header")]
    Missing(&'static str),
    /// The signature does not match the body and the secret.
    #[error("the webhook's signature does not match")]
    BadSignature,
    /// The timestamp is outside the window around the receiver's clock.
    #[error("the webhook's timestamp is outside the {0:?} window")]
    Stale(Duration),
    /// The message id was accepted before: a replay.
    #[error("the webhook {0} was received before")]
    Replayed(String),
}

/// A webhook that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The event's name (`X-AgentMarket-Event`), e.g. `task.posted`.
    pub event: Option<String>,
    /// The message id (`webhook-id`), the same on every retry of one delivery.
    pub id: String,
}

/// Checks webhooks signed with one secret (`whsec_…`, from registration, `PUT
/// /api/agents/me/webhook` or `POST /api/v1/webhooks/secret`).
///
/// [`WebhookVerifier::verify`] checks the Standard Webhooks signature over id, timestamp and
/// body, that the timestamp is within the window (5 minutes by default) of the receiver's
/// clock, that the id was not accepted before — and the AgentMarket signature of the body
/// as well, when present. [`WebhookVerifier::verify_agentmarket`] checks that signature alone
/// (it carries no timestamp, so it cannot refuse a replay).
///
/// ```
/// use marketplace_api::signing::{agentmarket_signature, standard_signature};
/// use marketplace_client::WebhookVerifier;
/// use reqwest::header::{HeaderMap, HeaderValue};
///
/// let secret = "whsec_c2VjcmV0IGJ5dGVzIG9mIGEgd2ViaG9vaw==";
/// let body = br#"{"event": "task.posted"}"#;
/// let now = 1_800_000_000;
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", HeaderValue::from_static("msg_1"));
/// headers.insert("webhook-timestamp", HeaderValue::from(now));
/// let signature = standard_signature(secret, "msg_1", now, body);
/// headers.insert("webhook-signature", signature.parse().unwrap());
/// headers.insert("x-agentmarket-signature", agentmarket_signature(secret, body).parse().unwrap());
///
/// let verifier = WebhookVerifier::new(secret);
/// assert_eq!(verifier.verify(&headers, body, now).unwrap().id, "msg_1");
/// // The same delivery again is a replay.
/// assert!(verifier.verify(&headers, body, now).is_err());
/// ```
#[derive(Debug)]
pub struct WebhookVerifier {
    secret: String,
    window: Duration,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    at: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl WebhookVerifier {
    /// A verifier for `secret` with a 5-minute window.
    pub fn new(secret: &str) -> Self {
        Self::with_window(secret, Duration::from_secs(300))
    }

    /// A verifier for `secret` accepting timestamps within `window` of the receiver's clock.
    pub fn with_window(secret: &str, window: Duration) -> Self {
        Self {
            secret: secret.to_owned(),
            window,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Checks a received webhook: its headers and raw body, at `now` (unix seconds).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, WebhookError> {
        let text = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(WebhookError::Missing(name))
        };
        let id = text(WEBHOOK_ID_HEADER)?;
        let timestamp: i64 = text(WEBHOOK_TIMESTAMP_HEADER)?
            .trim()
            .parse()
            .map_err(|_| WebhookError::Missing(WEBHOOK_TIMESTAMP_HEADER))?;
        let expected = standard_signature(&self.secret, id, timestamp, body);
        // The header may carry several signatures (during a secret's rotation), space-separated.
        let matches = text(WEBHOOK_SIGNATURE_HEADER)?
            .split(' ')
            .any(|candidate| same(candidate.as_bytes(), expected.as_bytes()));
        if !matches {
            return Err(WebhookError::BadSignature);
        }
        if let Ok(signature) = text(AGENTMARKET_SIGNATURE_HEADER) {
            self.verify_agentmarket(signature, body)?;
        }
        let window = i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX);
        if (now - timestamp).abs() > window {
            return Err(WebhookError::Stale(self.window));
        }
        self.remember(id, now, window)?;
        Ok(Verified {
            event: text(EVENT_HEADER).ok().map(str::to_owned),
            id: id.to_owned(),
        })
    }

    /// Checks AgentMarket's `X-AgentMarket-Signature: sha256=<hex>` of `body`.
    pub fn verify_agentmarket(&self, signature: &str, body: &[u8]) -> Result<(), WebhookError> {
        let expected = agentmarket_signature(&self.secret, body);
        if same(signature.trim().as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    /// Records `id` as accepted at `now`; refuses it if it was accepted within the window.
    fn remember(&self, id: &str, now: i64, window: i64) -> Result<(), WebhookError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Ids older than twice the window can no longer pass the timestamp check.
        while let Some((at, _)) = seen.order.front() {
            if now - *at <= 2 * window && seen.order.len() < SEEN_IDS_MAX {
                break;
            }
            if let Some((_, old)) = seen.order.pop_front() {
                seen.at.remove(&old);
            }
        }
        if seen.at.contains_key(id) {
            return Err(WebhookError::Replayed(id.to_owned()));
        }
        seen.at.insert(id.to_owned(), now);
        seen.order.push_back((now, id.to_owned()));
        Ok(())
    }
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn signed(id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_ID_HEADER, id.parse().unwrap());
        headers.insert(WEBHOOK_TIMESTAMP_HEADER, HeaderValue::from(timestamp));
        let signature = standard_signature(SECRET, id, timestamp, body);
        headers.insert(WEBHOOK_SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    #[test]
    fn the_window_holds_at_its_edges() {
        let verifier = WebhookVerifier::new(SECRET);
        let now = 1_800_000_000;
        assert!(
            verifier
                .verify(&signed("a", now - 300, b"{}"), b"{}", now)
                .is_ok()
        );
        assert!(
            verifier
                .verify(&signed("b", now + 300, b"{}"), b"{}", now)
                .is_ok()
        );
        assert_eq!(
            verifier.verify(&signed("c", now - 301, b"{}"), b"{}", now),
            Err(WebhookError::Stale(Duration::from_secs(300)))
        );
        assert!(
            verifier
                .verify(&signed("d", now + 301, b"{}"), b"{}", now)
                .is_err()
        );
    }

    #[test]
    fn a_changed_body_a_wrong_secret_or_a_replay_is_refused() {
        let now = 1_800_000_000;
        let headers = signed("msg", now, b"{\"a\":1}");
        let verifier = WebhookVerifier::new(SECRET);
        assert_eq!(
            verifier.verify(&headers, b"{\"a\":2}", now),
            Err(WebhookError::BadSignature)
        );
        let other = WebhookVerifier::new("whsec_b3RoZXI=");
        assert_eq!(
            other.verify(&headers, b"{\"a\":1}", now),
            Err(WebhookError::BadSignature)
        );
        assert!(verifier.verify(&headers, b"{\"a\":1}", now).is_ok());
        assert_eq!(
            verifier.verify(&headers, b"{\"a\":1}", now + 10),
            Err(WebhookError::Replayed("msg".into()))
        );
        let mut forged = headers.clone();
        forged.insert(
            AGENTMARKET_SIGNATURE_HEADER,
            HeaderValue::from_static("sha256=00"),
        );
        assert_eq!(
            WebhookVerifier::new(SECRET).verify(&forged, b"{\"a\":1}", now),
            Err(WebhookError::BadSignature)
        );
        let mut bare = HeaderMap::new();
        bare.insert(WEBHOOK_ID_HEADER, HeaderValue::from_static("x"));
        assert_eq!(
            verifier.verify(&bare, b"{}", now),
            Err(WebhookError::Missing(WEBHOOK_TIMESTAMP_HEADER))
        );
    }
}
