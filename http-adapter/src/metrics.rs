//! Prometheus metrics: requests by route and status with their latencies, commands by
//! outcome, the deadline sweep, webhook deliveries, served as text at `/metrics`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Request latency buckets, seconds: sub-millisecond to ten seconds.
const LATENCY_BUCKETS_SECS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

/// The process's recorder, installed on first use (one per process: every router built
/// in it reports to the same registry).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS_SECS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may be installed by the embedding app; ours then only renders
        // what it was given.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts an engine command by name and outcome (`ok` or the error's code).
pub fn command(name: &'static str, outcome: &'static str) {
    metrics::counter!("marketplace_commands_total", "command" => name, "outcome" => outcome)
        .increment(1);
}

/// Counts one delivery attempt by channel and what became of it (`delivered`, `retry`,
/// `failed`), and records its latency.
pub fn delivery(channel: &'static str, outcome: &'static str, took_secs: f64) {
    metrics::counter!("marketplace_delivery_attempts_total", "channel" => channel, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("marketplace_delivery_duration_seconds", "channel" => channel)
        .record(took_secs);
}

/// Sets how many deliveries wait to be sent or retried.
pub fn deliveries_pending(pending: u64) {
    metrics::gauge!("marketplace_deliveries_pending").set(pending as f64);
}

/// When the last deadline sweep finished, unix milliseconds (0: none yet).
static LAST_SWEEP_MS: AtomicI64 = AtomicI64::new(0);

/// Records one finished deadline sweep: how many deadlines it applied, how long it took,
/// and when it ended (`now_ms`, unix milliseconds).
pub fn sweep(applied: usize, took_secs: f64, now_ms: i64) {
    metrics::counter!("marketplace_sweep_applied_total").increment(applied as u64);
    metrics::histogram!("marketplace_sweep_duration_seconds").record(took_secs);
    LAST_SWEEP_MS.store(now_ms, Ordering::Relaxed);
}

/// Records one pass of the blob collector: files deleted and bytes freed.
pub fn blobs_collected(removed: u64, bytes: u64) {
    metrics::counter!("marketplace_blobs_collected_total").increment(removed);
    metrics::counter!("marketplace_blobs_collected_bytes_total").increment(bytes);
}

/// The text `/metrics` answers: the registry, with the gauges read at scrape time — the
/// outbox's depth, the credit exposure (the sum of negative balances), group commit's
/// batches (committed, their commands, the largest, the commands queued) when it is on, and
/// the sweep lag (seconds since this process last finished a sweep; absent until it has).
pub fn render(
    outbox_depth: u64,
    credit_exposure: rust_decimal::Decimal,
    group_commit: Option<marketplace_core::GroupCommitStats>,
    now_ms: i64,
) -> String {
    metrics::gauge!("marketplace_outbox_depth").set(outbox_depth as f64);
    if let Some(stats) = group_commit {
        metrics::counter!("marketplace_commit_batches_total").absolute(stats.batches);
        metrics::counter!("marketplace_commit_batch_commands_total").absolute(stats.commands);
        metrics::gauge!("marketplace_commit_batch_largest").set(stats.largest as f64);
        metrics::gauge!("marketplace_commit_queue_depth").set(stats.queued as f64);
    }
    // A gauge is a float: the exact sum is the store's, this is for graphs and alerts.
    metrics::gauge!("marketplace_credit_exposure")
        .set(rust_decimal::prelude::ToPrimitive::to_f64(&credit_exposure).unwrap_or(f64::MAX));
    let last = LAST_SWEEP_MS.load(Ordering::Relaxed);
    if last > 0 {
        let lag_ms = now_ms.saturating_sub(last).max(0);
        metrics::gauge!("marketplace_sweep_lag_seconds")
            .set(std::time::Duration::from_millis(lag_ms.unsigned_abs()).as_secs_f64());
    }
    handle().render()
}

/// Middleware: counts every request by method, route and status, and records its latency.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
