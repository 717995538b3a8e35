//! The router, the server loop, and the background deadline sweep and blob collector.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::middleware;
use axum::routing::get;
use marketplace_core::store::Backend;
use marketplace_core::{Marketplace, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::blobs::BlobDir;
pub use crate::connections::{ConnectionLimits, serve_with};
use crate::error::ApiError;
use crate::limits::{SWEEP_BATCH_MAX, SWEEP_INTERVAL_MS_DEFAULT};
use crate::mcp::{self, McpServer};
pub use crate::operations::{healthz, metrics_text};
use crate::rate_limits::{self, RateLimits};
pub use crate::state::{AppState, BLOB_DIR_DEFAULT, Config};
use crate::{auth, metrics, openapi};

/// The marketplace's HTTP routes, ready to serve or to nest in a larger app. (To run the
/// webhook dispatcher beside them, build the [`AppState`] first and use [`app`].)
pub fn router<S: Backend + Clone>(market: Marketplace<S>, config: Config) -> Router {
    let rate_limits = config.rate_limits;
    app(AppState::new(market, config), rate_limits)
}

/// The routes over an existing state, e.g. one the dispatcher also runs on: the documented
/// ones of [`openapi::routes`], the document itself (at `/api/v1/openapi.json` and as the
/// page at [`DOCS_PATH`]), `/`, and a 404 in the API's format for any other path.
pub fn app<S: Backend + Clone>(state: AppState<S>, rate_limits: RateLimits) -> Router {
    metrics::handle();
    let (api, document) = openapi::routes::<S>().split_for_parts();
    // Serialized once; each answer shares the bytes.
    let document_json =
        Bytes::from(serde_json::to_vec(&document).unwrap_or_else(|_| b"{}".to_vec()));
    let mcp = mcp_server(state.clone(), api.clone(), &document);
    let mcp_routes = Router::new()
        .route_service(mcp::MCP_PATH, mcp::service(mcp, state.mcp_hosts.to_vec()))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            mcp::authenticate::<S>,
        ));
    let routes = api
        .merge(mcp_routes)
        .merge(crate::web::routes::<S>())
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let body = document_json.clone();
                async move { ([(CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .merge(api_reference(document))
        .fallback(no_such_route)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::verify_signature::<S>,
        ))
        .layer(DefaultBodyLimit::max(state.body_bytes_max))
        .layer(middleware::from_fn(crate::input::refuse_nul_in_uri))
        .route_layer(middleware::from_fn(metrics::track));
    // Outermost: AgentMarket's error envelope, so even rate-limit and head-size refusals on
    // its paths answer in its format; then the head-size bounds, before anything reads it.
    rate_limits::apply(routes.with_state(state), rate_limits)
        .layer(middleware::from_fn(
            crate::connections::refuse_oversized_heads,
        ))
        .layer(middleware::from_fn(crate::agentmarket::envelope_errors))
}

/// The MCP server over `state`: its tools run through `api`, the documented routes of
/// `document`, with the bounds the REST API has.
fn mcp_server<S: Backend + Clone>(
    state: AppState<S>,
    api: Router<AppState<S>>,
    document: &utoipa::openapi::OpenApi,
) -> McpServer<S> {
    let document = serde_json::to_value(document).unwrap_or_default();
    let api = api
        .layer(DefaultBodyLimit::max(state.body_bytes_max))
        .layer(middleware::from_fn(crate::input::refuse_nul_in_uri))
        .with_state(state.clone());
    McpServer::new(state, api, &document)
}

/// The MCP server over `state` alone, for a session outside the HTTP server (stdio).
pub fn standalone_mcp<S: Backend + Clone>(state: AppState<S>) -> McpServer<S> {
    let (api, document) = openapi::routes::<S>().split_for_parts();
    mcp_server(state, api, &document)
}

pub use crate::web::DOCS_PATH;

/// `GET /docs`: the interactive API reference over the served OpenAPI document.
fn api_reference<S: Backend + Clone>(document: utoipa::openapi::OpenApi) -> Router<AppState<S>> {
    use utoipa_scalar::{Scalar, Servable as _};
    Scalar::with_url(DOCS_PATH, document)
        .title("Agent marketplace API")
        .into()
}

/// Any path the API does not have: 404 in the API's error format.
async fn no_such_route() -> ApiError {
    ApiError::NotFound {
        code: "not_found",
        message: "no such endpoint".to_owned(),
    }
}

/// Serves `app` on `listener` with the default [`ConnectionLimits`] until `shutdown`
/// completes, then lets in-flight requests finish (see [`serve_with`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, ConnectionLimits::default(), shutdown).await
}

