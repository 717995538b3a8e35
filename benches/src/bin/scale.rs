//! Scale: seeds a PostgreSQL database with up to 1,000,000 tasks and 100,000 agents, and
//! measures the reads that must not slow down as the table grows — open tasks by
//! capability, search (a rare word and a common one), broker match, and the timer sweep
//! with nothing due — each as p50/p99 at every stage of the seeding; and the board's pages
//! (its home, a search) beside the JSON list of the same tasks, as server time through the
//! HTTP router.
//!
//! ```sh
//! cargo run --release -p benches --bin scale                          # 100k agents, 1M tasks
//! cargo run --release -p benches --bin scale -- --agents 2000 --tasks 20000 --stages 2000,20000
//! ```
//!
//! Everything is written through the engine (`Marketplace<PgStore>`: registration, then
//! `post_task` from many clients at once), so the seeded database holds exactly what a
//! real marketplace would, and the run ends with the audit over it. The database is
//! `market_scale` on the server at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), created afresh and dropped at the end unless
//! `--keep` is given. It is created with `synchronous_commit = off`: seeding does not wait
//! for each commit's WAL flush, which changes how fast the rows arrive, not the plans or
//! the cost of the reads measured.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::float_arithmetic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use benches::bench_policy;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use http_adapter::auth::MasterKey;
use http_adapter::rate_limits::RateLimits;
use http_adapter::server::{AppState, Config, app};
use marketplace_core::audit::audit;
use marketplace_core::store::{FeedKind, SearchQuery, TaskQuery};
use marketplace_core::{IdentityId, Marketplace, ProfileUpdate, TaskSpec, TaskStatus};
use rust_decimal::Decimal;
use sqlx::{Connection, Executor, PgConnection};
use storage_postgres::PgStore;

/// Seeds PostgreSQL in stages and measures reads at each one.
#[derive(Debug, Parser)]
#[command(name = "scale")]
struct Args {
    /// Agents to register (each with three of the capabilities).
    #[arg(long, default_value_t = 100_000)]
    agents: usize,
    /// Tasks in the table at the last stage.
    #[arg(long, default_value_t = 1_000_000)]
    tasks: usize,
    /// Task counts at which to measure (comma-separated, ascending; the last is `--tasks`).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000, 1_000_000])]
    stages: Vec<usize>,
    /// Samples of each read at each stage.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Clients posting at once while seeding.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Keep the `market_scale` database afterwards.
    #[arg(long)]
    keep: bool,
    /// Measure the `market_scale` database an earlier run kept (`--keep`), seeded with
    /// `--agents` and `--tasks`, without seeding it again: one stage, at `--tasks`. The
    /// database is kept.
    #[arg(long)]
    reuse: bool,
}

/// Capabilities: each task requires one, each agent has three.
const CAPABILITIES: usize = 50;
/// Distinct rare words; each task's text holds three of them.
const WORDS: usize = 2_000;
/// One task in this many also says "urgent" (the common word searched for).
const URGENT_EVERY: usize = 10;

fn capability(n: usize) -> String {
    format!("cap-{:02}", n % CAPABILITIES)
}

fn word(n: usize) -> String {
    format!("w{:04}", n % WORDS)
}

/// A small deterministic generator (splitmix64), so every run seeds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        usize::try_from((z ^ (z >> 31)) >> 33).expect("31 bits fit")
    }
}

fn agent(n: usize) -> IdentityId {
    IdentityId::from_public_key(format!("scale agent {n}").as_bytes())
}

/// Runs `job(n)` for every `n` in `from..to`, `clients` at a time.
async fn in_parallel<F, Fut>(from: usize, to: usize, clients: usize, job: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(from));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (job, next) = (job.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= to {
                        break;
                    }
                    job(n).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("seeding client");
    }
}

/// Runs `job` for `from..to` in tenths (of at least 1,000), refreshing the statistics and
/// reporting progress after each.
async fn seed<F, Fut>(
    analyst: &mut PgConnection,
    args: &Args,
    from: usize,
    to: usize,
    what: &str,
    job: F,
) where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let chunk = (to - from).div_ceil(10).max(1_000);
    let mut done = from;
    while done < to {
        let end = (done + chunk).min(to);
        in_parallel(done, end, args.clients, job.clone()).await;
        done = end;
        analyze(analyst).await;
        let rate = (done - from) as f64 / started.elapsed().as_secs_f64();
        println!("  {what}: {done} ({rate:.0}/s)");
    }
}

/// Registers agent `n` with three of the capabilities.
async fn register(market: Marketplace<PgStore>, n: usize) {
    let profile = ProfileUpdate::alias(format!("agent {n}")).with_capabilities([
        capability(n),
        capability(n + 7),
        capability(n + 19),
    ]);
    market.register(&agent(n), profile).await.expect("register");
}

