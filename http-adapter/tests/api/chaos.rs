//! Chaos: `marketplace-server` processes killed (SIGKILL) and restarted under load, with
//! group commit batching the commands in flight — two replicas on one PostgreSQL database,
//! and one server on a SQLite file. Clients drive random lifecycles — posting, claiming
//! (racing for the same tasks), queuing, delivering, accepting, rejecting, cancelling — and
//! retry every command after a timeout or a dead server with the same `Idempotency-Key`
//! (on the other replica, where there is one). Before each kill the test reads from the
//! victim's `/metrics` how many commands its commits held. At the end `marketplace-server
//! audit` passes and the database agrees with every acknowledged command: each took effect
//! exactly once.
//!
//! The short form runs for 8 seconds per store; `MARKETPLACE_CHAOS_SECS=120 cargo test -p
//! http-adapter --test api chaos -- --nocapture` runs longer.

#![allow(clippy::print_stdout)] // the run's figures

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::process::{Process, audit, try_request};
use serde_json::{Value, json};
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};

const AGENTS: usize = 6;
/// Clients at once: enough that batches of many commands are in flight at each kill.
const WORKERS: usize = 24;
const KILL_EVERY: Duration = Duration::from_millis(1500);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts per command, 100 ms apart besides their own time: long enough to outlast any
/// restart.
const ATTEMPTS_MAX: usize = 100;

