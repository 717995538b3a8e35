//! Live streams: what `GET /api/v1/events` streams cost one server, and how soon an event
//! reaches them.
//!
//! Starts the real `marketplace-server` on a fresh SQLite file, opens one anonymous stream
//! and posts `--baseline-events` public tasks one at a time (the baseline: one listener),
//! then opens `--streams` streams in all and posts `--events` more. For each posting it
//! records when the API answered (the command committed) and when each stream received
//! its `task.posted`; the next task is posted once every stream has the last. Reports the
//! delay from commit to delivery (p50/p99 over every stream and event) with one stream and
//! with all, their ratio, and the server's resident memory before the streams and with all
//! of them open.
//!
//! ```sh
//! cargo run --release -p benches --bin streams                   # 1,000 streams
//! cargo run --release -p benches --bin streams -- --streams 100 --events 20
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::float_arithmetic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use benches::process::{Server, server_binary};
use clap::Parser;
use tokio::sync::mpsc;

/// Streams held by one server, and the delay of their events.
#[derive(Debug, Parser)]
#[command(name = "streams")]
struct Args {
    /// Streams open at once in the measured phase.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    streams: u32,
    /// Tasks posted with every stream open.
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// Tasks posted with one stream open (the baseline).
    #[arg(long, default_value_t = 50)]
    baseline_events: usize,
    /// The `marketplace-server` binary (default: beside this one, built first in the same
    /// profile under `cargo run`).
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

/// How long every stream may take to receive one event before the run fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// One event received: which stream, which task, when.
type Receipt = (usize, String, Instant);

/// Opens stream `index` and forwards the task id of every `task.posted` it receives.
async fn follow(
    client: reqwest::Client,
    address: SocketAddr,
    index: usize,
    receipts: mpsc::UnboundedSender<Receipt>,
    open: mpsc::UnboundedSender<usize>,
) {
    let mut response = client
        .get(format!("http://{address}/api/v1/events"))
        .send()
        .await
        .expect("a stream");
    assert_eq!(response.status(), 200, "stream {index}");
    let _ = open.send(index);
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue; // a keep-alive comment
            };
            let event: serde_json::Value = serde_json::from_str(data).expect("an event");
            if event["kind"] == "task.posted"
                && let Some(task) = event["task_id"].as_str()
                && receipts.send((index, task.to_owned(), at)).is_err()
            {
                return;
            }
        }
    }
}

/// Posts `count` tasks one at a time as `key`, each once every one of `streams` streams
/// received the last; the delays from each answer to each receipt, in ms.
async fn post_and_wait(
    client: &reqwest::Client,
    address: SocketAddr,
    key: &str,
    count: usize,
    streams: usize,
    receipts: &mut mpsc::UnboundedReceiver<Receipt>,
) -> Vec<f64> {
    let mut delays = Vec::with_capacity(count * streams);
    for n in 0..count {
        // Posted at no fixed phase of the server's poll: 0 to 199 ms after the last.
        tokio::time::sleep(Duration::from_millis(((n * 37) % 200) as u64)).await;
        let answer = client
            .post(format!("http://{address}/api/v1/tasks"))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(serde_json::json!({"text": format!("stream test {n}"), "bounty": 0}).to_string())
            .send()
            .await
            .expect("post");
        let committed = Instant::now();
        assert_eq!(answer.status(), 201, "post {n}");
        let task: serde_json::Value =
            serde_json::from_slice(&answer.bytes().await.expect("the task")).expect("json");
        let id = task["id"].as_str().expect("an id").to_owned();
        let mut received = 0;
        while received < streams {
            let (_, task, at) = tokio::time::timeout(PATIENCE, receipts.recv())
                .await
                .unwrap_or_else(|_| panic!("post {n}: {received} of {streams} streams got it"))
                .expect("the streams run");
            assert_eq!(task, id, "events arrive one posting at a time, in order");
            // An event may arrive before the client has read the answer; it counts as 0.
            let delay = at.checked_duration_since(committed).unwrap_or_default();
            delays.push(delay.as_secs_f64() * 1000.0);
            received += 1;
        }
    }
    delays
}

/// p50 and p99 of `values`.
fn percentiles(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() as f64 * q) as usize).min(values.len() - 1)];
    (at(0.50), at(0.99))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bin = server_binary(args.server_bin.as_deref());
    let dir = tempfile::tempdir().expect("a directory");
    let database = format!("sqlite://{}", dir.path().join("market.db").display());
    let blobs = dir.path().join("blobs");
    let server = Server::start(
        &bin,
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database,
            "--blob-dir",
            blobs.to_str().expect("utf-8 path"),
            "--rate-limit-ip",
            "0",
            "--rate-limit-identity",
            "0",
        ],
    );
    let address = server.address;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let registered = client
        .post(format!("http://{address}/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"alias": "poster"}).to_string())
        .send()
        .await
        .expect("register")
        .bytes()
        .await
        .expect("an answer");
    let registered: serde_json::Value = serde_json::from_slice(&registered).expect("json");
    let key = registered["api_key"].as_str().expect("a key").to_owned();
    let rss_before = server.rss_kib();

    let (receipts_tx, mut receipts) = mpsc::unbounded_channel();
    let (open_tx, mut open) = mpsc::unbounded_channel();
    let streams = usize::try_from(args.streams).expect("fits");
    let mut followers = Vec::with_capacity(streams);
    followers.push(tokio::spawn(follow(
        client.clone(),
        address,
        0,
        receipts_tx.clone(),
        open_tx.clone(),
    )));
    open.recv().await.expect("the first stream");
    let mut one = post_and_wait(
        &client,
        address,
        &key,
        args.baseline_events,
        1,
        &mut receipts,
    )
    .await;

    let started = Instant::now();
    for index in 1..streams {
        followers.push(tokio::spawn(follow(
            client.clone(),
            address,
            index,
            receipts_tx.clone(),
            open_tx.clone(),
        )));
    }
    for _ in 1..streams {
        open.recv().await.expect("a stream opens");
    }
    let opened = started.elapsed();
    let mut all = post_and_wait(&client, address, &key, args.events, streams, &mut receipts).await;
    let rss_with = server.rss_kib();

    let (one_p50, one_p99) = percentiles(&mut one);
    let (all_p50, all_p99) = percentiles(&mut all);
    println!("{streams} streams opened in {:.2} s", opened.as_secs_f64());
    println!("commit to delivery, ms           p50        p99   deliveries");
    println!(
        "  1 stream (baseline)      {one_p50:>9.1}  {one_p99:>9.1}   {:>10}",
        one.len()
    );
    println!(
        "  {streams:<5} streams            {all_p50:>9.1}  {all_p99:>9.1}   {:>10}",
        all.len()
    );
    println!(
        "  ratio                    {:>9.2}  {:>9.2}",
        all_p50 / one_p50.max(f64::EPSILON),
        all_p99 / one_p99.max(f64::EPSILON)
    );
    match (rss_before, rss_with) {
        (Some(before), Some(with)) => println!(
            "server RSS: {:.1} MiB before the streams, {:.1} MiB with {streams} open ({:.1} KiB a stream)",
            before as f64 / 1024.0,
            with as f64 / 1024.0,
            with.saturating_sub(before) as f64 / streams as f64
        ),
        _ => println!("server RSS unknown (no /proc)"),
    }
    for follower in followers {
        follower.abort();
    }
    drop(server);
}
