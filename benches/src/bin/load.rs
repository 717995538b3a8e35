//! The server's load report: throughput and p50/p99 latency of each hot path — post, claim
//! (through the REST API, and through MCP's `tools/call` on `agora_claim`),
//! deliver+accept, list open tasks, search — at N concurrent keep-alive connections, on
//! SQLite and on PostgreSQL, each beside a baseline measured in the same run (an empty
//! axum route served by the same stack from a process of its own), and the server's peak
//! resident memory.
//!
//! ```sh
//! cargo run --release -p benches --bin load                      # both backends, 32 connections
//! cargo run --release -p benches --bin load -- --backend sqlite --connections 16
//! cargo run --release -p benches --bin load -- --backend memory --lifecycles-only
//! ```
//!
//! The server is the real `marketplace-server` binary, started as a child process on a
//! scratch database (a temporary SQLite file; a `market_load` database created and dropped
//! on the PostgreSQL server at `DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Run through `cargo run`, the generator builds
//! that binary first; otherwise pass `--server-bin`.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::float_arithmetic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use benches::process::{Server, cpu_ticks, cpu_time_of, server_binary};
use benches::spread;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};
use http_adapter::server::serve;
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
    /// SQLite and PostgreSQL.
    Both,
    /// The in-memory store (`memory://`): what the server costs with no storage at all,
    /// the ceiling any store's figures could reach on this machine.
    Memory,
}

/// Drives a `marketplace-server` process and an empty route with the same client.
#[derive(Debug, Parser)]
#[command(name = "load")]
struct Args {
    /// Which store the server runs on.
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    backend: Backend,
    /// Concurrent keep-alive connections; each one is a poster and a worker of its own.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Tasks each connection posts, then claims (half through REST, half through MCP),
    /// delivers and accepts (2 to 100: the most live claims one worker may hold).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(2..=100))]
    tasks_per_connection: u16,
    /// Listings and searches each connection makes.
    #[arg(long, default_value_t = 50)]
    reads_per_connection: usize,
    /// Requests each connection makes to the empty route.
    #[arg(long, default_value_t = 500)]
    baseline_per_connection: usize,
    /// Measure only the lifecycle path: post → claim → deliver → accept (review required),
    /// each client pair alternating poster and worker, on a server of each of `--servers`,
    /// alternately.
    #[arg(long)]
    lifecycles_only: bool,
    /// The servers the lifecycle path compares, in the order each round runs them
    /// (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ServerKind::Before, ServerKind::Now])]
    servers: Vec<ServerKind>,
    /// Client pairs of the lifecycle path, one run for each count (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8])]
    lifecycle_pairs: Vec<usize>,
    /// How long each lifecycle run lasts, seconds.
    #[arg(long, default_value_t = 3)]
    lifecycle_secs: u64,
    /// Rounds of the lifecycle path: each runs every pair count on each of `--servers`.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// The `marketplace-server` binary (default: beside this one, built first in the same
    /// profile under `cargo run`).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Serve the empty route and print its address (how the generator starts its baseline).
    #[arg(long, hide = true)]
    serve_empty: bool,
}

/// How the lifecycle path's server runs: the code of today, or as an earlier one did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServerKind {
    /// As before group commit: a commit per command, every request's API key looked up
    /// in the store, SQLite's statements through the driver's connection thread and its
    /// log checkpointed by the committing writer.
    Before,
    /// Group commit and the API-key cache, SQLite's statements still through the driver
    /// and its log checkpointed by the writer.
    Driver,
    /// Today's defaults: group commit, the API-key cache, SQLite's commands inline and its
    /// log checkpointed by a thread of its own.
    Now,
}

impl ServerKind {
    /// The server's flags for this.
    fn flags(self) -> &'static [&'static str] {
        match self {
            Self::Before => &[
                "--group-commit",
                "false",
                "--api-key-cache-ms",
                "0",
                "--sqlite-inline-writer",
                "false",
                "--sqlite-checkpoint-thread",
                "false",
            ],
            Self::Driver => &[
                "--sqlite-inline-writer",
                "false",
                "--sqlite-checkpoint-thread",
                "false",
            ],
            Self::Now => &[],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Before => "before",
            Self::Driver => "driver",
            Self::Now => "now",
        }
    }
}