/// A command the server answered (its last attempt's answer).
#[derive(Debug, Clone)]
struct Ack {
    verb: &'static str,
    task: Option<String>,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct Tally {
    sent: AtomicUsize,
    attempts: AtomicUsize,
    retried: AtomicUsize,
    unacknowledged: AtomicUsize,
}

struct World {
    /// Where each attempt goes, in turn (one address twice: one server).
    replicas: [SocketAddr; 2],
    /// API key and identity of each agent.
    agents: Vec<(String, String)>,
    /// Posted tasks and their posters.
    tasks: Mutex<Vec<(String, usize)>>,
    acks: Mutex<Vec<Ack>>,
    tally: Tally,
}

/// xorshift: reproducible per worker, no dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

impl World {
    /// Sends one command until a replica answers it (anything but a 5xx), retrying with the
    /// same idempotency key on alternating replicas.
    async fn command(
        &self,
        key: &str,
        actor: usize,
        verb: &'static str,
        path: &str,
        body: Value,
        task: Option<String>,
    ) -> Option<Ack> {
        self.tally.sent.fetch_add(1, Ordering::Relaxed);
        let text = body.to_string();
        let headers = [
            ("Content-Type", "application/json"),
            ("X-API-Key", self.agents[actor].0.as_str()),
            ("Idempotency-Key", key),
        ];
        for attempt in 0..ATTEMPTS_MAX {
            self.tally.attempts.fetch_add(1, Ordering::Relaxed);
            if attempt > 0 {
                self.tally.retried.fetch_add(1, Ordering::Relaxed);
            }
            let replica = self.replicas[(actor + attempt) % 2];
            let answer = try_request(
                replica,
                "POST",
                path,
                &headers,
                text.as_bytes(),
                ATTEMPT_TIMEOUT,
            );
            if let Some((status, body)) = answer.await.filter(|(s, _)| *s < 500) {
                let ack = Ack {
                    verb,
                    task,
                    status,
                    body,
                };
                self.acks.lock().unwrap().push(ack.clone());
                return Some(ack);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.tally.unacknowledged.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// A task as either replica shows it, if one answers.
    async fn read(&self, id: &str, rng: &mut u64) -> Option<Value> {
        let replica = self.replicas[usize::try_from(next(rng) % 2).unwrap()];
        let path = format!("/api/v1/tasks/{id}");
        let (status, task) = try_request(replica, "GET", &path, &[], &[], ATTEMPT_TIMEOUT).await?;
        (status == 200).then_some(task)
    }
}

async fn worker(world: Arc<World>, worker: usize, until: Instant) {
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (worker as u64 + 1);
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let key = format!("chaos-{worker}-{n}");
        let actor = usize::try_from(next(&mut rng) % AGENTS as u64).unwrap();
        let known = world.tasks.lock().unwrap().len();
        if known == 0 || next(&mut rng).is_multiple_of(4) {
            let bounty = 1 + next(&mut rng) % 3;
            let body = json!({ "text": "chaos", "bounty": bounty, "require_review": true });
            if let Some(ack) = world
                .command(&key, actor, "post", "/api/v1/tasks", body, None)
                .await
                && ack.status == 201
            {
                let id = ack.body["id"].as_str().unwrap().to_owned();
                world.tasks.lock().unwrap().push((id, actor));
            }
            continue;
        }
        let (id, poster) = {
            let tasks = world.tasks.lock().unwrap();
            tasks[usize::try_from(next(&mut rng)).unwrap() % tasks.len()].clone()
        };
        let Some(task) = world.read(&id, &mut rng).await else {
            continue;
        };
        let claimant = task["claimed_by"]
            .as_str()
            .and_then(|c| world.agents.iter().position(|(_, a)| a == c));
        let other =
            (poster + 1 + usize::try_from(next(&mut rng) % (AGENTS as u64 - 1)).unwrap()) % AGENTS;
        let roll = next(&mut rng) % 10;
        let (who, verb, body) = match (task["status"].as_str().unwrap_or(""), claimant) {
            ("open", _) if roll < 8 => (other, "claim", json!({})),
            ("open", _) => (poster, "cancel", json!({})),
            ("claimed", Some(claimant)) if roll < 7 => {
                (claimant, "deliver", json!({ "text": "done" }))
            }
            ("claimed", _) if roll < 9 => (other, "queue", json!({})),
            ("claimed", _) => (poster, "cancel", json!({})),
            ("delivered", _) if roll < 6 => (poster, "accept", json!({ "rating": 5 })),
            ("delivered", _) => (
                poster,
                "reject",
                json!({ "text": "again", "category": "quality" }),
            ),
            _ => continue,
        };
        let path = format!("/api/v1/tasks/{id}/{verb}");
        world.command(&key, who, verb, &path, body, Some(id)).await;
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_killed_under_load_lose_and_duplicate_nothing() {
    if !postgres_ready() {
        return;
    }
    let (_database, url) = ScratchDatabase::create().await;
    chaos(&url, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_server_killed_under_load_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chaos.db").display());
    chaos(&url, 1).await;
}

/// The tasks stored, with their status.
async fn stored_tasks(url: &str) -> Vec<(String, String)> {
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let rows = sqlx::query_as("SELECT id, status FROM tasks")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        return rows;
    }
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows = sqlx::query_as("SELECT id::text, status FROM tasks")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

/// `servers` processes (replicas) on `url`, killed in turn under load; then every check.
async fn chaos(url: &str, servers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    // One lane per server: its commands batch whatever their number.
    let args = ["--preset", "agentmarket", "--batch-lanes", "1"];
    let start = |i: usize| Process::start(url, dir.path(), &ports[i].to_string(), &args);
    let mut replicas = [Some(start(0)), (servers > 1).then(|| start(1))];
    let targets = if servers > 1 {
        ports
    } else {
        [ports[0], ports[0]]
    };

    let mut agents = Vec::new();
    for n in 0..AGENTS {
        let first = replicas[0].as_ref().unwrap();
        let (status, body) = first
            .call(
                "POST",
                "/api/agents/register",
                None,
                json!({ "name": format!("agent {n}") }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let data = &body["data"];
        agents.push((
            data["api_key"].as_str().unwrap().to_owned(),
            data["id"].as_str().unwrap().to_owned(),
        ));
    }
    let world = Arc::new(World {
        replicas: targets,
        agents,
        tasks: Mutex::new(Vec::new()),
        acks: Mutex::new(Vec::new()),
        tally: Tally::default(),
    });
    let secs: u64 = std::env::var("MARKETPLACE_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let until = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(worker(world.clone(), w, until)))
        .collect();
    let mut kills = 0;
    // Commits and their commands in the victims just before each kill; the largest batch.
    let (mut batches, mut batched, mut largest) = (0, 0, 0);
    while Instant::now() + KILL_EVERY < until {
        tokio::time::sleep(KILL_EVERY).await;
        let victim = kills % servers;
        if let Some(mut process) = replicas[victim].take() {
            batches += process.metric("marketplace_commit_batches_total").await;
            batched += process
                .metric("marketplace_commit_batch_commands_total")
                .await;
            largest = largest.max(process.metric("marketplace_commit_batch_largest").await);
            process.kill();
        }
        kills += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
        replicas[victim] = Some(tokio::task::block_in_place(|| start(victim)));
    }
    for w in workers {
        w.await.unwrap();
    }

    // The server's own audit of every invariant.
    let (clean, report) = audit(url);
    println!("{report}");
    let mut violations = report.lines().filter(|l| l.starts_with("FAIL")).count();
    assert!(clean, "the audit failed:\n{report}");

    // The server agrees with every acknowledged command.
    let acks = world.acks.lock().unwrap().clone();
    let posted: BTreeSet<String> = acks
        .iter()
        .filter(|a| a.verb == "post" && a.status == 201)
        .map(|a| a.body["id"].as_str().unwrap().to_owned())
        .collect();
    let stored: BTreeMap<String, String> = stored_tasks(url).await.into_iter().collect();
    let stored_ids: BTreeSet<String> = stored.keys().cloned().collect();
    if stored_ids != posted {
        violations += 1;
        println!(
            "tasks: {} posted and acknowledged, {} stored",
            posted.len(),
            stored_ids.len()
        );
    }
    let mut finals = BTreeMap::<&str, usize>::new();
    for ack in acks.iter().filter(|a| a.status == 200) {
        let expected = match ack.verb {
            "accept" => "completed",
            "cancel" => "cancelled",
            _ => continue,
        };
        *finals.entry(expected).or_default() += 1;
        let task = ack.task.as_deref().unwrap();
        if stored.get(task).map(String::as_str) != Some(expected) {
            violations += 1;
            println!(
                "{} acknowledged for {task}, but it is {:?}",
                ack.verb,
                stored.get(task)
            );
        }
    }
    for status in ["completed", "cancelled"] {
        let on_server = stored.values().filter(|s| *s == status).count();
        let acknowledged = finals.get(status).copied().unwrap_or(0);
        if on_server != acknowledged {
            violations += 1;
            println!("{status}: {acknowledged} acknowledged, {on_server} on the server");
        }
    }
    let tally = &world.tally;
    let by_verb = acks
        .iter()
        .fold(BTreeMap::<&str, usize>::new(), |mut m, a| {
            *m.entry(a.verb).or_default() += 1;
            m
        });
    println!(
        "chaos on {}: {secs} s, {WORKERS} clients, {AGENTS} agents, {servers} server(s): {} \
         commands sent, {} acknowledged ({by_verb:?}), {} attempts, {} retried, {} \
         unacknowledged, {kills} kills, {batched} commands in {batches} commits in the \
         killed servers (largest {largest}), {} tasks ({} completed, {} cancelled), \
         {violations} violations",
        url.split(':').next().unwrap_or("?"),
        tally.sent.load(Ordering::Relaxed),
        acks.len(),
        tally.attempts.load(Ordering::Relaxed),
        tally.retried.load(Ordering::Relaxed),
        tally.unacknowledged.load(Ordering::Relaxed),
        stored.len(),
        finals.get("completed").copied().unwrap_or(0),
        finals.get("cancelled").copied().unwrap_or(0),
    );
    assert_eq!(
        tally.unacknowledged.load(Ordering::Relaxed),
        0,
        "every command answered"
    );
    assert!(kills >= 2, "servers were killed");
    assert!(
        largest >= 3 && batched > batches,
        "commits held several commands each: {batched} commands in {batches} commits, \
         the largest {largest}"
    );
    assert_eq!(violations, 0);
}
