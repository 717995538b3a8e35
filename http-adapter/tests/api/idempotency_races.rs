//! Duplicates under one `Idempotency-Key` sent at once — twenty behind a barrier, spread
//! over one server or two replicas of one PostgreSQL database — take effect once: a post
//! escrows once and every duplicate gets its task, a claim answers every duplicate with
//! the claim, another body under the key is refused, and an execution calls its agent once
//! and answers every duplicate with its real ending. `marketplace-server audit` is clean
//! after the replicas' races.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::process::{Process, audit};
use crate::common::receiver::{Mode, Receiver};
use crate::common::{TestServer, reaching, request};
use http_adapter::dispatch::ReachConfig;
use marketplace_core::Policy;
use serde_json::{Value, json};
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};
use tokio::sync::Barrier;

/// How many copies of one request race.
const RACERS: usize = 20;

/// Sends one request per body at once (all wait at a barrier, then send), spread round
/// robin over `servers`: each answer's status and JSON body, in the bodies' order.
async fn race(
    servers: &[SocketAddr],
    path: &str,
    headers: &[(&str, &str)],
    bodies: Vec<String>,
) -> Vec<(u16, Value)> {
    let barrier = Arc::new(Barrier::new(bodies.len()));
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let racers: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let (barrier, headers, path) = (barrier.clone(), headers.clone(), path.to_owned());
            let server = servers[i % servers.len()];
            tokio::spawn(async move {
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                barrier.wait().await;
                let (status, _, body) =
                    request(server, "POST", &path, &headers, Some(body.as_bytes())).await;
                (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for racer in racers {
        answers.push(racer.await.unwrap());
    }
    answers
}

/// A JSON request to `server` with an API key: status and body.
async fn call(
    server: SocketAddr,
    method: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, Value) {
    let text = body.to_string();
    let headers = [("Content-Type", "application/json"), ("X-API-Key", key)];
    let (status, _, body) = request(server, method, path, &headers, Some(text.as_bytes())).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Registers an AgentMarket agent: its API key and the registration's data.
async fn register(server: SocketAddr, body: Value) -> (String, Value) {
    let text = body.to_string();
    let headers = [("Content-Type", "application/json")];
    let (status, _, reply) = request(
        server,
        "POST",
        "/api/agents/register",
        &headers,
        Some(text.as_bytes()),
    )
    .await;
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(status, 201, "{reply}");
    let data = &reply["data"];
    (data["api_key"].as_str().unwrap().to_owned(), data.clone())
}

/// The headers of a JSON request with an API key and an `Idempotency-Key`.
fn keyed<'a>(key: &'a str, idempotency: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("X-API-Key", key),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", idempotency),
    ]
}

/// What `key` can spend, as Agora's balance says.
async fn available(server: SocketAddr, key: &str) -> Value {
    let (status, balance) = call(server, "GET", "/api/v1/balance", key, Value::Null).await;
    assert_eq!(status, 200, "{balance}");
    balance["available"].clone()
}

/// Posts and claims raced under one key each, on `servers` (one, or replicas of one
/// database). Needs the agentmarket preset's signup grant of 100.
async fn posts_and_claims_run_once(servers: &[SocketAddr]) {
    let first = servers[0];
    let (poster, _) = register(first, json!({ "name": "Poster" })).await;
    let (worker, _) = register(first, json!({ "name": "Worker" })).await;

    // The same post, twenty times at once.
    let headers = keyed(&poster, "post-1");
    let body = json!({ "text": "Only once", "bounty": 3 }).to_string();
    let answers = race(servers, "/api/v1/tasks", &headers, vec![body; RACERS]).await;
    let task = answers[0].1["id"].clone();
    for (status, answer) in &answers {
        assert_eq!(*status, 201, "{answer}");
        assert_eq!(answer["id"], task, "every duplicate gets the one task");
    }
    assert_eq!(available(first, &poster).await, json!(97), "escrowed once");

    // Twenty bodies under one key: one runs, the rest are refused.
    let headers = keyed(&poster, "mixed-1");
    let bodies = (1..=RACERS)
        .map(|n| json!({ "text": format!("body {n}"), "bounty": 1 }).to_string())
        .collect();
    let answers = race(servers, "/api/v1/tasks", &headers, bodies).await;
    let ran = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(ran, 1, "one body runs: {answers:?}");
    for (status, answer) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 422, "{answer}");
        assert_eq!(answer["error"]["code"], "idempotency_conflict");
    }
    assert_eq!(available(first, &poster).await, json!(96));

    // The same claim, twenty times at once: every answer is the claim.
    let headers = keyed(&worker, "claim-1");
    let path = format!("/api/v1/tasks/{}/claim", task.as_str().unwrap());
    let answers = race(servers, &path, &headers, vec!["{}".to_owned(); RACERS]).await;
    let (status, claimed) = &answers[0];
    assert_eq!(*status, 200, "{claimed}");
    for answer in &answers {
        assert_eq!(answer, &answers[0], "every duplicate replays the claim");
    }
    let (_, listed) = call(
        first,
        "GET",
        "/api/v1/tasks?limit=100",
        &poster,
        Value::Null,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}

/// Executions raced under one key each: the agent (at `receiver`'s `/exec`) is called once
/// per key, and every duplicate answers the execution's real ending — paid, or failed and
/// refunded.
async fn executions_run_once(servers: &[SocketAddr], receiver: &Receiver) {
    let first = servers[0];
    let (hirer, _) = register(first, json!({ "name": "Hirer" })).await;
    let agent = json!({
        "name": "Slowpoke", "price_per_task": 10, "endpoint_url": receiver.url("/exec")
    });
    let (agent_key, agent) = register(first, agent).await;
    receiver.set_secret("/exec", agent["webhook_secret"].as_str().unwrap());
    let agent_id = &agent["id"];
    let calls = || {
        receiver
            .received()
            .iter()
            .filter(|r| r.path == "/exec")
            .count()
    };
    let body = json!({ "agent_id": agent_id, "task_description": "Be slow", "budget": 15 });
    let bodies = vec![body.to_string(); RACERS];

    // The agent takes a while (the duplicates arrive while it runs), then answers.
    receiver.respond("/exec", Mode::Slow(Duration::from_millis(300)));
    let headers = keyed(&hirer, "exec-1");
    let answers = race(servers, "/api/execute", &headers, bodies.clone()).await;
    let (status, paid) = &answers[0];
    assert_eq!(*status, 200, "{paid}");
    assert_eq!(paid["data"]["result"], "too late");
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(
            answer["data"], paid["data"],
            "every duplicate answers the one result"
        );
    }
    assert_eq!(calls(), 1, "one call to the agent for one key");
    assert_eq!(available(first, &hirer).await, json!(85), "paid once");
    assert_eq!(available(first, &agent_key).await, json!(113.5));

    // The agent fails: every duplicate hears the failure, and the budget is back.
    receiver.respond("/exec", Mode::Status(500));
    let headers = keyed(&hirer, "exec-2");
    let answers = race(servers, "/api/execute", &headers, bodies).await;
    let (status, failed) = &answers[0];
    assert_eq!(*status, 502, "{failed}");
    assert_eq!(failed["code"], "agent_failed");
    for answer in &answers {
        assert_eq!(
            answer, &answers[0],
            "every duplicate answers the one failure"
        );
    }
    assert_eq!(calls(), 2, "one more call for the second key");
    assert_eq!(
        available(first, &hirer).await,
        json!(85),
        "refunded in full"
    );

    // Another body under a used key is refused.
    let other = json!({ "agent_id": agent_id, "task_description": "Else", "budget": 15 });
    let refused = race(servers, "/api/execute", &headers, vec![other.to_string()]).await;
    assert_eq!(refused[0].0, 422, "{:?}", refused[0].1);
    assert_eq!(refused[0].1["code"], "idempotency_conflict");
    assert_eq!(calls(), 2, "a refused body calls nobody");
}