/// Capabilities the posted tasks require, and words their text is about.
const TOPICS: [&str; 8] = [
    "research",
    "translation",
    "summarization",
    "code-review",
    "data-cleaning",
    "labeling",
    "testing",
    "writing",
];

/// One HTTP request of a measured step.
struct Request {
    method: &'static str,
    path: String,
    key: Option<String>,
    body: String,
}

impl Request {
    fn get(path: String) -> Self {
        Self {
            method: "GET",
            path,
            key: None,
            body: String::new(),
        }
    }

    fn post(path: String, key: &str, body: String) -> Self {
        Self {
            method: "POST",
            path,
            key: Some(key.to_owned()),
            body,
        }
    }

    /// `tools/call` of `tool` with `arguments` on `/mcp`, as `key`.
    fn mcp(key: &str, tool: &str, arguments: &serde_json::Value) -> Self {
        let call = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        });
        Self::post(MCP_PATH.to_owned(), key, call.to_string())
    }
}

/// Where MCP is served.
const MCP_PATH: &str = "/mcp";

/// What one latency sample measures: one request, or several in a row (deliver + accept).
type Step = Vec<Request>;

/// A minimal HTTP/1.1 keep-alive client: one request at a time on one connection.
struct Client {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Client {
    async fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            reader: BufReader::new(stream),
            host: address.to_string(),
        }
    }

    /// Sends a request; panics unless it succeeds; returns the body.
    async fn send(&mut self, request: &Request) -> Vec<u8> {
        let Request {
            method,
            path,
            key,
            body,
        } = request;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(key) = key {
            head.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        if path == MCP_PATH {
            head.push_str("Accept: application/json, text/event-stream\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.reader
            .get_mut()
            .write_all(head.as_bytes())
            .await
            .expect("write");
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("status line");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut reply = vec![0; length];
        self.reader.read_exact(&mut reply).await.expect("body");
        // A tool's refusal is a success of the protocol: read it as the failure it is.
        let refused = path == MCP_PATH
            && serde_json::from_slice::<serde_json::Value>(&reply)
                .map_or(true, |answer| answer["result"]["isError"] != false);
        assert!(
            status < 300 && !refused,
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&reply)
        );
        reply
    }
}

/// Steps per second and latency percentiles of one measured run.
struct Figures {
    steps: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Figures {
    /// The figures of samples that took `times` in all, over `seconds`.
    fn of(mut times: Vec<Duration>, seconds: f64) -> Self {
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        Self {
            steps: times.len(),
            seconds,
            p50_ms: at(0.50).as_secs_f64() * 1000.0,
            p99_ms: at(0.99).as_secs_f64() * 1000.0,
        }
    }

    fn per_second(&self) -> f64 {
        self.steps as f64 / self.seconds
    }
}

/// Runs `work[i]` on connection `i`, all connections at once. Returns the figures and, per
/// connection, the body of each step's last answer.
async fn drive(address: SocketAddr, work: Vec<Vec<Step>>) -> (Figures, Vec<Vec<Vec<u8>>>) {
    let mut clients = Vec::with_capacity(work.len());
    for _ in 0..work.len() {
        clients.push(Client::connect(address).await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mut client, steps) in clients.into_iter().zip(work) {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(steps.len());
            let mut answers = Vec::with_capacity(steps.len());
            for step in steps {
                let sent = Instant::now();
                let mut last = Vec::new();
                for request in &step {
                    last = client.send(request).await;
                }
                latencies.push(sent.elapsed());
                answers.push(last);
            }
            (latencies, answers)
        }));
    }
    let mut latencies = Vec::new();
    let mut answers = Vec::new();
    for task in tasks {
        let (l, a) = task.await.expect("client");
        latencies.extend(l);
        answers.push(a);
    }
    let figures = Figures::of(latencies, started.elapsed().as_secs_f64());
    (figures, answers)
}

/// The `--serve-empty` mode: an empty route on the server's own stack.
async fn serve_empty() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    println!("empty route listening on http://{address}");
    let app = Router::new().route("/", get(|| async { "ok" }));
    serve(listener, app, std::future::pending())
        .await
        .expect("serve");
}

