//! The router, the server loop, and the background deadline sweep and blob collector.

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use marketplace_core::store::Backend;
use marketplace_core::{Marketplace, Store};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::agora::{account, artifacts, board, broker, tasks};
use crate::blobs::BlobDir;
pub use crate::connections::{ConnectionLimits, serve_with};
use crate::error::ApiError;
use crate::rate_limits::{self, RateLimits};
pub use crate::state::{AppState, BLOB_DIR_DEFAULT, BODY_BYTES_MAX, Config, FILE_BODY_BYTES_MAX};
use crate::{agora, auth, metrics, webhooks};

/// Deadlines one sweep applies at most; the next tick takes the rest.
pub const SWEEP_BATCH_MAX: usize = 500;

/// How often the deadline sweep runs unless configured otherwise, milliseconds.
pub const SWEEP_INTERVAL_MS_DEFAULT: u64 = 1000;

/// The marketplace's HTTP routes, ready to serve or to nest in a larger app. (To run the
/// webhook dispatcher beside them, build the [`AppState`] first and use [`app`].)
pub fn router<S: Backend + Clone>(market: Marketplace<S>, config: Config) -> Router {
    let rate_limits = config.rate_limits;
    app(AppState::new(market, config), rate_limits)
}

/// The routes over an existing state, e.g. one the dispatcher also runs on.
pub fn app<S: Backend + Clone>(state: AppState<S>, rate_limits: RateLimits) -> Router {
    metrics::handle();
    // Files may be far larger than JSON bodies: the routes taking them have their own
    // limit (a JSON delivery still checks the JSON limit itself).
    let file_limit = DefaultBodyLimit::max(FILE_BODY_BYTES_MAX);
    let routes = Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics_text::<S>))
        .route("/", get(index))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(api_reference())
        .route("/api/v1/auth/register", post(agora::register::<S>))
        .route("/api/v1/auth/node", post(agora::register_node::<S>))
        .route("/api/v1/auth/signup", post(agora::signup::<S>))
        .route("/api/v1/auth/login", post(agora::login::<S>))
        .route(
            "/api/v1/auth/keys",
            get(agora::list_keys::<S>).post(agora::create_key::<S>),
        )
        .route("/api/v1/auth/keys/{prefix}", delete(agora::revoke_key::<S>))
        .route(
            "/api/v1/tasks",
            post(tasks::post_task::<S>).get(tasks::list_tasks::<S>),
        )
        .route("/api/v1/tasks/{id}", get(tasks::get_task::<S>))
        .route("/api/v1/tasks/{id}/status", get(tasks::task_status::<S>))
        .route("/api/v1/tasks/{id}/claim", post(tasks::claim::<S>))
        .route("/api/v1/tasks/{id}/extend", post(tasks::extend::<S>))
        .route(
            "/api/v1/tasks/{id}/deliver",
            post(artifacts::deliver::<S>).layer(file_limit),
        )
        .route("/api/v1/tasks/{id}/accept", post(tasks::accept::<S>))
        .route("/api/v1/tasks/{id}/reject", post(tasks::reject::<S>))
        .route("/api/v1/tasks/{id}/cancel", post(tasks::cancel::<S>))
        .route("/api/v1/tasks/{id}/result", get(tasks::task_result::<S>))
        .route(
            "/api/v1/tasks/{id}/queue",
            post(tasks::join_queue::<S>).delete(tasks::leave_queue::<S>),
        )
        .route("/api/v1/tasks/{id}/message", post(tasks::message::<S>))
        .route("/api/v1/tasks/{id}/bid", post(tasks::bid::<S>))
        .route(
            "/api/v1/tasks/{id}/bids/{bid_id}/award",
            post(tasks::award::<S>),
        )
        .route("/api/v1/feed", get(board::feed::<S>))
        .route("/api/v1/search", get(board::search::<S>))
        .route("/api/v1/market/signals", get(board::signals::<S>))
        .route("/api/v1/services", get(board::services::<S>))
        .route("/api/v1/posts", post(board::create_post::<S>))
        .route("/api/v1/profile", post(account::set_profile::<S>))
        .route("/api/v1/profile/{hash}", get(account::get_profile::<S>))
        .route("/api/v1/reputation/{hash}", get(account::reputation::<S>))
        .route("/api/v1/balance", get(account::balance::<S>))
        .route("/api/v1/transactions", get(account::transactions::<S>))
        .route("/api/v1/earnings", get(account::earnings::<S>))
        .route(
            "/api/v1/broker/auto-claim",
            get(broker::rules::<S>)
                .post(broker::create_rule::<S>)
                .delete(broker::delete_rule::<S>),
        )
        .route("/api/v1/broker/match", get(broker::broker_match::<S>))
        .route(
            "/api/v1/contracts",
            get(broker::contracts::<S>).post(broker::propose::<S>),
        )
        .route("/api/v1/contracts/{id}", post(broker::act::<S>))
        .route("/api/v1/skill", post(agora::skill::skill::<S>))
        .route(
            "/api/upload",
            post(artifacts::upload::<S>).layer(file_limit),
        )
        .route("/api/v1/artifacts/{hash}", get(artifacts::artifact::<S>))
        .route(
            "/api/v1/webhooks/deliveries",
            get(webhooks::deliveries::<S>),
        )
        .route("/api/v1/webhooks/test", post(webhooks::test_webhook::<S>))
        .route(
            "/api/v1/webhooks/secret",
            post(webhooks::rotate_secret::<S>),
        )
        .merge(agentmarket_routes::<S>())
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

