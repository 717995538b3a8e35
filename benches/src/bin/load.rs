//! The server's load generator: claims per second and their p50/p99 latency at N
//! concurrent keep-alive connections, on SQLite and on PostgreSQL, each beside a baseline
//! measured in the same run — an empty axum route served by the same server stack.
//!
//! ```sh
//! cargo run --release -p benches --bin load                      # both backends, 64 connections
//! cargo run --release -p benches --bin load -- --backend sqlite --connections 16
//! ```
//!
//! PostgreSQL comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! the run creates and drops its own database there.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::float_arithmetic)]

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use clap::{Parser, ValueEnum};
use http_adapter::auth::MasterKey;
use http_adapter::limits::RateLimits;
use http_adapter::server::{Config, router, serve};
use marketplace_core::store::Backend as StoreBackend;
use marketplace_core::{IdentityId, Marketplace, Policy, TaskSpec};
use rust_decimal::Decimal;
use sqlx::{Connection, Executor, PgConnection};
use storage_postgres::PgStore;
use storage_sqlite::{SqliteOptions, SqliteStore};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
    Both,
}

/// Drives a running marketplace server and an empty route with the same client.
#[derive(Debug, Parser)]
struct Args {
    /// Which store the server runs on.
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    backend: Backend,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Claims each connection makes (each on a task of its own).
    #[arg(long, default_value_t = 60)]
    claims_per_connection: usize,
    /// Post every task from one poster (a busy poster's tasks claimed at once) instead of
    /// one poster per connection.
    #[arg(long)]
    one_poster: bool,
    /// Connections the server keeps to PostgreSQL.
    #[arg(long, default_value_t = 16)]
    pool: u32,
    /// Requests each connection makes to the empty route.
    #[arg(long, default_value_t = 600)]
    baseline_per_connection: usize,
}

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

    /// Sends a request; returns the status and the body.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: &str,
    ) -> (u16, Vec<u8>) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(key) = auth {
            head.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.reader
            .get_mut()
            .write_all(head.as_bytes())
            .await
            .expect("write");
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("status line");
        let status = line
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
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}

