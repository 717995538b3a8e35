//! Runs full lifecycles through the in-memory engine in one plain loop, for profilers.
//!
//! Criterion's harness surrounds `memory/lifecycle` with its own work; this binary runs
//! nothing else, so a profile of it is a profile of the engine. Under callgrind, the
//! difference between two counts gives the instructions one lifecycle costs: a figure that,
//! unlike time, does not move with the machine's load.
//!
//! ```sh
//! cargo build --release -p benches --bin lifecycles
//! valgrind --tool=callgrind target/release/lifecycles --count 2000
//! valgrind --tool=callgrind target/release/lifecycles --count 6000
//! # (second "Collected" − first) / 4000 = instructions per lifecycle
//! ```

#![allow(clippy::print_stdout, clippy::float_arithmetic)]

use std::time::Instant;

use benches::{lifecycle, market};
use clap::Parser;

/// Runs `--count` lifecycles (post → claim → deliver → accept) on one marketplace.
#[derive(Debug, Parser)]
#[command(name = "lifecycles")]
struct Args {
    /// How many lifecycles to run.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (market, poster, worker) = market().await;
        let start = Instant::now();
        for _ in 0..args.count {
            lifecycle(&market, &poster, &worker).await;
        }
        let elapsed = start.elapsed();
        let per = elapsed.as_secs_f64() / args.count as f64;
        println!(
            "{} lifecycles in {:.3} s: {:.2} µs each, {:.0} per second",
            args.count,
            elapsed.as_secs_f64(),
            per * 1e6,
            1.0 / per
        );
    });
}
