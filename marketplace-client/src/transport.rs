//! The transport under every call: one connection pool, the caller's credentials and a
//! retry policy; [`Transport::send`] signs, keys and retries a [`Call`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use marketplace_api::agentmarket::Envelope;
use marketplace_api::error::ErrorCode;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{Method, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use url::Url;

use crate::credentials::{Credentials, random_hex};
use crate::error::{Error, refusal};
use crate::retry::RetryPolicy;

/// The largest JSON answer read (a page of 100 tasks with their results is far smaller).
pub const ANSWER_BYTES_MAX: usize = 32 << 20;

/// A pool, a base URL, a retry policy and the credentials calls are made with. Cloning is
/// cheap and shares the pool.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    inner: Arc<Inner>,
    pub(crate) credentials: Credentials,
    /// The `Idempotency-Key` every keyed call carries, instead of a fresh one per call.
    pub(crate) idempotency_key: Option<String>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
    timeout: Duration,
    event_silence: Duration,
}

/// Which dialect a route belongs to: how an API key is presented and how answers travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `/api/v1/…` (and `/api/upload`): `Authorization: Bearer`, bare JSON answers.
    Agora,
    /// `/api/…`: `X-API-Key`, answers in an envelope.
    AgentMarket,
}

/// What sending a call twice would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Nothing: a read (or a change that is the same however often it is made).
    Read,
    /// A change carrying an `Idempotency-Key`: the marketplace runs it once.
    Keyed,
    /// A change the API takes no key for: sent again only when it surely did not run.
    Unkeyed,
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Json(Vec<u8>),
    Bytes {
        bytes: Vec<u8>,
        content_type: String,
    },
    /// A stream sent as it is read: it can be sent once (taken by the first attempt).
    Stream {
        body: Arc<std::sync::Mutex<Option<reqwest::Body>>>,
        content_type: String,
    },
    /// A file streamed from disk, with its length and SHA-256 (for a signature).
    File {
        path: PathBuf,
        content_type: String,
        sha256: [u8; 32],
    },
}

/// One call: method, path with its query, body, dialect, effect.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Body,
    pub(crate) dialect: Dialect,
    pub(crate) effect: Effect,
    /// The event stream's place to resume after (`Last-Event-ID`).
    pub(crate) last_event_id: Option<u64>,
    /// More headers: name and value.
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Call {
    /// A read of `path` in `dialect`.
    pub(crate) fn get(dialect: Dialect, path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            body: Body::Empty,
            dialect,
            effect: Effect::Read,
            last_event_id: None,
            headers: Vec::new(),
        }
    }

    /// A change: `method` on `path` with `body` as JSON (none when `None`).
    pub(crate) fn change<B: Serialize>(
        dialect: Dialect,
        method: Method,
        path: String,
        effect: Effect,
        body: Option<&B>,
    ) -> Result<Self, Error> {
        let body = match body {
            Some(body) => Body::Json(
                serde_json::to_vec(body).map_err(|e| Error::Invalid(format!("the body: {e}")))?,
            ),
            None => Body::Empty,
        };
        Ok(Self {
            method,
            path,
            body,
            dialect,
            effect,
            last_event_id: None,
            headers: Vec::new(),
        })
    }

    /// The same call with `query` after its path (nothing when every field is absent).
    pub(crate) fn query<Q: Serialize>(mut self, query: &Q) -> Result<Self, Error> {
        let encoded = serde_urlencoded::to_string(query)
            .map_err(|e| Error::Invalid(format!("the query: {e}")))?;
        if !encoded.is_empty() {
            self.path = format!("{}?{encoded}", self.path);
        }
        Ok(self)
    }
}

/// Characters left as they are in a path segment: RFC 3986's unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as one path segment: a `/` or `?` in an id cannot reach another route.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

