//! Webhooks across real `marketplace-server` processes: a server killed (SIGKILL) with
//! undelivered events delivers them after its restart; two replicas on one PostgreSQL
//! database deliver every event, none lost, and count how many they sent twice.

#![allow(clippy::print_stdout)] // the figures of the runs

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::receiver::{Received, Receiver};
use serde_json::{Value, json};
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};

const WAIT: Duration = Duration::from_secs(60);

/// A running `marketplace-server`, killed when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(database_url: &str, dir: &Path, ca_file: &Path) -> Self {
        Self::start_dispatching(database_url, dir, ca_file, "50")
    }

    /// A server whose dispatcher looks for work every `interval_ms`.
    fn start_dispatching(
        database_url: &str,
        dir: &Path,
        ca_file: &Path,
        interval_ms: &str,
    ) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace-server"))
            .args(["--listen", "127.0.0.1:0", "--database-url", database_url])
            .arg("--blob-dir")
            .arg(dir.join("blobs"))
            .arg("--outbound-ca-file")
            .arg(ca_file)
            .args([
                "--outbound-allow-private",
                "--preset",
                "agentmarket",
                "--dispatch-interval-ms",
                interval_ms,
                "--webhook-backoff-ms",
                "200",
                "--webhook-timeout-secs",
                "1",
                "--rate-limit-ip",
                "0",
                "--rate-limit-identity",
                "0",
            ])
            .env("MARKETPLACE_SECRET", "webhook process tests")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self { child, address }
    }

    async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
        let text = body.to_string();
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(key) = key {
            headers.push(("X-API-Key", key));
        }
        let (status, _, body) =
            common::request(self.address, method, path, &headers, Some(text.as_bytes())).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Registers an AgentMarket agent: its key, and (with a webhook) the secret.
    async fn agent(
        &self,
        name: &str,
        caps: &[&str],
        webhook: Option<String>,
    ) -> (String, Option<String>) {
        let mut body = json!({ "name": name, "capabilities": caps });
        if let Some(url) = webhook {
            body["webhook_url"] = json!(url);
        }
        let (status, reply) = self.call("POST", "/api/agents/register", None, body).await;
        assert_eq!(status, 201, "{reply}");
        let data = &reply["data"];
        (
            data["api_key"].as_str().unwrap().to_owned(),
            data["webhook_secret"].as_str().map(str::to_owned),
        )
    }

    async fn post_task(&self, key: &str, n: usize) -> String {
        let body =
            json!({ "title": format!("task {n}"), "budget": 1, "required_capabilities": ["code"] });
        let (status, reply) = self.call("POST", "/api/tasks", Some(key), body).await;
        assert_eq!(status, 201, "{reply}");
        reply["data"]["id"].as_str().unwrap().to_owned()
    }

    /// The sum of a metric's series in this process's `/metrics`.
    async fn metric(&self, name: &str) -> u64 {
        let (_, _, body) = common::request(self.address, "GET", "/metrics", &[], None).await;
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }

    /// Delivery attempts this process made.
    async fn attempts_sent(&self) -> u64 {
        self.metric("marketplace_delivery_attempts_total").await
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Task ids that reached the receiver with a 2xx answer.
fn delivered_tasks(received: &[Received]) -> BTreeSet<String> {
    received
        .iter()
        .filter(|r| r.answered == 200 && r.event == "task.posted")
        .filter_map(|r| r.body["task"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// How many webhook ids were answered 2xx more than once.
fn duplicates(received: &[Received]) -> usize {
    let mut per_id: BTreeMap<&str, usize> = BTreeMap::new();
    for r in received.iter().filter(|r| r.answered == 200) {
        *per_id.entry(r.webhook_id.as_str()).or_default() += 1;
    }
    per_id.values().map(|n| n - 1).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_events_survive_a_killed_server() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &receiver.ca_pem).unwrap();
    let url = format!("sqlite://{}", dir.path().join("market.db").display());
    let mut first = Server::start(&url, dir.path(), &ca_file);
    let (worker, secret) = first
        .agent("Worker", &["code"], Some(receiver.url("/w")))
        .await;
    receiver.set_secret("/w", &secret.unwrap());
    let (poster, _) = first.agent("Poster", &[], None).await;

    receiver.fail_next(usize::MAX);
    const TASKS: usize = 20;
    let mut posted = BTreeSet::new();
    for n in 0..TASKS {
        posted.insert(first.post_task(&poster, n).await);
    }
    // Kill once some failures are on the server's record (others may be in flight).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, list) = first
            .call(
                "GET",
                "/api/v1/webhooks/deliveries?limit=50",
                Some(&worker),
                Value::Null,
            )
            .await;
        let recorded = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["attempts"][0]["status_code"] == 500)
            .count();
        if recorded >= 5 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failures recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    // A server whose dispatcher would first look in an hour takes more tasks: their
    // events stay in the outbox, not yet fanned out, when it is killed too.
    let mut idle = Server::start_dispatching(&url, dir.path(), &ca_file, "3600000");
    const LATE: usize = 5;
    for n in TASKS..TASKS + LATE {
        posted.insert(idle.post_task(&poster, n).await);
    }
    let depth = idle.metric("marketplace_outbox_depth").await;
    assert!(
        depth >= LATE as u64,
        "the late events wait in the outbox: {depth}"
    );
    idle.kill();
    let attempts_before = receiver.received().len();

    receiver.fail_next(0);
    let second = Server::start(&url, dir.path(), &ca_file);
    let got = receiver
        .wait_until(WAIT, |r| delivered_tasks(r).len() == TASKS + LATE)
        .await;
    assert_eq!(
        delivered_tasks(&got),
        posted,
        "every task.posted delivered after the restart"
    );
    assert!(got.iter().all(|r| r.agentmarket_ok && r.standard_ok));
    let after = got.len() - attempts_before;
    println!(
        "crash test: {} events, {LATE} of them still in the outbox; \
         {attempts_before} failed attempts before SIGKILL; \
         {after} attempts after restart; {} delivered; {} duplicate successes",
        TASKS + LATE,
        delivered_tasks(&got).len(),
        duplicates(&got)
    );
    // The restarted server's record: every delivery done, the failures before the kill
    // on record with their status.
    let deadline = tokio::time::Instant::now() + WAIT;
    let list = loop {
        let (status, list) = second
            .call(
                "GET",
                "/api/v1/webhooks/deliveries?limit=50",
                Some(&worker),
                Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        let list = list.as_array().cloned().unwrap();
        if list.iter().all(|d| d["status"] == "delivered") || tokio::time::Instant::now() > deadline
        {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(list.len(), TASKS + LATE);
    assert!(list.iter().all(|d| d["status"] == "delivered"), "{list:?}");
    let failed_then_delivered = list
        .iter()
        .filter(|d| {
            let codes: Vec<&Value> = d["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| &a["status_code"])
                .collect();
            codes.first() == Some(&&json!(500)) && codes.last() == Some(&&json!(200))
        })
        .count();
    assert!(
        failed_then_delivered > 0,
        "attempts before the kill are on record: {list:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_every_event_once() {
    if !postgres_ready() {
        return;
    }
    let (_database, url) = ScratchDatabase::create().await;
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &receiver.ca_pem).unwrap();
    let replicas = [
        Server::start(&url, dir.path(), &ca_file),
        Server::start(&url, dir.path(), &ca_file),
    ];
    const AGENTS: usize = 5;
    const TASKS: usize = 40;
    for n in 0..AGENTS {
        let path = format!("/agent{n}");
        let (_, secret) = replicas[n % 2]
            .agent(&format!("agent {n}"), &["code"], Some(receiver.url(&path)))
            .await;
        receiver.set_secret(&path, &secret.unwrap());
    }
    let (poster, _) = replicas[0].agent("Poster", &[], None).await;
    let mut posted = BTreeSet::new();
    for n in 0..TASKS {
        posted.insert(replicas[n % 2].post_task(&poster, n).await);
    }
    let expected = AGENTS * TASKS;
    let got = receiver
        .wait_until(WAIT, |r| {
            r.iter()
                .filter(|x| x.answered == 200)
                .map(|x| &x.webhook_id)
                .collect::<BTreeSet<_>>()
                .len()
                >= expected
        })
        .await;
    let ids: BTreeSet<&str> = got.iter().map(|r| r.webhook_id.as_str()).collect();
    assert_eq!(ids.len(), expected, "one delivery per agent and task");
    assert_eq!(delivered_tasks(&got), posted);
    for n in 0..AGENTS {
        let path = format!("/agent{n}");
        let theirs: BTreeSet<&str> = got
            .iter()
            .filter(|r| r.path == path)
            .filter_map(|r| r.body["task"]["id"].as_str())
            .collect();
        assert_eq!(theirs.len(), TASKS, "{path} got every task");
    }
    assert!(got.iter().all(|r| r.agentmarket_ok && r.standard_ok));
    let twice = duplicates(&got);
    let sent = [
        replicas[0].attempts_sent().await,
        replicas[1].attempts_sent().await,
    ];
    println!(
        "two replicas: {TASKS} events, {expected} deliveries, {} requests received, \
         {twice} sent twice; attempts by replica {sent:?}",
        got.len()
    );
    assert_eq!(twice, 0, "no delivery sent twice in a run without crashes");
    assert_eq!(
        sent[0] + sent[1],
        expected as u64,
        "every attempt succeeded once"
    );
}
