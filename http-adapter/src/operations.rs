//! The operator's endpoints: health and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use marketplace_core::Store;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;

/// `GET /healthz`: 200 `{"status": "ok"}` when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    operation_id = "operations_healthz",
    responses((status = 200, body = serde_json::Value), (status = 503, body = marketplace_api::error::ErrorBody)))]
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
    let batches = app.market.group_commit_stats();
    let text = metrics::render(
        depth,
        exposure,
        batches,
        app.market.now().timestamp_millis(),
    );
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    ))
}