/// The empty route, measured with the same client.
async fn baseline(args: &Args) -> Figures {
    let this = std::env::current_exe().expect("this binary");
    let empty = Server::start(&this, &["--serve-empty"]);
    let work = (0..args.connections)
        .map(|_| {
            (0..args.baseline_per_connection)
                .map(|_| vec![Request::get("/".to_owned())])
                .collect()
        })
        .collect();
    drive(empty.address, work).await.0
}

/// One agent registered through AgentMarket's API (100 credits at signup).
struct Agent {
    key: String,
}

async fn register(client: &mut Client, name: String) -> Agent {
    let body = serde_json::json!({ "name": name }).to_string();
    let reply = client
        .send(&Request {
            method: "POST",
            path: "/api/agents/register".to_owned(),
            key: None,
            body,
        })
        .await;
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("json");
    Agent {
        key: reply["data"]["api_key"]
            .as_str()
            .expect("api key")
            .to_owned(),
    }
}

/// One row of the report.
struct Row {
    path: &'static str,
    figures: Figures,
}

/// Every hot path against a running server, in the order a task lives: post, list and
/// search (while the tasks are open), claim, deliver+accept.
async fn hot_paths(address: SocketAddr, args: &Args) -> Vec<Row> {
    let mut setup = Client::connect(address).await;
    let mut pairs = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let poster = register(&mut setup, format!("poster {i}")).await;
        let worker = register(&mut setup, format!("worker {i}")).await;
        pairs.push((poster, worker));
    }
    let n = usize::from(args.tasks_per_connection);
    let mut rows = Vec::new();

    let posts = pairs
        .iter()
        .enumerate()
        .map(|(i, (poster, _))| {
            (0..n)
                .map(|j| {
                    let topic = TOPICS[(i + j) % TOPICS.len()];
                    let body = serde_json::json!({
                        "text": format!("Task {j} of poster {i}: {topic} for a paper on markets"),
                        "bounty": 1,
                        "required_capabilities": [topic],
                        "require_review": true,
                    });
                    vec![Request::post(
                        "/api/v1/tasks".to_owned(),
                        &poster.key,
                        body.to_string(),
                    )]
                })
                .collect()
        })
        .collect();
    let (figures, answers) = drive(address, posts).await;
    rows.push(Row {
        path: "post",
        figures,
    });
    let ids: Vec<Vec<String>> = answers
        .iter()
        .map(|connection| {
            connection
                .iter()
                .map(|body| {
                    let task: serde_json::Value = serde_json::from_slice(body).expect("json");
                    task["id"].as_str().expect("task id").to_owned()
                })
                .collect()
        })
        .collect();

    let reads = |path: &dyn Fn(usize) -> String| -> Vec<Vec<Step>> {
        (0..args.connections)
            .map(|i| {
                (0..args.reads_per_connection)
                    .map(|j| vec![Request::get(path(i + j))])
                    .collect()
            })
            .collect()
    };
    let list = reads(&|_| "/api/v1/tasks?status=open&limit=20".to_owned());
    rows.push(Row {
        path: "list open",
        figures: drive(address, list).await.0,
    });
    let search = reads(&|k| format!("/api/v1/search?q={}&limit=20", TOPICS[k % TOPICS.len()]));
    rows.push(Row {
        path: "search",
        figures: drive(address, search).await.0,
    });

    let per_task = |step: &dyn Fn(&(Agent, Agent), &str) -> Step| -> Vec<Vec<Step>> {
        pairs
            .iter()
            .zip(&ids)
            .map(|(pair, ids)| ids.iter().map(|id| step(pair, id)).collect())
            .collect()
    };
    // The first half of each connection's tasks claimed through the REST API, the second
    // half through MCP: the same command, the same server, one run.
    let half = n.div_ceil(2);
    let claims = per_task(&|(_, worker), id| {
        vec![Request::post(
            format!("/api/v1/tasks/{id}/claim"),
            &worker.key,
            "{}".to_owned(),
        )]
    });
    let (rest, mcp): (Vec<Vec<Step>>, Vec<Vec<Step>>) = claims
        .into_iter()
        .zip(&ids)
        .zip(&pairs)
        .map(|((mut steps, ids), (_, worker))| {
            steps.truncate(half);
            let through_mcp = ids[half..]
                .iter()
                .map(|id| {
                    let arguments = serde_json::json!({ "task_id": id });
                    vec![Request::mcp(&worker.key, "agora_claim", &arguments)]
                })
                .collect();
            (steps, through_mcp)
        })
        .unzip();
    rows.push(Row {
        path: "claim",
        figures: drive(address, rest).await.0,
    });
    rows.push(Row {
        path: "claim (MCP)",
        figures: drive(address, mcp).await.0,
    });
    let settle = per_task(&|(poster, worker), id| {
        vec![
            Request::post(
                format!("/api/v1/tasks/{id}/deliver"),
                &worker.key,
                r#"{"text": "done"}"#.to_owned(),
            ),
            Request::post(
                format!("/api/v1/tasks/{id}/accept"),
                &poster.key,
                r#"{"rating": 5}"#.to_owned(),
            ),
        ]
    });
    rows.push(Row {
        path: "deliver+accept",
        figures: drive(address, settle).await.0,
    });
    rows
}

