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
//! Each round also gives the machine's busy CPU time per transaction of each loop (from
//! `/proc/stat`, on Linux: every process, the database's included, with the time the
//! hypervisor stole left out) and their ratio. Where neighbours change the machine's speed,
//! that ratio moves less than the ratio of throughputs.
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

/// The machine's CPU time so far, from `/proc/stat`: busy (user, nice, system, interrupts)
/// and stolen, in clock ticks. `None` where the file is not there.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    Some((at(0) + at(1) + at(2) + at(5) + at(6), at(7)))
}

/// Runs `work`, returning its wall time and the machine's busy and stolen ticks meanwhile.
async fn measured<F: Future<Output = Duration>>(work: F) -> (Duration, Option<(u64, u64)>) {
    let before = cpu_ticks();
    let took = work.await;
    let used = before
        .zip(cpu_ticks())
        .map(|((b0, s0), (b1, s1))| (b1.saturating_sub(b0), s1.saturating_sub(s0)));
    (took, used)
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
    let mut cpu_ratios = Vec::new();
    for round in 1..=args.rounds {
        let (took, life_cpu) = measured(lifecycles(n_life)).await;
        let life = 4.0 * n_life as f64 / took.as_secs_f64();
        let (took, raw_cpu) = measured(raw(n_raw)).await;
        let base = n_raw as f64 / took.as_secs_f64();
        let ratio = life / base;
        println!(
            "{name} round {round}: lifecycle {life:.0} tx/s ({:.0} lifecycles/s), raw {base:.0} tx/s, ratio {ratio:.3}",
            life / 4.0
        );
        ratios.push(ratio);
        if let (Some((life_busy, life_steal)), Some((raw_busy, raw_steal))) = (life_cpu, raw_cpu) {
            // Clock ticks are 10 ms on Linux; per transaction in microseconds.
            let per_life = life_busy as f64 * 10_000.0 / (4 * n_life) as f64;
            let per_raw = raw_busy as f64 * 10_000.0 / n_raw as f64;
            println!(
                "{name} round {round}: busy CPU per transaction: lifecycle {per_life:.0} µs, raw {per_raw:.0} µs, ratio {:.3} (ticks stolen: {life_steal}, {raw_steal})",
                per_raw / per_life
            );
            cpu_ratios.push(per_raw / per_life);
        }
    }
    if !cpu_ratios.is_empty() {
        cpu_ratios.sort_by(f64::total_cmp);
        println!(
            "{name}: median CPU ratio {:.3} (lowest {:.3}, highest {:.3})",
            cpu_ratios[cpu_ratios.len() / 2],
            cpu_ratios[0],
            cpu_ratios[cpu_ratios.len() - 1]
        );
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