/// How the background work of [`run`] and its connections are paced and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// How often the deadline sweep runs.
    pub sweep_interval: Duration,
    /// The connections' bounds.
    pub connections: ConnectionLimits,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_millis(SWEEP_INTERVAL_MS_DEFAULT),
            connections: ConnectionLimits::default(),
        }
    }
}

/// Runs the whole server on `listener` until `shutdown` completes: the routes of
/// [`router`], the deadline sweep, the webhook dispatcher and the blob collector. On
/// shutdown it stops accepting, lets in-flight requests finish, then stops the background
/// work and waits for it.
pub async fn run<S: Backend + Clone>(
    market: Marketplace<S>,
    config: Config,
    workers: Workers,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let rate_limits = config.rate_limits;
    let state = AppState::new(market, config);
    let background = Background::start(&state, workers.sweep_interval);
    let app = app(state, rate_limits);
    let served = serve_with(listener, app, workers.connections, shutdown).await;
    tracing::info!("shutting down");
    background.stop().await;
    served
}

/// The work a server does beside answering requests: the deadline sweep, the webhook
/// dispatcher and the blob collector, running until [`Background::stop`].
#[derive(Debug)]
pub struct Background {
    stop: watch::Sender<bool>,
    work: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Starts the background work over `state`, sweeping every `sweep_interval`.
    pub fn start<S: Backend + Clone>(state: &AppState<S>, sweep_interval: Duration) -> Self {
        let (stop, stopped) = watch::channel(false);
        let work = vec![
            tokio::spawn(sweep_loop(state.market.clone(), sweep_interval, stopped)),
            tokio::spawn(crate::dispatch::dispatch_loop(
                state.clone(),
                stop.subscribe(),
            )),
            tokio::spawn(collect_loop(
                state.market.clone(),
                state.blobs.clone(),
                stop.subscribe(),
            )),
        ];
        Self { stop, work }
    }

    /// Stops the background work and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for work in self.work {
            let _ = work.await;
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Applies due deadlines every `every` until `stop` turns true. Safe to run in several
/// replicas at once: each deadline is applied by one of them (the stores lock due tasks).
pub async fn sweep_loop<S: Store + Clone>(
    market: Marketplace<S>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let started = std::time::Instant::now();
        match market.sweep(SWEEP_BATCH_MAX).await {
            Ok(applied) => {
                let now_ms = market.now().timestamp_millis();
                metrics::sweep(applied, started.elapsed().as_secs_f64(), now_ms);
                if applied > 0 {
                    tracing::info!(applied, "deadlines applied");
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweep failed; retrying next tick"),
        }
    }
}

/// How often the blob collector runs for a grace period: a quarter of it, between a second
/// and an hour.
pub fn collect_interval(grace: Duration) -> Duration {
    (grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// Deletes, every [`collect_interval`], the stored files that no delivery names once
/// [`Policy::blob_grace_secs`](marketplace_core::Policy::blob_grace_secs) has passed since
/// they were last uploaded (see [`BlobDir::collect`]), until `stop` turns true; with a grace
/// of 0, never. Safe to run
/// in several replicas: the marketplace decides each record once.
pub async fn collect_loop<S: Store + Clone>(
    market: Marketplace<S>,
    blobs: BlobDir,
    mut stop: watch::Receiver<bool>,
) {
    let grace = Duration::from_secs(market.policy().blob_grace_secs);
    if grace.is_zero() {
        return; // 0: every artifact is kept.
    }
    let mut ticks = tokio::time::interval(collect_interval(grace));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let release = |name: String| {
            let market = market.clone();
            async move { market.collect_blob(&name).await }
        };
        match blobs.collect(grace, release).await {
            Ok(done) => {
                metrics::blobs_collected(done.removed, done.bytes);
                if done.removed > 0 {
                    tracing::info!(
                        removed = done.removed,
                        bytes = done.bytes,
                        "blobs collected"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "blob collection failed; retrying next tick"),
        }
    }
}