/// Starts the server on `database_url` (AgentMarket's preset, no rate limits) with `more`
/// flags; returns it with its blob directory, removed when dropped.
fn start(bin: &Path, database_url: &str, more: &[&str]) -> (Server, tempfile::TempDir) {
    let blobs = tempfile::tempdir().expect("blob dir");
    let blob_dir = blobs.path().to_str().expect("utf-8 path");
    let mut flags = vec![
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
        "--preset",
        "agentmarket",
        "--blob-dir",
        blob_dir,
        "--rate-limit-ip",
        "0",
        "--rate-limit-identity",
        "0",
        "--secret",
        "load",
    ];
    flags.extend_from_slice(more);
    (Server::start(bin, &flags), blobs)
}

/// Starts the server on `database_url`, measures every hot path, prints the rows.
async fn run(backend: &str, database_url: &str, args: &Args, bin: &Path) {
    let empty = baseline(args).await;
    let (server, _blobs) = start(bin, database_url, &[]);
    let rows = hot_paths(server.address, args).await;
    let line = |path: &str, f: &Figures| {
        println!(
            "{backend:<10} {path:<15} {:>8} {:>10.0} {:>8.2} {:>8.2} {:>7.3}",
            f.steps,
            f.per_second(),
            f.p50_ms,
            f.p99_ms,
            f.per_second() / empty.per_second()
        );
    };
    line("empty route", &empty);
    for row in &rows {
        line(row.path, &row.figures);
    }
    let rate = |path: &str| {
        rows.iter()
            .find(|row| row.path == path)
            .map(|row| row.figures.per_second())
    };
    if let (Some(rest), Some(mcp)) = (rate("claim"), rate("claim (MCP)")) {
        println!(
            "{backend:<10} claims through MCP per second / through REST: {:.2}",
            mcp / rest
        );
    }
    match server.peak_rss_kib() {
        Some(kib) => println!(
            "{backend:<10} server peak RSS {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("{backend:<10} server peak RSS unknown (no /proc)"),
    }
}

/// Lifecycles, one after another on one connection until `until`, `a` and `b` taking turns
/// as poster and worker: post (review required), claim, deliver, accept. Returns each
/// lifecycle's time.
async fn lifecycles(address: SocketAddr, a: Agent, b: Agent, until: Instant) -> Vec<Duration> {
    let mut client = Client::connect(address).await;
    let mut times = Vec::new();
    let mut k = 0usize;
    while Instant::now() < until {
        let (poster, worker) = if k.is_multiple_of(2) {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let sent = Instant::now();
        let body = serde_json::json!({
            "text": format!("Lifecycle {k}: a research summary of a paper on markets"),
            "bounty": 1,
            "require_review": true,
        });
        let posted = client
            .send(&Request::post(
                "/api/v1/tasks".to_owned(),
                &poster.key,
                body.to_string(),
            ))
            .await;
        let posted: serde_json::Value = serde_json::from_slice(&posted).expect("json");
        let id = posted["id"].as_str().expect("task id");
        let on = |what: &str, key: &str, body: &str| {
            Request::post(format!("/api/v1/tasks/{id}/{what}"), key, body.to_owned())
        };
        client.send(&on("claim", &worker.key, "{}")).await;
        client
            .send(&on("deliver", &worker.key, r#"{"text": "done"}"#))
            .await;
        client
            .send(&on("accept", &poster.key, r#"{"rating": 5}"#))
            .await;
        times.push(sent.elapsed());
        k += 1;
    }
    times
}

/// One lifecycle run's figures.
struct LifecycleRun {
    pairs: usize,
    server: ServerKind,
    figures: Figures,
    /// Server CPU per lifecycle: user and kernel, milliseconds.
    cpu_ms: Option<(f64, f64)>,
    /// Bytes the server wrote to storage per lifecycle, KiB.
    disk_kib: Option<f64>,
    /// PostgreSQL's CPU per lifecycle, milliseconds: every `postgres` process on this
    /// machine, the server's backends and PostgreSQL's own (its WAL writer, checkpointer,
    /// autovacuum). `None` on the other stores, whose database is the server's process.
    database_ms: Option<f64>,
    /// The whole machine's busy CPU per lifecycle, milliseconds (`/proc/stat`): the server,
    /// its database, the load generator and anything else running. Two cores give at most
    /// 2,000 ms of CPU a second, so 2,000 over this is the lifecycles a second this machine
    /// could make with every cycle spent as in this run.
    machine_ms: Option<f64>,
    /// Events still in the outbox when the run ended (`marketplace_outbox_depth`): the
    /// webhook dispatcher's backlog, against the four events a lifecycle writes.
    outbox: Option<u64>,
}

/// The server's `marketplace_outbox_depth`, read from its `/metrics`.
async fn outbox_depth(client: &mut Client) -> Option<u64> {
    let text = client.send(&Request::get("/metrics".to_owned())).await;
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("marketplace_outbox_depth "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map(|n| n as u64)
}

/// Starts a server of kind `kind` on the fresh database at `database_url`, has `pairs`
/// client pairs run lifecycles for `secs` seconds, and measures them.
async fn lifecycle_run(
    bin: &Path,
    database_url: &str,
    pairs: usize,
    kind: ServerKind,
    secs: u64,
) -> LifecycleRun {
    let (server, _blobs) = start(bin, database_url, kind.flags());
    let mut setup = Client::connect(server.address).await;
    let mut agents = Vec::with_capacity(pairs);
    for i in 0..pairs {
        let a = register(&mut setup, format!("a {i}")).await;
        let b = register(&mut setup, format!("b {i}")).await;
        agents.push((a, b));
    }
    let postgres = database_url.starts_with("postgres");
    let database_before = cpu_time_of("postgres").filter(|_| postgres);
    let machine_before = cpu_ticks();
    let cpu_before = server.cpu_time();
    let written_before = server.written_bytes();
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let runs: Vec<_> = agents
        .into_iter()
        .map(|(a, b)| tokio::spawn(lifecycles(server.address, a, b, until)))
        .collect();
    let mut times = Vec::new();
    for run in runs {
        times.extend(run.await.expect("client pair"));
    }
    let figures = Figures::of(times, started.elapsed().as_secs_f64());
    let cpu_after = server.cpu_time();
    let machine_ms = machine_before
        .zip(cpu_ticks())
        .map(|((b0, _), (b1, _))| b1.saturating_sub(b0) as f64 * 10.0 / figures.steps as f64);
    let database_ms = database_before
        .zip(cpu_time_of("postgres"))
        .map(|(before, after)| {
            after.saturating_sub(before).as_secs_f64() * 1000.0 / figures.steps as f64
        });
    let cpu_ms = cpu_before.zip(cpu_after).map(|((u0, s0), (u1, s1))| {
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / figures.steps as f64;
        (per(u1 - u0), per(s1 - s0))
    });
    let disk_kib = written_before
        .zip(server.written_bytes())
        .map(|(before, after)| after.saturating_sub(before) as f64 / 1024.0 / figures.steps as f64);
    let outbox = outbox_depth(&mut Client::connect(server.address).await).await;
    LifecycleRun {
        pairs,
        server: kind,
        figures,
        cpu_ms,
        disk_kib,
        database_ms,
        machine_ms,
        outbox,
    }
}

/// The lifecycle path, `args.rounds` rounds: each measures the empty route, then every
/// pair count on each of `--servers`, each on a fresh database from `fresh`.
/// Prints every run, then per pair count the medians and ranges over the rounds. CPU is
/// per lifecycle in three parts: the server's process (`cpu ms`), PostgreSQL's processes
/// (`db ms`, on PostgreSQL) and the whole machine's (`all ms`, the load generator's
/// share included).
async fn lifecycle_report<F, Fut>(backend: &str, args: &Args, bin: &Path, fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = (String, Option<tempfile::TempDir>)>,
{
    println!(
        "{:<10} {:>5} {:>5} {:>6} {:>8} {:>10} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7}",
        "backend",
        "round",
        "pairs",
        "server",
        "cycles",
        "cycles/s",
        "p50 ms",
        "p99 ms",
        "cpu ms",
        "kernel %",
        "disk KiB",
        "outbox",
        "db ms",
        "all ms"
    );
    let mut runs: Vec<LifecycleRun> = Vec::new();
    let mut empties = Vec::new();
    for round in 1..=args.rounds {
        let empty = baseline(args).await;
        println!(
            "{backend:<10} {round:>5} empty route: {:.0} requests/s",
            empty.per_second()
        );
        empties.push(empty.per_second());
        for &pairs in &args.lifecycle_pairs {
            for &kind in &args.servers {
                let (url, _dir) = fresh().await;
                let run = lifecycle_run(bin, &url, pairs, kind, args.lifecycle_secs).await;
                let f = &run.figures;
                let (cpu, kernel) = run.cpu_ms.map_or((f64::NAN, f64::NAN), |(user, system)| {
                    (user + system, 100.0 * system / (user + system))
                });
                let disk = run.disk_kib.unwrap_or(f64::NAN);
                let outbox = run.outbox.map_or("?".to_owned(), |n| n.to_string());
                let database = run.database_ms.unwrap_or(f64::NAN);
                let machine = run.machine_ms.unwrap_or(f64::NAN);
                println!(
                    "{backend:<10} {round:>5} {pairs:>5} {:>6} {:>8} {:>10.0} {:>8.2} {:>8.2} {cpu:>9.3} {kernel:>9.0} {disk:>8.1} {outbox:>7} {database:>7.3} {machine:>7.3}",
                    kind.name(),
                    f.steps,
                    f.per_second(),
                    f.p50_ms,
                    f.p99_ms,
                );
                runs.push(run);
            }
        }
    }
    let (empty, low, high) = spread(&mut empties);
    println!("{backend:<10} empty route: median {empty:.0} requests/s ({low:.0}–{high:.0})");
    for &pairs in &args.lifecycle_pairs {
        let of = |kind: ServerKind| {
            runs.iter()
                .filter(move |r| r.pairs == pairs && r.server == kind)
        };
        for &on in &args.servers {
            // The median and range over the rounds of one figure of these runs.
            let over = |figure: &dyn Fn(&LifecycleRun) -> f64| {
                spread(&mut of(on).map(figure).collect::<Vec<_>>())
            };
            let (rate, low, high) = over(&|r| r.figures.per_second());
            let (p50, _, _) = over(&|r| r.figures.p50_ms);
            let (p99, _, _) = over(&|r| r.figures.p99_ms);
            let cpu = over(&|r| r.cpu_ms.map_or(f64::NAN, |(u, s)| u + s));
            let (disk, _, _) = over(&|r| r.disk_kib.unwrap_or(f64::NAN));
            let (database, _, _) = over(&|r| r.database_ms.unwrap_or(f64::NAN));
            let machine = over(&|r| r.machine_ms.unwrap_or(f64::NAN));
            println!(
                "{backend:<10} {pairs:>3} pairs, server {:<6}: median {rate:.0} lifecycles/s ({low:.0}–{high:.0}), p50 {p50:.2} ms, p99 {p99:.2} ms, server CPU {:.3} ms per lifecycle ({:.3}–{:.3}), database CPU {database:.3} ms, machine CPU {:.3} ms ({:.3}–{:.3}), {disk:.1} KiB written per lifecycle",
                on.name(),
                cpu.0,
                cpu.1,
                cpu.2,
                machine.0,
                machine.1,
                machine.2
            );
        }
        // Each server over the first of `--servers`, round by round.
        let Some((&first, others)) = args.servers.split_first() else {
            continue;
        };
        for &kind in others {
            let ratios = of(kind)
                .zip(of(first))
                .map(|(this, base)| this.figures.per_second() / base.figures.per_second());
            let (ratio, low, high) = spread(&mut ratios.collect::<Vec<_>>());
            println!(
                "{backend:<10} {pairs:>3} pairs: {} ÷ {}, same round: median {ratio:.2} ({low:.2}–{high:.2})",
                kind.name(),
                first.name()
            );
        }
    }
}

/// A fresh `market_load` database on the PostgreSQL server at `DATABASE_URL`.
async fn scratch_postgres() -> Option<(String, String)> {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut admin = match PgConnection::connect(&server).await {
        Ok(admin) => admin,
        Err(e) => {
            eprintln!("postgres skipped: {e}");
            return None;
        }
    };
    admin
        .execute("DROP DATABASE IF EXISTS market_load WITH (FORCE)")
        .await
        .ok()?;
    admin.execute("CREATE DATABASE market_load").await.ok()?;
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    Some((server.clone(), format!("{base}/market_load")))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.serve_empty {
        serve_empty().await;
        return;
    }
    let counts = [
        args.connections,
        args.reads_per_connection,
        args.baseline_per_connection,
    ];
    if counts.contains(&0) {
        Args::command()
            .error(
                ErrorKind::ValueValidation,
                "--connections, --reads-per-connection and --baseline-per-connection must be at least 1",
            )
            .exit();
    }
    let bin = server_binary(args.server_bin.as_deref());
    if args.lifecycles_only {
        if args.lifecycle_pairs.contains(&0)
            || args.rounds == 0
            || args.lifecycle_secs == 0
            || args.servers.is_empty()
        {
            Args::command()
                .error(
                    ErrorKind::ValueValidation,
                    "--lifecycle-pairs, --rounds and --lifecycle-secs must be at least 1, and --servers name one",
                )
                .exit();
        }
        if matches!(args.backend, Backend::Sqlite | Backend::Both) {
            lifecycle_report("sqlite", &args, &bin, || async {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("load.db").display());
                (url, Some(dir))
            })
            .await;
        }
        if matches!(args.backend, Backend::Postgres | Backend::Both) {
            lifecycle_report("postgres", &args, &bin, || async {
                let (_, url) = scratch_postgres()
                    .await
                    .expect("PostgreSQL at DATABASE_URL");
                (url, None)
            })
            .await;
        }
        if args.backend == Backend::Memory {
            lifecycle_report("memory", &args, &bin, || async {
                ("memory://".to_owned(), None)
            })
            .await;
        }
        return;
    }
    println!(
        "{} connections; {} tasks, {} listings, {} searches and {} empty-route requests per connection",
        args.connections,
        args.tasks_per_connection,
        args.reads_per_connection,
        args.reads_per_connection,
        args.baseline_per_connection
    );
    println!(
        "{:<10} {:<15} {:>8} {:>10} {:>8} {:>8} {:>7}",
        "backend", "path", "samples", "per sec", "p50 ms", "p99 ms", "ratio"
    );
    if matches!(args.backend, Backend::Sqlite | Backend::Both) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("load.db").display());
        run("sqlite", &url, &args, &bin).await;
    }
    if args.backend == Backend::Memory {
        run("memory", "memory://", &args, &bin).await;
    }
    if matches!(args.backend, Backend::Postgres | Backend::Both)
        && let Some((server, url)) = scratch_postgres().await
    {
        run("postgres", &url, &args, &bin).await;
        if let Ok(mut admin) = PgConnection::connect(&server).await {
            let _ = admin
                .execute("DROP DATABASE IF EXISTS market_load WITH (FORCE)")
                .await;
        }
    }
}
