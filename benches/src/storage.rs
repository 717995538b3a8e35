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

/// PostgreSQL's own reference: `pgbench -N` (its built-in "simple update" script: per
/// transaction, one single-row `UPDATE`, one `SELECT` and one `INSERT`) at a client count,
/// on a database of its own, run as a child process.
///
/// ```no_run
/// # async fn demo() -> Result<(), benches::storage::PgBenchError> {
/// use benches::storage::PgBench;
/// let url = "postgres://postgres@127.0.0.1:5432/market_pgbench"; // an empty database
/// let pgbench = PgBench::new("pgbench".as_ref(), url, 8).await?; // fills it (`pgbench -i`)
/// let tps = pgbench.run(2.0).await?; // `pgbench -N -c 8 -j 2 -T 2`
/// println!("pgbench -N: {tps:.0} transactions per second");
/// # Ok(())
/// # }
/// ```
pub struct PgBench {
    program: std::path::PathBuf,
    url: String,
    clients: usize,
}

/// Why `pgbench` gave no figure.
#[derive(Debug)]
pub enum PgBenchError {
    /// The program could not be started (most often: it is not installed).
    Spawn(std::io::Error),
    /// It ran and failed; its exit status and what it printed on stderr.
    Failed(std::process::ExitStatus, String),
    /// It succeeded but printed no `tps = ...` line.
    NoFigure(String),
}

impl std::fmt::Display for PgBenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spawn(e) => write!(f, "could not start pgbench: {e}"),
            Self::Failed(status, stderr) => write!(f, "pgbench failed ({status}): {stderr}"),
            Self::NoFigure(stdout) => write!(f, "pgbench printed no tps figure: {stdout}"),
        }
    }
}

impl std::error::Error for PgBenchError {}

impl PgBench {
    /// Fills the database at `url` with pgbench's tables (`pgbench -i`, scale 1, replacing
    /// any there), using the `pgbench` found at `program`.
    pub async fn new(
        program: &std::path::Path,
        url: &str,
        clients: usize,
    ) -> Result<Self, PgBenchError> {
        let bench = Self {
            program: program.to_owned(),
            url: url.to_owned(),
            clients: clients.max(1),
        };
        bench.pgbench(&["-i", "-q"]).await?;
        Ok(bench)
    }

    /// Runs `pgbench -N` for `seconds` (whole, at least one) at the client count; its
    /// transactions per second, without the time its connections took to open.
    pub async fn run(&self, seconds: f64) -> Result<f64, PgBenchError> {
        let clients = self.clients.to_string();
        let threads = self.clients.min(2).to_string();
        let seconds = (seconds.ceil() as u64).max(1).to_string();
        let out = self
            .pgbench(&["-N", "-c", &clients, "-j", &threads, "-T", &seconds])
            .await?;
        tps(&out).ok_or(PgBenchError::NoFigure(out))
    }

    /// Runs `pgbench` with `args` on this database; what it printed on stdout.
    async fn pgbench(&self, args: &[&str]) -> Result<String, PgBenchError> {
        let mut command = std::process::Command::new(&self.program);
        command.args(args).arg(&self.url);
        let out = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("pgbench's thread")
            .map_err(PgBenchError::Spawn)?;
        if !out.status.success() {
            return Err(PgBenchError::Failed(
                out.status,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The figure of pgbench's `tps = 6903.12 (without initial connection time)` line.
fn tps(report: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
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

#[cfg(test)]
mod tests {
    use super::tps;

    #[test]
    fn reads_pgbench_s_figure() {
        let report = "number of failed transactions: 0 (0.000%)\n\
                      latency average = 1.159 ms\n\
                      initial connection time = 11.905 ms\n\
                      tps = 6903.124514 (without initial connection time)\n";
        assert_eq!(tps(report), Some(6903.124514));
        assert_eq!(tps("pgbench: error: connection failed\n"), None);
    }
}