fn reach() -> ReachConfig {
    ReachConfig {
        execute_timeout: Duration::from_secs(5),
        interval: Duration::from_millis(50),
        ..ReachConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_run_once_on_sqlite() {
    let receiver = Receiver::start().await;
    let server =
        TestServer::start_reaching(Policy::agentmarket(), &receiver.ca_pem, true, reach()).await;
    posts_and_claims_run_once(&[server.address]).await;
    executions_run_once(&[server.address], &receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_run_once_on_postgres() {
    let receiver = Receiver::start().await;
    let configure = reaching(&receiver.ca_pem, true, reach());
    let Some(server) = TestServer::start_postgres_with(Policy::agentmarket(), configure).await
    else {
        return;
    };
    posts_and_claims_run_once(&[server.address]).await;
    executions_run_once(&[server.address], &receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_run_once_across_two_replicas() {
    if !postgres_ready() {
        return;
    }
    let receiver = Receiver::start().await;
    let (_database, url) = ScratchDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &receiver.ca_pem).unwrap();
    let args = [
        "--preset",
        "agentmarket",
        "--outbound-allow-private",
        "--outbound-ca-file",
        ca_file.to_str().unwrap(),
        "--execute-timeout-secs",
        "5",
    ];
    let replicas = [
        Process::start(&url, dir.path(), "127.0.0.1:0", &args),
        Process::start(&url, dir.path(), "127.0.0.1:0", &args),
    ];
    let servers: Vec<SocketAddr> = replicas.iter().map(|p| p.address).collect();
    posts_and_claims_run_once(&servers).await;
    executions_run_once(&servers, &receiver).await;
    drop(replicas);
    let (clean, report) = audit(&url);
    assert!(clean, "the audit after the races:\n{report}");
}
