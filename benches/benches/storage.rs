//! Storage throughput, each beside a raw baseline on the same database settings:
//!
//! - `sqlite/lifecycle` (one client) vs `sqlite/raw_update`: single-row `UPDATE`
//!   transactions (`BEGIN IMMEDIATE`, WAL, `synchronous=FULL`) through sqlx;
//! - `postgres/lifecycle_8` vs `postgres/raw_update_8`: the same at 8 concurrent clients.
//!
//! A lifecycle is four commands, four transactions: compare `4 × lifecycles/s` with the raw
//! transactions per second. PostgreSQL needs a server at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without one its group is skipped.

#![allow(missing_docs, clippy::print_stderr)]

use std::time::Duration;

use benches::bench_policy;
use benches::storage::{PgRaw, SqliteRaw, fresh_pg_database, pairs, run_lifecycles};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use marketplace_core::*;
use sqlx::{Connection, Executor, PgConnection};
use storage_postgres::PgStore;
use storage_sqlite::{SqliteOptions, SqliteStore};

const CLIENTS: usize = 8;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions::file(dir.path().join("bench.db"));
    let (market, pairs, raw) = rt.block_on(async {
        let store = SqliteStore::open(options.clone()).await.expect("open");
        let market = Marketplace::new(store, bench_policy());
        let pairs = pairs(&market, 1).await;
        let raw = SqliteRaw::new(&SqliteOptions::file(dir.path().join("raw.db")))
            .await
            .expect("raw database");
        (market, pairs, raw)
    });
    let mut group = c.benchmark_group("sqlite");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));
    group.bench_function("lifecycle", |b| {
        b.iter_custom(|iters| rt.block_on(run_lifecycles(&market, &pairs, iters)));
    });
    group.bench_function("raw_update", |b| {
        b.iter_custom(|iters| rt.block_on(raw.run(iters)));
    });
    group.finish();
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn postgres(c: &mut Criterion) {
    let rt = runtime();
    let prepared = rt.block_on(async {
        let url = fresh_pg_database(&admin_url(), "market_bench").await?;
        let store = PgStore::connect(&url, CLIENTS as u32 * 2)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let market = Marketplace::new(store, bench_policy());
        let pairs = pairs(&market, CLIENTS).await;
        let raw = PgRaw::new(&url, CLIENTS).await?;
        Ok::<_, sqlx::Error>((market, pairs, raw))
    });
    let (market, pairs, raw) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("postgres benchmarks skipped: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("postgres");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));
    group.bench_function("lifecycle_8", |b| {
        b.iter_custom(|iters| rt.block_on(run_lifecycles(&market, &pairs, iters)));
    });
    group.bench_function("raw_update_8", |b| {
        b.iter_custom(|iters| rt.block_on(raw.run(iters)));
    });
    group.finish();
}

/// A marketplace on the fresh database `name`, seeded with `not_due` open tasks due in the
/// year 2100 (never decoded by the sweep, so their bodies are stubs).
async fn sweep_market(not_due: u32) -> Result<Marketplace<PgStore>, sqlx::Error> {
    let url = fresh_pg_database(&admin_url(), &format!("market_sweep_{not_due}")).await?;
    let store = PgStore::connect(&url, 2)
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let mut conn = PgConnection::connect(&url).await?;
    sqlx::query(
        "INSERT INTO tasks (id, poster, status, skill, claimant, due_at, body) \
         SELECT gen_random_uuid(), 'seed', 'open', NULL, NULL, 4102444800000000 + g, '{}' \
         FROM generate_series(1, $1) g",
    )
    .bind(i64::from(not_due))
    .execute(&mut conn)
    .await?;
    conn.execute("ANALYZE tasks").await?;
    Ok(Marketplace::new(store, bench_policy()))
}

/// The sweep's cost with nothing due, over 10k and over 1M tasks that are not due: it reads
/// the front of the due index, so it must not grow with the table. Each database is seeded
/// when its benchmark first runs, so a filter that skips them skips the seeding too.
fn postgres_sweep(c: &mut Criterion) {
    let rt = runtime();
    if let Err(e) = rt.block_on(PgConnection::connect(&admin_url())) {
        eprintln!("postgres sweep benchmark skipped: {e}");
        return;
    }
    let mut group = c.benchmark_group("postgres_sweep");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for not_due in [10_000u32, 1_000_000] {
        let mut market = None;
        group.bench_function(format!("nothing_due_among_{not_due}"), |b| {
            let market = market.get_or_insert_with(|| {
                rt.block_on(sweep_market(not_due))
                    .expect("seed the sweep database")
            });
            b.iter(|| rt.block_on(market.tick(market.now(), 100)).expect("tick"));
        });
    }
    group.finish();
}

criterion_group!(storage, sqlite, postgres, postgres_sweep);
criterion_main!(storage);
