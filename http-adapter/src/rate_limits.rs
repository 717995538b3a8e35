//! Rate limits: one token bucket per client IP and one per identity (per credential
//! presented), answered with 429, `Retry-After` and the API's error body.
//!
//! Buckets live in this process's memory; several replicas each enforce their own. Idle
//! buckets are forgotten every minute, so forged credentials cannot grow the table.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use crate::error::ApiError;
use crate::limits::{
    IDENTITY_REQUESTS_PER_SEC, IP_REQUESTS_PER_SEC, LOGIN_ATTEMPT_KEYS_MAX,
    LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE, LOGIN_ATTEMPTS_PER_IP_PER_MINUTE,
};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// How often idle buckets are dropped.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_second: u32,
    /// Requests that may arrive at once after a quiet spell.
    pub burst: u32,
}

impl Rate {
    /// `per_second` sustained, bursts of twice that.
    pub fn per_second(per_second: u32) -> Self {
        Self {
            per_second,
            burst: per_second.saturating_mul(2),
        }
    }
}

/// The limits a router enforces; `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per client IP (the connection's peer address).
    pub per_ip: Option<Rate>,
    /// Per identity: per API key, session token or node key presented.
    pub per_identity: Option<Rate>,
}

impl Default for RateLimits {
    /// [`IP_REQUESTS_PER_SEC`] per IP, [`IDENTITY_REQUESTS_PER_SEC`] per identity, bursts of
    /// twice that.
    fn default() -> Self {
        Self {
            per_ip: Some(Rate::per_second(IP_REQUESTS_PER_SEC)),
            per_identity: Some(Rate::per_second(IDENTITY_REQUESTS_PER_SEC)),
        }
    }
}

impl RateLimits {
    /// No limits (benchmarks; deployments limiting at a proxy).
    pub fn off() -> Self {
        Self {
            per_ip: None,
            per_identity: None,
        }
    }
}

/// The connection's peer IP, when the server records it (see [`crate::server::serve`]);
/// otherwise every request shares one bucket.
pub(crate) fn peer_ip<T>(request: &Request<T>) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// Keys by peer IP.
#[derive(Debug, Clone, Copy)]
struct ByIp;

impl KeyExtractor for ByIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(peer_ip(request))
    }
}

/// Keys by the credential presented (hashed), or by IP for anonymous requests.
#[derive(Debug, Clone, Copy)]
struct ByIdentity;

impl KeyExtractor for ByIdentity {
    type Key = [u8; 32];

    fn extract<T>(&self, request: &Request<T>) -> Result<[u8; 32], GovernorError> {
        let headers = request.headers();
        let credential = ["authorization", "x-api-key", "x-knarr-publickey"]
            .into_iter()
            .find_map(|name| headers.get(name).map(HeaderValue::as_bytes));
        let mut hasher = Sha256::new();
        match credential {
            Some(credential) => hasher.update(credential),
            None => hasher.update(peer_ip(request).to_string()),
        }
        Ok(hasher.finalize().into())
    }
}

fn refused(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => ApiError::RateLimited {
            retry_after_secs: wait_time.max(1),
        }
        .into_response(),
        other => ApiError::internal(format!("rate limiter: {other}")).into_response(),
    }
}

fn layer<K, S>(router: Router<S>, rate: Rate, key: K) -> Router<S>
where
    K: KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync,
    S: Clone + Send + Sync + 'static,
{
    let period = Duration::from_secs(1) / rate.per_second.max(1);
    let Some(config) = GovernorConfigBuilder::default()
        .key_extractor(key)
        .period(period)
        .burst_size(rate.burst.max(1))
        .finish()
    else {
        return router;
    };
    // The sweeper holds the buckets weakly: it ends when the router is dropped.
    let limiter = std::sync::Arc::downgrade(config.limiter());
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(FORGET_EVERY);
            loop {
                ticks.tick().await;
                match limiter.upgrade() {
                    Some(limiter) => limiter.retain_recent(),
                    None => return,
                }
            }
        });
    }
    router.layer(tower_governor::GovernorLayer::new(config).error_handler(refused))
}

/// Wraps `router` in the limits: the IP limit outermost, so a flood is turned away before
/// any credential is looked at.
pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>, limits: RateLimits) -> Router<S> {
    let router = match limits.per_identity {
        Some(rate) => layer(router, rate, ByIdentity),
        None => router,
    };
    match limits.per_ip {
        Some(rate) => layer(router, rate, ByIp),
        None => router,
    }
}

/// Login attempts, limited per account and per client IP: a guesser is slowed whether it
/// tries many passwords on one account or one password on many. In this process's memory,
/// like the other buckets.
#[derive(Debug)]
pub struct LoginAttempts {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginAttempts {
    /// [`LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE`] per account,
    /// [`LOGIN_ATTEMPTS_PER_IP_PER_MINUTE`] per IP.
    fn default() -> Self {
        let per_minute =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(per_minute(LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE)),
            per_ip: RateLimiter::keyed(per_minute(LOGIN_ATTEMPTS_PER_IP_PER_MINUTE)),
        }
    }
}

impl LoginAttempts {
    /// Counts an attempt on `account` (as normalised) from `ip`; refused with 429 and the
    /// seconds to wait once either has used its quota.
    pub fn attempt(&self, account: &str, ip: IpAddr) -> Result<(), ApiError> {
        for limiter_len in [self.per_account.len(), self.per_ip.len()] {
            if limiter_len > LOGIN_ATTEMPT_KEYS_MAX {
                self.per_account.retain_recent();
                self.per_ip.retain_recent();
            }
        }
        let now = DefaultClock::default().now();
        let refused = |wait: Duration| ApiError::RateLimited {
            retry_after_secs: wait.as_secs() + 1,
        };
        self.per_ip
            .check_key(&ip)
            .map_err(|n| refused(n.wait_time_from(now)))?;
        self.per_account
            .check_key(&account.to_owned())
            .map_err(|n| refused(n.wait_time_from(now)))
    }
}

/// The client's IP, as the connection reports it (unspecified where it is not known).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}