/// Posts task `n` from a random one of `agents`: one capability, three words, and "urgent"
/// in every tenth.
async fn post(market: Marketplace<PgStore>, agents: usize, n: usize) {
    let mut rng = Rng(n as u64);
    let urgent = if n.is_multiple_of(URGENT_EVERY) {
        " urgent"
    } else {
        ""
    };
    let text = format!(
        "Task {n}: {} {} {}{urgent}",
        word(rng.next()),
        word(rng.next()),
        word(rng.next())
    );
    let mut spec = TaskSpec::new(text, Decimal::ONE);
    spec.required_capabilities = vec![capability(rng.next())];
    let poster = agent(rng.next() % agents);
    market.post_task(&poster, spec).await.expect("post");
}

/// Refreshes the planner's statistics, as autovacuum does on a live database (the build
/// machines' PostgreSQL runs without it). Connections plan each statement once and plan it
/// again when the statistics of its tables change: without this, plans made while the
/// tables were empty would scan them whole.
async fn analyze(analyst: &mut PgConnection) {
    analyst.execute("ANALYZE").await.expect("analyze");
}

/// p50 and p99 of `samples` sequential runs of `read(i)`, in milliseconds.
async fn measure<F, Fut>(samples: usize, mut read: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = usize>,
{
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    let mut found = 0;
    for i in 0..samples {
        let started = Instant::now();
        found += read(i).await;
        times.push(started.elapsed());
    }
    assert!(
        found > 0,
        "the reads found nothing: the measurement would be empty"
    );
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

/// The reads measured at each stage, by name.
const READS: [&str; 5] = [
    "open tasks by capability",
    "search, rare word",
    "search, common word",
    "broker match (3 capabilities)",
    "timer sweep, nothing due",
];

/// The board's pages, each beside the JSON list of the same tasks: their names.
const PAGES: [&str; 6] = [
    "board home (HTML)",
    "  JSON list, same page",
    "board search, common word (HTML)",
    "  JSON list, same search",
    "board search, rare word (HTML)",
    "  JSON list, same search",
];

/// The paths of [`PAGES`]; the rare word is the first of task 0's (there at every stage).
fn page_paths() -> [String; 6] {
    let rare = word(Rng(0).next());
    [
        "/".to_owned(),
        "/api/v1/tasks?status=open&limit=20".to_owned(),
        "/?q=urgent".to_owned(),
        "/api/v1/tasks?status=open&q=urgent&limit=20".to_owned(),
        format!("/?q={rare}"),
        format!("/api/v1/tasks?status=open&q={rare}&limit=20"),
    ]
}

/// Server time of each of [`PAGES`], `samples` requests each through `router` in this
/// process (from the request to the last byte of the answer; no network): (p50, p99) ms.
async fn pages(router: &axum::Router, samples: usize) -> Vec<(f64, f64)> {
    use tower::ServiceExt as _;
    let mut out = Vec::new();
    for path in page_paths() {
        let path = path.as_str();
        let html = !path.starts_with("/api/");
        out.push(
            measure(samples, |_| {
                let router = router.clone();
                async move {
                    let request = axum::http::Request::get(path)
                        .header(
                            "accept",
                            if html {
                                "text/html"
                            } else {
                                "application/json"
                            },
                        )
                        .body(axum::body::Body::empty())
                        .expect("a request");
                    let answer = router.oneshot(request).await.expect("an answer");
                    assert_eq!(answer.status(), 200, "{path}");
                    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
                        .await
                        .expect("a body");
                    // A task on the page: its link (HTML) or its id (JSON).
                    let marker: &[u8] = if html { b"href=\"/tasks/" } else { b"\"id\"" };
                    usize::from(body.windows(marker.len()).any(|w| w == marker))
                }
            })
            .await,
        );
    }
    out
}

/// Runs every read `samples` times over the first `tasks` tasks; returns (p50, p99) in the
/// order of [`READS`].
async fn reads(market: &Marketplace<PgStore>, samples: usize, tasks: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    out.push(
        measure(samples, |i| async move {
            let query = TaskQuery {
                status: Some(TaskStatus::Open),
                capabilities: vec![capability(i)],
                limit: 20,
                ..TaskQuery::default()
            };
            market.tasks(None, query).await.expect("list").len()
        })
        .await,
    );
    for common in [false, true] {
        out.push(
            measure(samples, |i| async move {
                let text = if common {
                    "urgent".to_owned()
                } else {
                    // The first word of a task spread over the table: one that is there.
                    word(Rng(((i * 7_919) % tasks) as u64).next())
                };
                let query = SearchQuery {
                    text,
                    kind: Some(FeedKind::Task),
                    topic: None,
                    limit: 20,
                };
                market.search(query).await.expect("search").len()
            })
            .await,
        );
    }
    out.push(
        measure(samples, |i| async move {
            let caps = vec![capability(i), capability(i + 7), capability(i + 19)];
            market.broker_match(caps, 20).await.expect("match").len()
        })
        .await,
    );
    out.push(
        measure(samples, |_| async move {
            // Nothing is due: every task expires a week after it was posted. Counted as one
            // "found" so the emptiness check above measures the lists, not the sweep.
            let applied = market.tick(market.now(), 100).await.expect("tick");
            assert_eq!(applied, 0, "nothing is due");
            1
        })
        .await,
    );
    out
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    if [args.agents, args.tasks, args.samples, args.clients].contains(&0) {
        Args::command()
            .error(
                ErrorKind::ValueValidation,
                "--agents, --tasks, --samples and --clients must be at least 1",
            )
            .exit();
    }
    args.stages.retain(|&s| s > 0 && s <= args.tasks);
    if args.stages.last() != Some(&args.tasks) {
        args.stages.push(args.tasks);
    }
    if !args.stages.is_sorted() {
        Args::command()
            .error(ErrorKind::ValueValidation, "--stages must be ascending")
            .exit();
    }
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut admin = PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("no PostgreSQL at {server}: {e}"));
    if args.reuse {
        args.stages = vec![args.tasks];
    } else {
        admin
            .execute("DROP DATABASE IF EXISTS market_scale WITH (FORCE)")
            .await
            .expect("drop");
        admin
            .execute("CREATE DATABASE market_scale")
            .await
            .expect("create");
        admin
            .execute("ALTER DATABASE market_scale SET synchronous_commit = off")
            .await
            .expect("settings");
    }
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = format!("{base}/market_scale");
    let pool = u32::try_from(args.clients).expect("clients") + 2;
    let store = PgStore::connect(&url, pool).await.expect("connect");
    let market = Marketplace::new(store.clone(), bench_policy());
    let mut analyst = PgConnection::connect(&url).await.expect("connect");
    let config = Config::new(MasterKey::from_secret("scale"))
        .with_rate_limits(RateLimits::off())
        .with_blob_dir(std::env::temp_dir().join("market_scale_blobs"));
    let rate_limits = config.rate_limits;
    let router = app(AppState::new(market.clone(), config), rate_limits);

    if args.reuse {
        println!("measuring market_scale as kept: {} tasks", args.tasks);
    } else {
        println!(
            "seeding {} agents and {} tasks into market_scale, {} clients",
            args.agents, args.tasks, args.clients
        );
    }
    let m = market.clone();
    let registered = if args.reuse { args.agents } else { 0 };
    seed(
        &mut analyst,
        &args,
        registered,
        args.agents,
        "registered agents",
        move |n| register(m.clone(), n),
    )
    .await;
    let mut results = Vec::new();
    let mut seeded = if args.reuse { args.tasks } else { 0 };
    for &stage in &args.stages {
        let (m, agents) = (market.clone(), args.agents);
        seed(
            &mut analyst,
            &args,
            seeded,
            stage,
            "posted tasks",
            move |n| post(m.clone(), agents, n),
        )
        .await;
        seeded = stage;
        let figures = reads(&market, args.samples, stage).await;
        println!("at {stage} tasks:");
        for (name, (p50, p99)) in READS.iter().zip(&figures) {
            println!("  {name:<32} p50 {p50:>8.3} ms   p99 {p99:>8.3} ms");
        }
        let served = pages(&router, args.samples).await;
        for (i, (name, (p50, p99))) in PAGES.iter().zip(&served).enumerate() {
            // Each page beside the JSON list after it: their p50 ratio.
            let beside = if i % 2 == 0 {
                format!("   p50 x{:.2} the JSON list", p50 / served[i + 1].0)
            } else {
                String::new()
            };
            println!("  {name:<36} p50 {p50:>8.3} ms   p99 {p99:>8.3} ms{beside}");
        }
        results.push((stage, figures));
    }

    println!();
    println!(
        "{:<32} {}",
        "read (p50 / p99 ms)",
        args.stages
            .iter()
            .map(|s| format!("{:>20}", format!("{s} tasks")))
            .collect::<String>()
    );
    for (i, name) in READS.iter().enumerate() {
        let cells: String = results
            .iter()
            .map(|(_, f)| format!("{:>20}", format!("{:.3} / {:.3}", f[i].0, f[i].1)))
            .collect();
        let (first, last) = (&results[0].1[i], &results[results.len() - 1].1[i]);
        println!("{name:<32} {cells}   p50 x{:.2}", last.0 / first.0);
    }
    println!(
        "table grew x{:.0} from the first stage to the last",
        args.tasks as f64 / args.stages[0] as f64
    );

    let started = Instant::now();
    let report = audit(market.store(), market.policy().queue_max)
        .await
        .expect("audit");
    let violations: u64 = report.checks.iter().map(|c| c.violations).sum();
    println!(
        "audit of the seeded database: {} checks, {violations} violations ({:.0} s)",
        report.checks.len(),
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    drop(analyst);
    if !args.keep && !args.reuse {
        admin
            .execute("DROP DATABASE IF EXISTS market_scale WITH (FORCE)")
            .await
            .expect("drop");
    }
    assert_eq!(violations, 0, "the audit found violations");
}