/// The AgentMarket dialect's routes, each answering in its envelope.
fn agentmarket_routes<S: Backend + Clone>() -> Router<AppState<S>> {
    use crate::agentmarket as am;
    Router::new()
        .route("/api/agents/register", post(am::register::<S>))
        .route("/api/agents", get(am::agents::<S>))
        .route("/api/agents/me", get(am::me::<S>))
        .route(
            "/api/agents/me/webhook",
            get(webhooks::get_webhook::<S>).put(webhooks::set_webhook::<S>),
        )
        .route("/api/execute", post(crate::execute::execute::<S>))
        .route("/api/agents/{id}", get(am::agent::<S>))
        .route("/api/tasks", get(am::tasks::<S>).post(am::post_task::<S>))
        .route("/api/tasks/{id}", get(am::task::<S>))
        .route("/api/tasks/{id}/accept", post(am::accept::<S>))
        .route("/api/tasks/{id}/complete", post(am::complete::<S>))
        .route("/api/wallet", get(am::wallet::<S>))
}

/// `GET /healthz`: 200 `{"status": "ok"}` when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    operation_id = "operations_healthz",
    responses((status = 200, body = serde_json::Value), (status = 503, body = crate::error::ErrorBody)))]
pub async fn healthz<S: Store + Clone>(
    State(app): State<AppState<S>>,
) -> Result<Json<Value>, ApiError> {
    app.market.events(u64::MAX, 1).await?;
    Ok(Json(json!({ "status": "ok" })))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    operation_id = "operations_metrics_text",
    responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics_text<S: Store + Clone>(
    State(app): State<AppState<S>>,
) -> Result<impl IntoResponse, ApiError> {
    let depth = app.market.outbox_depth().await?;
    let exposure = app.market.credit_exposure().await?;
    let text = metrics::render(depth, exposure, app.market.now().timestamp_millis());
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    ))
}

/// `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of both dialects, serialized once.
async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOCUMENT.get_or_init(|| {
        serde_json::to_string(&crate::openapi::document()).unwrap_or_else(|_| "{}".to_owned())
    });
    ([(CONTENT_TYPE, "application/json")], text.as_str())
}

/// Where the interactive API reference is served: a page rendering the OpenAPI document
/// (Scalar, through `utoipa-scalar`).
pub const DOCS_PATH: &str = "/docs";

/// `GET /docs`: the interactive API reference over the served OpenAPI document.
fn api_reference<S: Backend + Clone>() -> Router<AppState<S>> {
    use utoipa_scalar::{Scalar, Servable as _};
    Scalar::with_url(DOCS_PATH, crate::openapi::document())
        .title("Agent marketplace API")
        .into()
}

/// `GET /`: what this server is and where its documentation lives.
async fn index() -> Json<Value> {
    Json(json!({
        "name": "agent marketplace",
        "docs": DOCS_PATH,
        "openapi": "/api/v1/openapi.json",
        "health": "/healthz",
    }))
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
    let (stop, stopped) = watch::channel(false);
    let background = [
        tokio::spawn(sweep_loop(
            state.market.clone(),
            workers.sweep_interval,
            stopped,
        )),
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
    let app = app(state, rate_limits);
    let served = serve_with(listener, app, workers.connections, shutdown).await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    for work in background {
        let _ = work.await;
    }
    served
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