impl Transport {
    /// A transport to `base`.
    pub(crate) fn new(
        http: reqwest::Client,
        base: Url,
        retry: RetryPolicy,
        (timeout, event_silence): (Duration, Duration),
        credentials: Credentials,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                base,
                retry,
                timeout,
                event_silence,
            }),
            credentials,
            idempotency_key: None,
        }
    }

    /// The same pool, with `credentials`.
    pub(crate) fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            credentials,
            idempotency_key: None,
        }
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &Url {
        &self.inner.base
    }

    /// The retry policy.
    pub(crate) fn retry(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// How long the event stream may stay silent before it is reopened.
    pub(crate) fn event_silence(&self) -> Duration {
        self.inner.event_silence
    }

    /// Sends `call`, retrying as the policy allows; a mutating call that may carry an
    /// `Idempotency-Key` gets one, the same on every attempt. Answers with the successful
    /// response, or the last error.
    pub(crate) async fn send(&self, call: &Call) -> Result<Response, Error> {
        self.send_streaming(call, false).await
    }

    /// [`Transport::send`]; when `streaming`, the answer is not bounded by the call timeout
    /// (the event stream).
    pub(crate) async fn send_streaming(
        &self,
        call: &Call,
        streaming: bool,
    ) -> Result<Response, Error> {
        let key = match call.effect {
            Effect::Keyed => match &self.idempotency_key {
                Some(key) => Some(key.clone()),
                None => Some(random_hex(16).map_err(|e| Error::Invalid(e.to_string()))?),
            },
            Effect::Read | Effect::Unkeyed => None,
        };
        let mut policy = self.inner.retry;
        if matches!(call.body, Body::Stream { .. }) {
            // What a stream sent is gone: it cannot be sent again.
            policy.attempts = 1;
        }
        let mut attempt = 1;
        loop {
            let error = match self.attempt(call, key.as_deref(), streaming).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            if attempt >= policy.attempts || !retryable(&error, call.effect) {
                return Err(error);
            }
            let retry_after = match &error {
                Error::Refused { retry_after, .. } => *retry_after,
                _ => None,
            };
            let Some(wait) = policy.delay(attempt, retry_after) else {
                return Err(error);
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        key: Option<&str>,
        streaming: bool,
    ) -> Result<Response, Error> {
        let url = self.url(&call.path)?;
        let mut request = self.inner.http.request(call.method.clone(), url.clone());
        if !streaming {
            request = request.timeout(self.inner.timeout);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(last) = call.last_event_id {
            request = request.header("Last-Event-ID", last.to_string());
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        let (body, content_type, digest): (reqwest::Body, Option<&str>, [u8; 32]) = match &call.body
        {
            Body::Empty => (
                reqwest::Body::from(Vec::new()),
                None,
                Sha256::digest([]).into(),
            ),
            Body::Json(bytes) => (
                reqwest::Body::from(bytes.clone()),
                Some("application/json"),
                Sha256::digest(bytes).into(),
            ),
            Body::Bytes {
                bytes,
                content_type,
            } => (
                reqwest::Body::from(bytes.clone()),
                Some(content_type),
                Sha256::digest(bytes).into(),
            ),
            Body::Stream { body, content_type } => {
                let taken = body.lock().unwrap_or_else(|e| e.into_inner()).take();
                let body = taken
                    .ok_or_else(|| Error::Invalid("a streamed body can be sent once".into()))?;
                if matches!(self.credentials, Credentials::Node(_)) {
                    return Err(Error::Invalid(
                        "a signed request needs its body's hash before it is sent".into(),
                    ));
                }
                (body, Some(content_type), [0; 32])
            }
            Body::File {
                path,
                content_type,
                sha256,
            } => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    Error::Invalid(format!("could not open {}: {e}", path.display()))
                })?;
                let stream = tokio_util::io::ReaderStream::new(file);
                (
                    reqwest::Body::wrap_stream(stream),
                    Some(content_type),
                    *sha256,
                )
            }
        };
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        match &self.credentials {
            Credentials::Anonymous => {}
            Credentials::ApiKey(key) if call.dialect == Dialect::AgentMarket => {
                request = request.header("X-API-Key", key);
            }
            Credentials::ApiKey(token) | Credentials::Session(token) => {
                request = request.bearer_auth(token);
            }
            Credentials::Node(node) => {
                let path_and_query = match url.query() {
                    Some(query) => format!("{}?{query}", url.path()),
                    None => url.path().to_owned(),
                };
                let headers = node
                    .sign_digest(call.method.as_str(), &path_and_query, &digest)
                    .map_err(|e| Error::Invalid(e.to_string()))?;
                for (name, value) in headers {
                    request = request.header(name, value);
                }
            }
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(Error::Unreachable)?;
        if response.status().is_success() {
            return Ok(response);
        }
        if response.status().is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere")
                .chars()
                .take(200)
                .collect::<String>();
            return Err(Error::Unexpected(format!(
                "{} answered a redirect to {to}: the API never redirects, and redirects are \
                 not followed (they could carry the credentials elsewhere)",
                self.inner.base
            )));
        }
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_bounded(response, 64 << 10).await?;
        Err(refusal(status, retry_after, &body))
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        let base = self.inner.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}"))
            .map_err(|e| Error::Invalid(format!("the URL for {path}: {e}")))
    }

    /// Sends `call` and reads its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let response = self.send(call).await?;
        let bytes = read_bounded(response, ANSWER_BYTES_MAX).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Unexpected(format!(
                "{} {}: {e}",
                call.method,
                without_query(&call.path)
            ))
        })
    }

    /// Sends an AgentMarket `call` and reads its envelope.
    pub(crate) async fn envelope<T: DeserializeOwned>(
        &self,
        call: &Call,
    ) -> Result<Envelope<T>, Error> {
        self.json(call).await
    }
}