/// Requests per second and latency percentiles of one measured run.
struct Figures {
    requests: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Figures {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Runs `work[i]` (a list of paths) on connection `i`, all connections at once.
async fn drive(
    address: SocketAddr,
    method: &'static str,
    work: Vec<(Option<String>, Vec<String>)>,
) -> Figures {
    let mut clients = Vec::with_capacity(work.len());
    for _ in 0..work.len() {
        clients.push(Client::connect(address).await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mut client, (auth, paths)) in clients.into_iter().zip(work) {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(paths.len());
            for path in paths {
                let sent = Instant::now();
                let (status, body) = client.request(method, &path, auth.as_deref(), "").await;
                assert!(
                    status < 300,
                    "{path}: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        requests: latencies.len(),
        seconds,
        p50_ms: at(0.50).as_secs_f64() * 1000.0,
        p99_ms: at(0.99).as_secs_f64() * 1000.0,
    }
}

async fn listen(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve(listener, app, std::future::pending()));
    address
}

/// The empty route: the same axum stack, no marketplace.
async fn baseline(args: &Args) -> Figures {
    let address = listen(Router::new().route("/", get(|| async { "ok" }))).await;
    let work = (0..args.connections)
        .map(|_| (None, vec!["/".to_owned(); args.baseline_per_connection]))
        .collect();
    drive(address, "GET", work).await
}

/// Registers workers and posters over HTTP (workers need API keys), posts each worker's
/// tasks through the engine (from a poster per connection, or one for all), then measures
/// the claims.
async fn claims<S: StoreBackend + Clone>(store: S, args: &Args) -> Figures {
    let policy = Policy {
        signup_grant: Decimal::from(1_000_000_000),
        open_claims_max: u32::MAX,
        ..Policy::agentmarket()
    };
    let market = Marketplace::new(store, policy);
    let blobs = tempfile::tempdir().expect("blob dir");
    let config = Config::new(MasterKey::from_secret("load"))
        .with_blob_dir(blobs.path())
        .with_rate_limits(RateLimits::off());
    let address = listen(router(market.clone(), config)).await;
    let mut setup = Client::connect(address).await;
    let mut register = async |alias: String| {
        let body = format!(r#"{{"alias": "{alias}"}}"#);
        let (status, reply) = setup
            .request("POST", "/api/v1/auth/register", None, &body)
            .await;
        assert_eq!(status, 201);
        let reply: serde_json::Value = serde_json::from_slice(&reply).expect("json");
        let key = reply["api_key"].as_str().expect("key").to_owned();
        let id = IdentityId::parse(reply["identity_hash"].as_str().expect("id")).expect("id");
        (key, id)
    };
    let shared = register("poster".to_owned()).await;
    let mut pairs = Vec::new();
    for i in 0..args.connections {
        let worker = register(format!("worker{i}")).await;
        let poster = if args.one_poster {
            shared.clone()
        } else {
            register(format!("poster{i}")).await
        };
        pairs.push((worker, poster));
    }
    let mut work = Vec::new();
    let mut posting = Vec::new();
    for ((key, _), (_, poster)) in pairs {
        let (market, count) = (market.clone(), args.claims_per_connection);
        posting.push(tokio::spawn(async move {
            let mut paths = Vec::with_capacity(count);
            for _ in 0..count {
                let spec = TaskSpec::new("Summarize this paper in 200 words", Decimal::ONE);
                let id = market.post_task(&poster, spec).await.expect("post").id;
                paths.push(format!("/api/v1/tasks/{id}/claim"));
            }
            (Some(key), paths)
        }));
    }
    for p in posting {
        work.push(p.await.expect("posting"));
    }
    drive(address, "POST", work).await
}

fn report(backend: &str, empty: &Figures, claim: &Figures) {
    println!(
        "{backend:<10} {:<12} {:>9} {:>8.2} {:>10.0} {:>8.2} {:>8.2} {:>7}",
        "empty route",
        empty.requests,
        empty.seconds,
        empty.per_second(),
        empty.p50_ms,
        empty.p99_ms,
        "1"
    );
    println!(
        "{backend:<10} {:<12} {:>9} {:>8.2} {:>10.0} {:>8.2} {:>8.2} {:>7.3}",
        "claim",
        claim.requests,
        claim.seconds,
        claim.per_second(),
        claim.p50_ms,
        claim.p99_ms,
        claim.per_second() / empty.per_second()
    );
}

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
    println!(
        "{} connections; {} claims and {} empty-route requests per connection",
        args.connections, args.claims_per_connection, args.baseline_per_connection
    );
    println!(
        "{:<10} {:<12} {:>9} {:>8} {:>10} {:>8} {:>8} {:>7}",
        "backend", "route", "requests", "seconds", "req/s", "p50 ms", "p99 ms", "ratio"
    );
    if matches!(args.backend, Backend::Sqlite | Backend::Both) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(SqliteOptions::file(dir.path().join("load.db")))
            .await
            .expect("sqlite");
        let empty = baseline(&args).await;
        let claim = claims(store, &args).await;
        report("sqlite", &empty, &claim);
    }
    if matches!(args.backend, Backend::Postgres | Backend::Both)
        && let Some((server, url)) = scratch_postgres().await
    {
        let store = PgStore::connect(&url, args.pool).await.expect("postgres");
        let empty = baseline(&args).await;
        let claim = claims(store.clone(), &args).await;
        report("postgres", &empty, &claim);
        store.close().await;
        if let Ok(mut admin) = PgConnection::connect(&server).await {
            let _ = admin
                .execute("DROP DATABASE IF EXISTS market_load WITH (FORCE)")
                .await;
        }
    }
}
