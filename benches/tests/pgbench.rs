//! `PgBench`, PostgreSQL's own reference run beside the storage ratios: on the test server,
//! in a scratch database, with the `pgbench` the machine has.
//!
//! Without a server the cases skip loudly (or fail under `MARKETPLACE_REQUIRE_PG=1`), as
//! every PostgreSQL test does. Without `pgbench` the measuring case skips loudly too: it is
//! one of PostgreSQL's client programs, not part of the project.

#![allow(clippy::print_stderr)] // the skip message must be seen

use std::path::Path;

use benches::storage::{PgBench, PgBenchError};
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};

/// Whether `pgbench` runs here; says so loudly when it does not.
fn pgbench_installed() -> bool {
    let found = std::process::Command::new("pgbench")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        eprintln!("\n*** SKIPPED: pgbench is not installed (PostgreSQL's client programs) ***\n");
    }
    found
}

#[tokio::test]
async fn pgbench_fills_its_database_and_reports_transactions_per_second() {
    if !postgres_ready() || !pgbench_installed() {
        return;
    }
    let (_scratch, url) = ScratchDatabase::create().await;
    let pgbench = PgBench::new(Path::new("pgbench"), &url, 2)
        .await
        .expect("pgbench -i");
    let tps = pgbench.run(0.5).await.expect("pgbench -N");
    assert!(tps.is_finite() && tps > 0.0, "tps {tps}");

    // It ran its transactions on that database, for the one second asked: its history table
    // holds one row for each, about as many as the figure says.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM pgbench_history")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let rows = rows as f64;
    assert!(
        rows >= tps * 0.5 && rows <= tps * 2.0,
        "{rows} transactions recorded in one second, but the figure is {tps} per second"
    );
}

#[tokio::test]
async fn a_missing_program_or_database_is_an_error_not_a_figure() {
    if !postgres_ready() {
        return;
    }
    let (_scratch, url) = ScratchDatabase::create().await;
    let missing = PgBench::new(Path::new("/nonexistent/pgbench"), &url, 2).await;
    assert!(
        matches!(missing, Err(PgBenchError::Spawn(_))),
        "{:?}",
        missing.err()
    );
    if !pgbench_installed() {
        return;
    }
    let gone = format!("{url}_gone");
    let failed = PgBench::new(Path::new("pgbench"), &gone, 2).await;
    assert!(
        matches!(failed, Err(PgBenchError::Failed(..))),
        "{:?}",
        failed.err()
    );
}
