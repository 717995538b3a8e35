//! The router, the server loop and the background deadline sweep.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use marketplace_core::{Marketplace, Store};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::ApiError;

/// Deadlines one sweep applies at most; the next tick takes the rest.
pub const SWEEP_BATCH_MAX: usize = 500;

/// The marketplace's HTTP routes, ready to serve or to nest in a larger app.
pub fn router<S: Store + Clone>(market: Marketplace<S>) -> Router {
    Router::new()
        .route("/healthz", get(healthz::<S>))
        .with_state(market)
}

/// `GET /healthz`: 200 `{"status": "ok"}` when the database answers.
async fn healthz<S: Store + Clone>(
    State(market): State<Marketplace<S>>,
) -> Result<Json<Value>, ApiError> {
    market.events(u64::MAX, 1).await?;
    Ok(Json(json!({ "status": "ok" })))
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
