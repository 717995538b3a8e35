//! The guarded HTTP client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Certificate, Url};

use super::guard::is_refused;

/// How outbound requests are made.
#[derive(Debug, Clone, Default)]
pub struct OutboundConfig {
    /// Let requests reach refused addresses (loopback, private, …): for operators whose
    /// agents live on their own network, and for tests. Off by default.
    pub allow_private: bool,
    /// Extra trusted CA certificates (PEM), beside the system's.
    pub extra_ca_pem: Option<Vec<u8>>,
}

/// Why an outbound request did not get an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The URL is not one the marketplace sends to (not `https://`, no host, malformed).
    #[error("{0}")]
    BadUrl(String),
    /// The host is, or resolves only to, refused addresses: nothing was sent.
    #[error("refused: {0}")]
    Refused(String),
    /// No complete answer within the time allowed.
    #[error("timed out after {0} ms")]
    Timeout(u128),
    /// The answer's body exceeded the cap.
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// Connecting, TLS, or the exchange failed.
    #[error("{0}")]
    Failed(String),
}

/// An answer: its status and (capped) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body, at most the cap asked for.
    pub body: Vec<u8>,
    /// From sending to the end of the body.
    pub latency: Duration,
}

/// A name that resolved only to refused addresses.
#[derive(Debug)]
struct RefusedHost(String);

impl std::fmt::Display for RefusedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves only to refused addresses", self.0)
    }
}

impl std::error::Error for RefusedHost {}

/// Resolves with the system resolver and keeps only addresses that may be reached: the
/// client connects to what this returns, nothing else.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || !is_refused(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedHost(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The client for every request the marketplace makes to its users' URLs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    /// For URLs the operator configured (the LLM's): no address guard, `http://` allowed.
    trusted: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    /// A client for `config`. Fails on an unreadable CA bundle or TLS setup.
    pub fn new(config: &OutboundConfig) -> Result<Self, String> {
        let certs = match &config.extra_ca_pem {
            Some(pem) => {
                let certs = Certificate::from_pem_bundle(pem)
                    .map_err(|e| format!("reading the CA certificates: {e}"))?;
                if certs.is_empty() {
                    return Err("the CA file holds no certificate".to_owned());
                }
                certs
            }
            None => Vec::new(),
        };
        let builder = || {
            let builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("agent-marketplace/", env!("CARGO_PKG_VERSION")));
            if certs.is_empty() {
                builder
            } else {
                builder.tls_certs_merge(certs.iter().cloned())
            }
        };
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| format!("setting up the outbound client: {}", chain(&e)))
        };
        let client = build(builder().https_only(true).dns_resolver(GuardedResolver {
            allow_private: config.allow_private,
        }))?;
        let trusted = build(builder())?;
        Ok(Self {
            client,
            trusted,
            allow_private: config.allow_private,
        })
    }

    /// Whether requests may reach refused addresses.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Checks `url` before anything is sent: `https://`, a host, and — unless private
    /// addresses are allowed — no host that *is* a refused address, however it is spelled
    /// (`0x7f000001`, `2130706433` and `[::ffff:127.0.0.1]` are all 127.0.0.1). Host names
    /// are checked when they are resolved, at connect time.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed = Url::parse(url).map_err(|e| OutboundError::BadUrl(format!("{url:?}: {e}")))?;
        if parsed.scheme() != "https" {
            return Err(OutboundError::BadUrl("must start with https://".to_owned()));
        }
        let literal = match parsed.host() {
            None => return Err(OutboundError::BadUrl("has no host".to_owned())),
            Some(url::Host::Domain(_)) => None,
            Some(url::Host::Ipv4(a)) => Some(std::net::IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(std::net::IpAddr::V6(a)),
        };
        if let Some(addr) = literal.filter(|a| !self.allow_private && is_refused(*a)) {
            return Err(OutboundError::Refused(format!(
                "{addr} is a private or reserved address"
            )));
        }
        Ok(parsed)
    }

    /// POSTs `body` to `url` with `headers`, waiting at most `timeout` for the whole
    /// answer, of which at most `body_max` bytes are read.
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
        timeout: Duration,
        body_max: usize,
    ) -> Result<Answer, OutboundError> {
        let url = self.check_url(url)?;
        exchange(&self.client, url, headers, body, timeout, body_max).await
    }

    /// POSTs to a URL the operator configured (not one a user gave): `http://` allowed, no
    /// address refused. Otherwise as [`Outbound::post`].
    pub async fn post_trusted(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
        timeout: Duration,
        body_max: usize,
    ) -> Result<Answer, OutboundError> {
        let url = Url::parse(url).map_err(|e| OutboundError::BadUrl(format!("{url:?}: {e}")))?;
        exchange(&self.trusted, url, headers, body, timeout, body_max).await
    }
}

/// One POST through `client`, cut off at `timeout`, reading at most `body_max` bytes.
async fn exchange(
    client: &reqwest::Client,
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
    body_max: usize,
) -> Result<Answer, OutboundError> {
    let started = Instant::now();
    let exchange = async {
        let mut response = client.post(url).headers(headers).body(body).send().await?;
        let status = response.status().as_u16();
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if answer.len() + chunk.len() > body_max {
                return Ok(Err(OutboundError::TooLarge(body_max)));
            }
            answer.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Ok((status, answer)))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(OutboundError::Timeout(timeout.as_millis())),
        Ok(Err(e)) => Err(classify(&e)),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Ok(Ok((status, body)))) => Ok(Answer {
            status,
            body,
            latency: started.elapsed(),
        }),
    }
}

/// An error with its causes, outermost first.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn classify(error: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedHost>() {
            return OutboundError::Refused(refused.to_string());
        }
        source = cause.source();
    }
    OutboundError::Failed(chain(error))
}