fn without_query(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// Whether `error` may be answered by sending a call of `effect` again.
fn retryable(error: &Error, effect: Effect) -> bool {
    match error {
        Error::Refused { status, code, .. } => match effect {
            Effect::Read | Effect::Keyed => {
                *status >= 500 || *status == 429 || *code == ErrorCode::IdempotencyInProgress
            }
            // Turned away before it ran.
            Effect::Unkeyed => *status == 429,
        },
        Error::Unreachable(e) => match effect {
            Effect::Read | Effect::Keyed => true,
            Effect::Unkeyed => e.is_connect(),
        },
        Error::Unexpected(_) | Error::Invalid(_) => false,
    }
}

/// The body of `response`, refused past `max` bytes.
pub(crate) async fn read_bounded(mut response: Response, max: usize) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Error::Unreachable)? {
        if body.len() + chunk.len() > max {
            return Err(Error::Unexpected(format!(
                "an answer larger than {max} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_cannot_leave_their_place() {
        assert_eq!(segment("abc-123_x.y~z"), "abc-123_x.y~z");
        assert_eq!(segment("../admin?x=1"), "..%2Fadmin%3Fx%3D1");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn only_calls_that_cannot_act_twice_are_retried_after_an_answer() {
        let refused = |status, code: &str| Error::Refused {
            status,
            code: ErrorCode::parse(code),
            message: String::new(),
            retry_after: None,
        };
        for effect in [Effect::Read, Effect::Keyed] {
            assert!(retryable(&refused(503, "storage_error"), effect));
            assert!(retryable(&refused(429, "rate_limited"), effect));
            assert!(retryable(&refused(409, "idempotency_in_progress"), effect));
            assert!(!retryable(&refused(409, "already_claimed"), effect));
            assert!(!retryable(&refused(402, "insufficient_funds"), effect));
        }
        assert!(retryable(&refused(429, "rate_limited"), Effect::Unkeyed));
        assert!(!retryable(&refused(500, "internal"), Effect::Unkeyed));
    }
}
