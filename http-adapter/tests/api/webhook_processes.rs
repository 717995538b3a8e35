//! Webhooks across real `marketplace-server` processes: a server killed (SIGKILL) with
//! undelivered events delivers them after its restart; two replicas on one PostgreSQL
//! database deliver every event, none lost, and count how many they sent twice.

#![allow(clippy::print_stdout)] // the figures of the runs

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::common::process::Process;
use crate::common::receiver::{Received, Receiver};
use serde_json::{Value, json};
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};

const WAIT: Duration = Duration::from_secs(60);

/// A server trusting the receiver's CA, retrying fast, dispatching every `interval_ms`.
fn start(database_url: &str, dir: &Path, ca_file: &Path, interval_ms: &str) -> Process {
    let ca = ca_file.to_str().unwrap();
    Process::start(
        database_url,
        dir,
        "127.0.0.1:0",
        &[
            "--outbound-ca-file",
            ca,
            "--outbound-allow-private",
            "--preset",
            "agentmarket",
            "--dispatch-interval-ms",
            interval_ms,
            "--webhook-backoff-ms",
            "200",
            "--webhook-timeout-secs",
            "1",
        ],
    )
}

/// Registers an AgentMarket agent: its key, and (with a webhook) the secret.
async fn agent(
    server: &Process,
    name: &str,
    caps: &[&str],
    webhook: Option<String>,
) -> (String, Option<String>) {
    let mut body = json!({ "name": name, "capabilities": caps });
    if let Some(url) = webhook {
        body["webhook_url"] = json!(url);
    }
    let (status, reply) = server
        .call("POST", "/api/agents/register", None, body)
        .await;
    assert_eq!(status, 201, "{reply}");
    let data = &reply["data"];
    (
        data["api_key"].as_str().unwrap().to_owned(),
        data["webhook_secret"].as_str().map(str::to_owned),
    )
}

async fn post_task(server: &Process, key: &str, n: usize) -> String {
    let body =
        json!({ "title": format!("task {n}"), "budget": 1, "required_capabilities": ["code"] });
    let (status, reply) = server.call("POST", "/api/tasks", Some(key), body).await;
    assert_eq!(status, 201, "{reply}");
    reply["data"]["id"].as_str().unwrap().to_owned()
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
    let mut first = start(&url, dir.path(), &ca_file, "50");
    let (worker, secret) = agent(&first, "Worker", &["code"], Some(receiver.url("/w"))).await;
    receiver.set_secret("/w", &secret.unwrap());
    let (poster, _) = agent(&first, "Poster", &[], None).await;

    receiver.fail_next(usize::MAX);
    const TASKS: usize = 20;
    let mut posted = BTreeSet::new();
    for n in 0..TASKS {
        posted.insert(post_task(&first, &poster, n).await);
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
    let mut idle = start(&url, dir.path(), &ca_file, "3600000");
    const LATE: usize = 5;
    for n in TASKS..TASKS + LATE {
        posted.insert(post_task(&idle, &poster, n).await);
    }
    let depth = idle.metric("marketplace_outbox_depth").await;
    assert!(
        depth >= LATE as u64,
        "the late events wait in the outbox: {depth}"
    );
    idle.kill();
    let attempts_before = receiver.received().len();

    receiver.fail_next(0);
    let second = start(&url, dir.path(), &ca_file, "50");
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
        start(&url, dir.path(), &ca_file, "50"),
        start(&url, dir.path(), &ca_file, "50"),
    ];
    const AGENTS: usize = 5;
    const TASKS: usize = 40;
    for n in 0..AGENTS {
        let path = format!("/agent{n}");
        let name = format!("agent {n}");
        let (_, secret) = agent(
            &replicas[n % 2],
            &name,
            &["code"],
            Some(receiver.url(&path)),
        )
        .await;
        receiver.set_secret(&path, &secret.unwrap());
    }
    let (poster, _) = agent(&replicas[0], "Poster", &[], None).await;
    let mut posted = BTreeSet::new();
    for n in 0..TASKS {
        posted.insert(post_task(&replicas[n % 2], &poster, n).await);
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
    // A replica counts an attempt once it has the answer: the receiver may see the last
    // requests a moment before their senders have counted them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let sent = loop {
        let sent = [
            replicas[0]
                .metric("marketplace_delivery_attempts_total")
                .await,
            replicas[1]
                .metric("marketplace_delivery_attempts_total")
                .await,
        ];
        if sent[0] + sent[1] >= expected as u64 || tokio::time::Instant::now() > deadline {
            break sent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
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
