//! The server's connections, bounded: how many are served at once, and how long a client
//! may take to send a request. A client that opens connections and trickles its headers,
//! or holds a connection open without a word, loses it.
//!
//! - **Header read:** a request's head must arrive whole within
//!   [`ConnectionLimits::header_read_timeout`] of the moment the connection starts waiting
//!   for it — on a new connection, and between requests on a kept-alive one. The same clock
//!   is the idle timeout of kept-alive connections.
//! - **Body:** a request body that sends nothing for [`ConnectionLimits::body_timeout`] is
//!   cut off; the request is answered 408.
//! - **Count:** at most [`ConnectionLimits::connections_max`] connections are served at
//!   once; more wait, unaccepted, in the listener's backlog.
//! - **Head size** ([`refuse_oversized_heads`], in the router): a request target longer than
//!   [`URI_BYTES_MAX`] is answered 414, and headers beyond [`HEADER_BYTES_MAX`] or
//!   [`HEADERS_MAX`] fields 431, each with the error body of every other refusal. (A head far beyond these — a target past 64 KiB, more
//!   than [`HEADERS_HARD_MAX`] fields, or past the parser's buffer — is refused by the HTTP
//!   parser itself, with an empty body, before a request exists to answer.)

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutBody;

use crate::error::ApiError;
use crate::limits::{
    BODY_TIMEOUT_SECS, CONNECTIONS_MAX, HEADER_BYTES_MAX, HEADER_READ_TIMEOUT_SECS,
    HEADERS_HARD_MAX, HEADERS_MAX, URI_BYTES_MAX,
};

/// How long the accept loop pauses after a failed accept (out of file descriptors, say),
/// rather than spin on the error.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Bounds on the connections a server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's head, counted from the moment the
    /// connection waits for one; also how long a kept-alive connection may sit idle.
    pub header_read_timeout: Duration,
    /// How long a request body may send nothing before it is cut off (408).
    pub body_timeout: Duration,
    /// Connections served at once.
    pub connections_max: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(HEADER_READ_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(BODY_TIMEOUT_SECS),
            connections_max: CONNECTIONS_MAX,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting and lets in-flight requests finish (idle connections close at once). Each
/// request carries the peer's address as [`ConnectInfo`], which the per-IP rate limit
/// keys on.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(HEADERS_HARD_MAX);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(|body| TimeoutBody::new(body_timeout, body));
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A connection ends in an error when its client breaks off or times out: the
            // client's business, not the server's.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Middleware: refuses a request whose head is larger than the bounds (414, 431) before
/// anything reads it. The router mounts it inside the AgentMarket envelope, so each
/// dialect's paths answer in their own error format.
pub async fn refuse_oversized_heads(request: Request<Body>, next: Next) -> Response {
    match head_too_large(&request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    }
}

/// The refusal of a request whose head is larger than the bounds, if it is.
fn head_too_large<B>(request: &Request<B>) -> Option<ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > URI_BYTES_MAX {
        return Some(ApiError::UriTooLong {
            max_bytes: URI_BYTES_MAX,
        });
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers.len() > HEADERS_MAX || bytes > HEADER_BYTES_MAX).then_some(ApiError::HeadersTooLarge {
        max_bytes: HEADER_BYTES_MAX,
        max_fields: HEADERS_MAX,
    })
}
