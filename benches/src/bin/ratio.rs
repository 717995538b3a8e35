//! The storage ratios of `benches/storage.rs`, measured in interleaved rounds: each round
//! runs the lifecycle loop, then the raw `UPDATE` loop, for about the same time, and gives
//! one ratio (lifecycle transactions per second, four per lifecycle, over raw transactions
//! per second). The median of the rounds is reported.
//!
//! Criterion runs the two loops one after the other, each for its whole measurement; on a
//! shared machine whose disk or neighbours change speed within a minute, that compares two
//! different moments. Alternating short rounds compares like with like.
//!
//! ```sh
//! cargo run --release -p benches --bin ratio                      # both backends
//! cargo run --release -p benches --bin ratio -- --backend postgres --rounds 9
//! ```
//!
//! PostgreSQL runs at 8 clients on the database `market_ratio` at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), created afresh; SQLite runs one client on
//! temporary files with the store's default settings.

#![allow(clippy::print_stdout, clippy::float_arithmetic)]

use std::future::Future;
use std::time::Duration;

use benches::bench_policy;
use benches::storage::{PgRaw, SqliteRaw, fresh_pg_database, pairs, run_lifecycles};
use clap::{Parser, ValueEnum};
use marketplace_core::Marketplace;
use storage_postgres::PgStore;
use storage_sqlite::{SqliteOptions, SqliteStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Postgres,
    Sqlite,
    Both,
}

/// Measures lifecycle throughput over the raw loop's, in alternating rounds.
#[derive(Debug, Parser)]
#[command(name = "ratio")]
struct Args {
    /// Which store to measure.
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    backend: Backend,
    /// How many rounds (each: one lifecycle loop, one raw loop).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// About how long each loop of a round runs, in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Concurrent clients on PostgreSQL.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    clients: u64,
}

/// Runs `rounds` rounds of `lifecycles(n)` then `raw(n)`, each sized from a first short
/// calibration run to last about `seconds`; prints each round and the median ratio.
async fn rounds<L, LF, R, RF>(name: &str, args: &Args, lifecycles: L, raw: R)
where
    L: Fn(u64) -> LF,
    LF: Future<Output = Duration>,
    R: Fn(u64) -> RF,
    RF: Future<Output = Duration>,
{
    // Calibrate (and warm up): how many of each fit in `seconds`.
    let size = |count: u64, took: Duration| {
        let per = took.as_secs_f64() / count as f64;
        ((args.seconds / per) as u64).max(1)
    };
    let n_life = size(50, lifecycles(50).await);
    let n_raw = size(500, raw(500).await);
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        let life = 4.0 * n_life as f64 / lifecycles(n_life).await.as_secs_f64();
        let base = n_raw as f64 / raw(n_raw).await.as_secs_f64();
        let ratio = life / base;
        println!(
            "{name} round {round}: lifecycle {life:.0} tx/s ({:.0} lifecycles/s), raw {base:.0} tx/s, ratio {ratio:.3}",
            life / 4.0
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "{name}: median ratio {:.3} over {} rounds (lowest {:.3}, highest {:.3})",
        ratios[ratios.len() / 2],
        ratios.len(),
        ratios[0],
        ratios[ratios.len() - 1]
    );
}

async fn postgres(args: &Args) {
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let url = fresh_pg_database(&admin, "market_ratio")
        .await
        .expect("create the database");
    let clients = usize::try_from(args.clients).expect("client count");
    let store = PgStore::connect(&url, u32::try_from(clients * 2).expect("pool size"))
        .await
        .expect("connect");
    let market = Marketplace::new(store, bench_policy());
    let pairs = pairs(&market, clients).await;
    let raw = PgRaw::new(&url, clients).await.expect("raw table");
    let name = format!("postgres ({clients} clients)");
    rounds(
        &name,
        args,
        |n| run_lifecycles(&market, &pairs, n),
        |n| raw.run(n),
    )
    .await;
}

async fn sqlite(args: &Args) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
        .await
        .expect("open");
    let market = Marketplace::new(store, bench_policy());
    let pairs = pairs(&market, 1).await;
    let raw = SqliteRaw::new(&SqliteOptions::file(dir.path().join("raw.db")))
        .await
        .expect("raw database");
    rounds(
        "sqlite",
        args,
        |n| run_lifecycles(&market, &pairs, n),
        |n| raw.run(n),
    )
    .await;
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if args.backend != Backend::Sqlite {
            postgres(&args).await;
        }
        if args.backend != Backend::Postgres {
            sqlite(&args).await;
        }
    });
}
