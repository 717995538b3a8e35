//! The storage benchmarks' loops, shared by the criterion benchmark (`benches/storage.rs`)
//! and the interleaved `ratio` binary: lifecycles from concurrent clients through a
//! `Marketplace` on a SQL store, and the raw single-row `UPDATE` loop each is compared to.

use std::sync::Arc;
use std::time::{Duration, Instant};

use marketplace_core::*;
use sqlx::{Connection, Executor, PgConnection};

use crate::lifecycle;

/// `clients` funded poster–worker pairs, registered through `market` (any store).
pub async fn pairs<S: Store>(
    market: &Marketplace<S>,
    clients: usize,
) -> Vec<(IdentityId, IdentityId)> {
    let mut pairs = Vec::with_capacity(clients);
    for i in 0..clients {
        let poster = IdentityId::from_public_key(format!("poster {i}").as_bytes());
        let worker = IdentityId::from_public_key(format!("worker {i}").as_bytes());
        market
            .register(&poster, ProfileUpdate::alias("p"))
            .await
            .expect("register");
        market
            .register(&worker, ProfileUpdate::alias("w"))
            .await
            .expect("register");
        pairs.push((poster, worker));
    }
    pairs
}

/// `iters` lifecycles split over `pairs.len()` concurrent clients (one per pair); the
/// elapsed time.
pub async fn run_lifecycles<S: Store + Clone>(
    market: &Marketplace<S>,
    pairs: &[(IdentityId, IdentityId)],
    iters: u64,
) -> Duration {
    let per_client = iters.div_ceil(pairs.len() as u64);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(pairs.len());
    for (poster, worker) in pairs {
        let (market, poster, worker) = (market.clone(), poster.clone(), worker.clone());
        handles.push(tokio::spawn(async move {
            for _ in 0..per_client {
                lifecycle(&market, &poster, &worker).await;
            }
        }));
    }
    for h in handles {
        h.await.expect("client");
    }
    start.elapsed()
}

/// Creates the database `name` afresh (dropping an earlier one) on the server of
/// `admin_url`, and returns its URL.
pub async fn fresh_pg_database(admin_url: &str, name: &str) -> Result<String, sqlx::Error> {
    let mut admin = PgConnection::connect(admin_url).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    Ok(format!(
        "{}/{name}",
        admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b)
    ))
}

/// PostgreSQL's raw baseline: transactions of one single-row `UPDATE` each, from
/// concurrent clients, each on its own row, through a plain sqlx pool with default
/// settings.
#[derive(Clone)]
pub struct PgRaw {
    pool: Arc<sqlx::PgPool>,
    clients: usize,
}

impl PgRaw {
    /// Creates the `raw` table (one row per client) in the database at `url`.
    pub async fn new(url: &str, clients: usize) -> Result<Self, sqlx::Error> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(u32::try_from(clients).unwrap_or(u32::MAX))
            .connect(url)
            .await?;
        pool.execute("CREATE TABLE IF NOT EXISTS raw (id INT PRIMARY KEY, n BIGINT NOT NULL)")
            .await?;
        sqlx::query(
            "INSERT INTO raw SELECT g, 0 FROM generate_series(1, $1) g ON CONFLICT DO NOTHING",
        )
        .bind(i32::try_from(clients).unwrap_or(i32::MAX))
        .execute(&pool)
        .await?;
        Ok(Self {
            pool: Arc::new(pool),
            clients,
        })
    }

    /// `iters` transactions split over the clients; the elapsed time.
    pub async fn run(&self, iters: u64) -> Duration {
        let per_client = iters.div_ceil(self.clients as u64);
        let start = Instant::now();
        let mut handles = Vec::with_capacity(self.clients);
        for client in 1..=i32::try_from(self.clients).unwrap_or(i32::MAX) {
            let pool = self.pool.clone();
            handles.push(tokio::spawn(async move {
                for _ in 0..per_client {
                    let mut tx = pool.begin().await.expect("begin");
                    sqlx::query("UPDATE raw SET n = n + 1 WHERE id = $1")
                        .bind(client)
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
    }
}

/// SQLite's raw baseline: `BEGIN IMMEDIATE` transactions of one single-row `UPDATE` each,
/// on one connection with the store's connection settings (WAL, the same `synchronous`).
pub struct SqliteRaw {
    pool: sqlx::SqlitePool,
}

impl SqliteRaw {
    /// Opens (creating) the database file `options` names, with its `raw` table.
    pub async fn new(options: &storage_sqlite::SqliteOptions) -> Result<Self, sqlx::Error> {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.connect_options())
            .await?;
        pool.execute("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
            .await?;
        pool.execute("INSERT OR IGNORE INTO raw (id, n) VALUES (1, 0)")
            .await?;
        Ok(Self { pool })
    }

    /// `iters` transactions, one after another; the elapsed time.
    pub async fn run(&self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .expect("begin");
            sqlx::query("UPDATE raw SET n = n + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await
                .expect("update");
            tx.commit().await.expect("commit");
        }
        start.elapsed()
    }
}
