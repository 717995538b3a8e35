//! The router, the server loop and the background deadline sweep.

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::middleware;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use marketplace_core::store::Credentials;
use marketplace_core::{Marketplace, Store};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::MasterKey;
use crate::error::ApiError;
use crate::{agora, auth};

/// Deadlines one sweep applies at most; the next tick takes the rest.
pub const SWEEP_BATCH_MAX: usize = 500;

/// Largest JSON body a request may carry, by default.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;

/// What the router needs besides the engine.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seals custodial keys.
    pub master: MasterKey,
    /// Largest request body accepted (413 beyond).
    pub body_bytes_max: usize,
}

impl Config {
    /// A configuration with `master` and the default limits.
    pub fn new(master: MasterKey) -> Self {
        Self {
            master,
            body_bytes_max: BODY_BYTES_MAX,
        }
    }
}

/// What every handler gets: the engine (and through it the store) and the master key.
#[derive(Debug, Clone)]
pub struct AppState<S> {
    /// The marketplace.
    pub market: Marketplace<S>,
    /// Seals custodial keys.
    pub master: MasterKey,
    /// Largest request body accepted.
    pub body_bytes_max: usize,
}

/// The marketplace's HTTP routes, ready to serve or to nest in a larger app.
pub fn router<S: Store + Credentials + Clone>(market: Marketplace<S>, config: Config) -> Router {
    let state = AppState {
        market,
        master: config.master,
        body_bytes_max: config.body_bytes_max,
    };
    Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/api/v1/auth/register", post(agora::register::<S>))
        .route("/api/v1/auth/node", post(agora::register_node::<S>))
        .route(
            "/api/v1/auth/keys",
            get(agora::list_keys::<S>).post(agora::create_key::<S>),
        )
        .route("/api/v1/auth/keys/{prefix}", delete(agora::revoke_key::<S>))
        .route(
            "/api/v1/tasks",
            post(agora::tasks::post_task::<S>).get(agora::tasks::list_tasks::<S>),
        )
        .route("/api/v1/tasks/{id}", get(agora::tasks::get_task::<S>))
        .route(
            "/api/v1/tasks/{id}/status",
            get(agora::tasks::task_status::<S>),
        )
        .route("/api/v1/tasks/{id}/claim", post(agora::tasks::claim::<S>))
        .route(
            "/api/v1/tasks/{id}/deliver",
            post(agora::tasks::deliver::<S>),
        )
        .route("/api/v1/tasks/{id}/accept", post(agora::tasks::accept::<S>))
        .route("/api/v1/tasks/{id}/reject", post(agora::tasks::reject::<S>))
        .route("/api/v1/tasks/{id}/cancel", post(agora::tasks::cancel::<S>))
        .route(
            "/api/v1/tasks/{id}/result",
            get(agora::tasks::task_result::<S>),
        )
        .route(
            "/api/v1/tasks/{id}/queue",
            post(agora::tasks::join_queue::<S>).delete(agora::tasks::leave_queue::<S>),
        )
        .route("/api/v1/balance", get(agora::tasks::balance::<S>))
        .fallback(no_such_route)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::verify_signature::<S>,
        ))
        .layer(DefaultBodyLimit::max(config.body_bytes_max))
        .with_state(state)
}

/// `GET /healthz`: 200 `{"status": "ok"}` when the database answers.
async fn healthz<S: Store + Clone>(
    State(app): State<AppState<S>>,
) -> Result<Json<Value>, ApiError> {
    app.market.events(u64::MAX, 1).await?;
    Ok(Json(json!({ "status": "ok" })))
}

/// Any path the API does not have: 404 in the API's error format.
async fn no_such_route() -> ApiError {
    ApiError::NotFound {
        code: "not_found",
        message: "no such endpoint".to_owned(),
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
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
        match market.sweep(SWEEP_BATCH_MAX).await {
            Ok(0) => {}
            Ok(applied) => tracing::info!(applied, "deadlines applied"),
            Err(e) => tracing::warn!(error = %e, "sweep failed; retrying next tick"),
        }
    }
}
