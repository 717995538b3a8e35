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
//! `postgres://postgres@127.0.0.1:5432/test`), created afresh; SQLite runs one client
//! (`--sqlite-clients` more) on temporary files with the store's default settings.
//! `--group-commit` runs the lifecycles with group commit; the raw loops stay as they are.
//! `--sqlite-inline-writer false` runs SQLite's commands through the driver, as before the
//! store ran them inline.
//!
//! On PostgreSQL each round then runs PostgreSQL's own reference, `pgbench -N` at the same
//! client count for the same time, on a database of its own (`market_pgbench`) on the same
//! server, and gives the lifecycle's transactions per second over pgbench's too. Where
//! `pgbench` is not installed, the run says so and goes on without it; `--no-pgbench` leaves
//! it out, `--pgbench PATH` names the program.

#![allow(clippy::print_stdout, clippy::float_arithmetic)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use benches::process::cpu_ticks;
use benches::storage::{
    PgBench, PgBenchError, PgRaw, SqliteRaw, fresh_pg_database, pairs, run_lifecycles,
};
use benches::{bench_policy, spread};
use clap::{Parser, ValueEnum};
use marketplace_core::{GroupCommit, Lane, Marketplace, Store};
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
    /// Concurrent clients on SQLite (the raw loop stays one client: SQLite has one writer).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    sqlite_clients: u64,
    /// Runs the lifecycles with group commit ([`GroupCommit`]'s defaults; four lanes on
    /// PostgreSQL).
    #[arg(long)]
    group_commit: bool,
    /// SQLite: commands' statements inline (the store's default); `false` sends each
    /// through the driver's connection thread, as the code before did.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sqlite_inline_writer: bool,
    /// The `pgbench` program run beside the PostgreSQL rounds.
    #[arg(long, default_value = "pgbench")]
    pgbench: PathBuf,
    /// Leaves `pgbench -N` out of the PostgreSQL rounds.
    #[arg(long)]
    no_pgbench: bool,
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
/// calibration run to last about `seconds`, then `reference` (if any) for `seconds`; prints
/// each round and the median ratios.
async fn rounds<L, LF, R, RF>(
    name: &str,
    args: &Args,
    lifecycles: L,
    raw: R,
    reference: Option<&PgBench>,
) where
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
    let mut reference_ratios = Vec::new();
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
        if let Some(pgbench) = reference {
            match pgbench.run(args.seconds).await {
                Ok(tps) => {
                    println!(
                        "{name} round {round}: pgbench -N {tps:.0} tx/s, lifecycle over pgbench {:.3}",
                        life / tps
                    );
                    reference_ratios.push(life / tps);
                }
                Err(e) => println!("{name} round {round}: no pgbench figure: {e}"),
            }
        }
    }
    if !cpu_ratios.is_empty() {
        let (median, low, high) = spread(&mut cpu_ratios);
        println!("{name}: median CPU ratio {median:.3} (lowest {low:.3}, highest {high:.3})");
    }
    if !reference_ratios.is_empty() {
        let (median, low, high) = spread(&mut reference_ratios);
        println!(
            "{name}: median ratio to pgbench -N {median:.3} over {} rounds (lowest {low:.3}, highest {high:.3})",
            reference_ratios.len()
        );
    }
    let (median, low, high) = spread(&mut ratios);
    println!(
        "{name}: median ratio {median:.3} over {} rounds (lowest {low:.3}, highest {high:.3})",
        ratios.len()
    );
}

/// A marketplace on `store`, with group commit in `lanes` lanes, each started by `spawn`,
/// when `args` asks for it.
fn market<S: Store + Clone>(
    store: S,
    args: &Args,
    lanes: usize,
    spawn: impl Fn(Lane),
) -> Marketplace<S> {
    let market = Marketplace::new(store, bench_policy());
    if !args.group_commit {
        return market;
    }
    let config = GroupCommit {
        lanes,
        ..GroupCommit::default()
    };
    market.with_group_commit(config, spawn)
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
    let market = market(store, args, 4, |lane| {
        tokio::spawn(lane);
    });
    let pairs = pairs(&market, clients).await;
    let raw = PgRaw::new(&url, clients).await.expect("raw table");
    let name = format!(
        "postgres ({clients} clients{})",
        if args.group_commit {
            ", group commit"
        } else {
            ""
        }
    );
    let pgbench = if args.no_pgbench {
        None
    } else {
        let url = fresh_pg_database(&admin, "market_pgbench")
            .await
            .expect("create pgbench's database");
        match PgBench::new(&args.pgbench, &url, clients).await {
            Ok(pgbench) => Some(pgbench),
            Err(e) => {
                let hint = match e {
                    PgBenchError::Spawn(_) => format!(
                        " ({}; install PostgreSQL's client programs or pass --pgbench PATH)",
                        args.pgbench.display()
                    ),
                    _ => String::new(),
                };
                println!("{name}: pgbench -N left out: {e}{hint}");
                None
            }
        }
    };
    rounds(
        &name,
        args,
        |n| run_lifecycles(&market, &pairs, n),
        |n| raw.run(n),
        pgbench.as_ref(),
    )
    .await;
}

async fn sqlite(args: &Args) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options =
        SqliteOptions::file(dir.path().join("market.db")).inline_writer(args.sqlite_inline_writer);
    let store = SqliteStore::open(options).await.expect("open");
    // SQLite's one lane as the server runs it: on a thread of its own when commands run
    // inline.
    let market = market(store, args, 1, |lane| {
        if args.sqlite_inline_writer {
            storage_sqlite::spawn_lane(lane).expect("the lane's thread");
        } else {
            tokio::spawn(lane);
        }
    });
    let clients = usize::try_from(args.sqlite_clients).expect("client count");
    let pairs = pairs(&market, clients).await;
    let raw = SqliteRaw::new(&SqliteOptions::file(dir.path().join("raw.db")))
        .await
        .expect("raw database");
    let name = format!(
        "sqlite ({clients} client{}{}{})",
        if clients == 1 { "" } else { "s" },
        if args.sqlite_inline_writer {
            ""
        } else {
            ", through the driver"
        },
        if args.group_commit {
            ", group commit"
        } else {
            ""
        }
    );
    rounds(
        &name,
        args,
        |n| run_lifecycles(&market, &pairs, n),
        |n| raw.run(n),
        None,
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
