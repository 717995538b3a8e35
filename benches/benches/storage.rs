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

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{bench_policy, spec};
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

async fn parties<S: Store>(m: &Marketplace<S>, clients: usize) -> Vec<(IdentityId, IdentityId)> {
    let mut pairs = Vec::new();
    for i in 0..clients {
        let poster = IdentityId::from_public_key(format!("poster {i}").as_bytes());
        let worker = IdentityId::from_public_key(format!("worker {i}").as_bytes());
        m.register(&poster, ProfileUpdate::alias("p"))
            .await
            .expect("register");
        m.register(&worker, ProfileUpdate::alias("w"))
            .await
            .expect("register");
        pairs.push((poster, worker));
    }
    pairs
}

async fn lifecycle<S: Store>(m: &Marketplace<S>, poster: &IdentityId, worker: &IdentityId) {
    let task = m.post_task(poster, spec()).await.expect("post");
    m.claim(worker, task.id).await.expect("claim");
    m.deliver(worker, task.id, DeliveryInput::text("summary"))
        .await
        .expect("deliver");
    m.accept(poster, task.id, None).await.expect("accept");
}

/// `iters` lifecycles split over `pairs.len()` concurrent clients; the elapsed time.
async fn run_lifecycles<S: Store + Clone>(
    m: &Marketplace<S>,
    pairs: &[(IdentityId, IdentityId)],
    iters: u64,
) -> Duration {
    let per_client = iters.div_ceil(pairs.len() as u64);
    let start = Instant::now();
    let mut handles = Vec::new();
    for (poster, worker) in pairs {
        let (m, poster, worker) = (m.clone(), poster.clone(), worker.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..per_client {
                lifecycle(&m, &poster, &worker).await;
            }
        }));
    }
    for h in handles {
        h.await.expect("client");
    }
    start.elapsed()
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions::file(dir.path().join("bench.db"));
    let (market, pairs) = rt.block_on(async {
        let store = SqliteStore::open(options.clone()).await.expect("open");
        let market = Marketplace::new(store, bench_policy());
        let pairs = parties(&market, 1).await;
        (market, pairs)
    });
    let raw_pool = rt.block_on(async {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(SqliteOptions::file(dir.path().join("raw.db")).connect_options())
            .await
            .expect("raw pool");
        pool.execute("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
            .await
            .expect("table");
        pool.execute("INSERT OR IGNORE INTO raw (id, n) VALUES (1, 0)")
            .await
            .expect("row");
        pool
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
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut tx = raw_pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
                    sqlx::query("UPDATE raw SET n = n + 1 WHERE id = 1")
                        .execute(&mut *tx)
                        .await
                        .expect("update");
                    tx.commit().await.expect("commit");
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

fn postgres(c: &mut Criterion) {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let rt = runtime();
    let bench_url = match rt.block_on(async {
        let mut admin = PgConnection::connect(&url).await?;
        admin
            .execute("DROP DATABASE IF EXISTS market_bench WITH (FORCE)")
            .await?;
        admin.execute("CREATE DATABASE market_bench").await?;
        Ok::<_, sqlx::Error>(format!(
            "{}/market_bench",
            url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b)
        ))
    }) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("postgres benchmarks skipped: {e}");
            return;
        }
    };
    let (market, pairs, pool) = rt.block_on(async {
        let store = PgStore::connect(&bench_url, CLIENTS as u32 * 2)
            .await
            .expect("connect");
        let market = Marketplace::new(store, bench_policy());
        let pairs = parties(&market, CLIENTS).await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(CLIENTS as u32)
            .connect(&bench_url)
            .await
            .expect("raw pool");
        pool.execute("CREATE TABLE raw (id INT PRIMARY KEY, n BIGINT NOT NULL)")
            .await
            .expect("table");
        pool.execute("INSERT INTO raw SELECT g, 0 FROM generate_series(1, 8) g")
            .await
            .expect("rows");
        (market, pairs, pool)
    });
    let pool = Arc::new(pool);
    let mut group = c.benchmark_group("postgres");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));
    group.bench_function("lifecycle_8", |b| {
        b.iter_custom(|iters| rt.block_on(run_lifecycles(&market, &pairs, iters)));
    });
    group.bench_function("raw_update_8", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let per_client = iters.div_ceil(CLIENTS as u64);
                let start = Instant::now();
                let mut handles = Vec::new();
                for client in 0..CLIENTS as i32 {
                    let pool = pool.clone();
                    handles.push(tokio::spawn(async move {
                        for _ in 0..per_client {
                            let mut tx = pool.begin().await.expect("begin");
                            sqlx::query("UPDATE raw SET n = n + 1 WHERE id = $1")
                                .bind(client + 1)
                                .execute(&mut *tx)
                                .await
                                .expect("update");
                            tx.commit().await.expect("commit");
                        }
                    }));
                }
                for h in handles {
                    h.await.expect("client");
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// The sweep's cost with nothing due, over 10k and over 1M tasks that are not due: it reads
/// the front of the due index, so it must not grow with the table.
fn postgres_sweep(c: &mut Criterion) {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let rt = runtime();
    let mut group = c.benchmark_group("postgres_sweep");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for not_due in [10_000u32, 1_000_000] {
        let name = format!("market_sweep_{not_due}");
        let prepared = rt.block_on(async {
            let mut admin = PgConnection::connect(&url).await?;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await?;
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await?;
            let db_url = format!(
                "{}/{name}",
                url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b)
            );
            let store = PgStore::connect(&db_url, 2)
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            // Open tasks due in the year 2100: never decoded by the sweep, so bodies are stubs.
            let mut conn = PgConnection::connect(&db_url).await?;
            sqlx::query(
                "INSERT INTO tasks (id, poster, status, skill, claimant, due_at, body) \
                 SELECT gen_random_uuid(), 'seed', 'open', NULL, NULL, 4102444800000000 + g, '{}' \
                 FROM generate_series(1, $1) g",
            )
            .bind(i64::from(not_due))
            .execute(&mut conn)
            .await?;
            conn.execute("ANALYZE tasks").await?;
            Ok::<_, sqlx::Error>(Marketplace::new(store, bench_policy()))
        });
        let market = match prepared {
            Ok(m) => m,
            Err(e) => {
                eprintln!("postgres sweep benchmark skipped: {e}");
                return;
            }
        };
        group.bench_function(format!("nothing_due_among_{not_due}"), |b| {
            b.iter(|| rt.block_on(market.tick(market.now(), 100)).expect("tick"));
        });
    }
    group.finish();
}

criterion_group!(storage, sqlite, postgres, postgres_sweep);
criterion_main!(storage);
