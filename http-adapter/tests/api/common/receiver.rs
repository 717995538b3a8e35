//! A real HTTPS receiver for what the marketplace sends: a certificate authority made in
//! the test (trusted by the server through its extra CA), a leaf certificate for
//! `localhost` and 127.0.0.1, and an axum app behind rustls that records every request and
//! checks its signatures exactly as the seed's JavaScript snippet does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How the receiver answers requests to one path.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// 200 `{"ok": true}`.
    Ok,
    /// 200 `{"result": <text>}`: an agent's endpoint.
    Result(String),
    /// This status.
    Status(u16),
    /// Wait this long, then 200.
    Slow(Duration),
    /// 307 to this URL.
    Redirect(String),
    /// 200 `{"result": <this many bytes>}`.
    Huge(usize),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) event: String,
    pub(crate) webhook_id: String,
    pub(crate) timestamp: i64,
    /// `X-AgentMarket-Signature` checked as the seed's JavaScript does.
    pub(crate) agentmarket_ok: bool,
    /// `webhook-signature` checked as the Standard Webhooks specification says.
    pub(crate) standard_ok: bool,
    /// What the receiver answered.
    pub(crate) answered: u16,
    pub(crate) body: Value,
}

#[derive(Default)]
struct Inner {
    secrets: Mutex<HashMap<String, String>>,
    modes: Mutex<HashMap<String, Mode>>,
    received: Mutex<Vec<Received>>,
    fail_next: AtomicUsize,
}

/// The receiver; stops when dropped.
pub(crate) struct Receiver {
    pub(crate) address: SocketAddr,
    /// The test CA's certificate, PEM: what the server must trust.
    pub(crate) ca_pem: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The seed's `verifySignature(body, secret, signatureHeader)`, in Rust.
pub(crate) fn verify_signature(body: &[u8], secret: &str, signature_header: &str) -> bool {
    let expected = format!("sha256={}", hex::encode(hmac(secret.as_bytes(), &[body])));
    expected == signature_header
}

/// A Standard Webhooks check of `webhook-signature`.
pub(crate) fn verify_standard(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    sig: &str,
) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap_or_default();
    let signed = hmac(
        &key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    let expected = format!("v1,{}", STANDARD.encode(signed));
    sig.split(' ').any(|s| s == expected)
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[allow(clippy::too_many_arguments)]
fn record(
    inner: &Inner,
    path: String,
    headers: &HeaderMap,
    webhook_id: String,
    timestamp: &str,
    (agentmarket_ok, standard_ok): (bool, bool),
    answered: u16,
    body: &[u8],
) {
    inner.received.lock().unwrap().push(Received {
        path,
        event: header(headers, "x-agentmarket-event"),
        webhook_id,
        timestamp: timestamp.parse().unwrap_or_default(),
        agentmarket_ok,
        standard_ok,
        answered,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let secret = inner.secrets.lock().unwrap().get(&path).cloned();
    let id = header(&headers, "webhook-id");
    let timestamp = header(&headers, "webhook-timestamp");
    let (agentmarket_ok, standard_ok) = match &secret {
        Some(secret) => (
            verify_signature(&body, secret, &header(&headers, "x-agentmarket-signature")),
            verify_standard(
                secret,
                &id,
                &timestamp,
                &body,
                &header(&headers, "webhook-signature"),
            ),
        ),
        None => (false, false),
    };
    let failing = inner
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let mode = inner
        .modes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Mode::Ok);
    if let (false, Mode::Redirect(to)) = (failing, &mode) {
        record(
            &inner,
            path,
            &headers,
            id,
            &timestamp,
            (agentmarket_ok, standard_ok),
            307,
            &body,
        );
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, to.clone())],
        )
            .into_response();
    }
    let (status, answer) = if failing {
        (500, json!({ "error": "not now" }))
    } else {
        match mode {
            Mode::Redirect(_) => unreachable!("answered above"),
            Mode::Huge(bytes) => (200, json!({ "result": "x".repeat(bytes) })),
            Mode::Ok => (200, json!({ "ok": true })),
            Mode::Result(text) => (200, json!({ "result": text })),
            Mode::Status(code) => (code, json!({ "error": "refused" })),
            Mode::Slow(wait) => {
                tokio::time::sleep(wait).await;
                (200, json!({ "result": "too late" }))
            }
        }
    };
    record(
        &inner,
        path,
        &headers,
        id,
        &timestamp,
        (agentmarket_ok, standard_ok),
        status,
        &body,
    );
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
}

impl Receiver {
    /// A receiver on 127.0.0.1 with a fresh CA and certificate.
    pub(crate) async fn start() -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "marketplace test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(receive).with_state(inner.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                        .await;
                });
            }
        });
        Self {
            address,
            ca_pem: ca_cert.pem(),
            inner,
            task,
        }
    }

    /// `https://localhost:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }

    /// `https://127.0.0.1:<port><path>`.
    pub(crate) fn ip_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.address.port())
    }

    /// Checks requests to `path` with `secret`.
    pub(crate) fn set_secret(&self, path: &str, secret: &str) {
        self.inner
            .secrets
            .lock()
            .unwrap()
            .insert(path.to_owned(), secret.to_owned());
    }

    /// Answers requests to `path` as `mode` says.
    pub(crate) fn respond(&self, path: &str, mode: Mode) {
        self.inner
            .modes
            .lock()
            .unwrap()
            .insert(path.to_owned(), mode);
    }

    /// Answers the next `n` requests (any path) with 500.
    pub(crate) fn fail_next(&self, n: usize) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Waits (up to `within`) until `done` holds for what was received; returns it.
    pub(crate) async fn wait_until(
        &self,
        within: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if done(&got) || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
