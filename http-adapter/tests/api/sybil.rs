//! The operator's knobs against credit farming, on the real binary: a minimum account age
//! before base credit pays for anything, the base credit itself, a registration proof of
//! work, and the credit exposure in `/metrics`.

use sha2::{Digest, Sha256};

use crate::common::process::Process;
use serde_json::{Value, json};

fn start(dir: &std::path::Path, args: &[&str]) -> Process {
    let url = format!("sqlite://{}", dir.join("market.db").display());
    Process::start(&url, dir, "127.0.0.1:0", args)
}

/// Registers through Agora with an optional proof-of-work header: status and answer.
async fn register(server: &Process, stamp: Option<&str>) -> (u16, Value) {
    let body = json!({"alias": "farm"}).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(stamp) = stamp {
        headers.push(("X-Registration-Pow", stamp));
    }
    let (status, _, answer) = crate::common::request(
        server.address,
        "POST",
        "/api/v1/auth/register",
        &headers,
        Some(body.as_bytes()),
    )
    .await;
    (
        status,
        serde_json::from_slice(&answer).unwrap_or(Value::Null),
    )
}

/// A stamp `TIMESTAMP:NONCE` whose SHA-256 starts with `bits` zero bits.
fn stamp(timestamp: i64, bits: u32) -> String {
    (0u64..)
        .map(|nonce| format!("{timestamp}:{nonce}"))
        .find(|s| {
            let digest = Sha256::digest(s.as_bytes());
            let zeros: u32 = digest
                .iter()
                .scan(true, |going, b| {
                    let z = if *going { b.leading_zeros() } else { 0 };
                    *going &= *b == 0;
                    Some(z)
                })
                .sum();
            zeros >= bits
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn young_accounts_cannot_farm_credit_for_one_another() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--base-credit-min-age-secs", "3600"]);
    let mut refused = 0;
    for _ in 0..20 {
        let (status, registered) = register(&server, None).await;
        assert_eq!(status, 201, "{registered}");
        let key = registered["api_key"].as_str().unwrap();
        let (status, answer) = server
            .call(
                "POST",
                "/api/v1/tasks",
                Some(key),
                json!({"text": "farm", "bounty": 50}),
            )
            .await;
        assert_eq!(status, 402, "{answer}");
        assert_eq!(answer["error"]["code"], "insufficient_funds");
        refused += 1;
    }
    assert_eq!(refused, 20);

    // The base credit itself is a knob: none at all here.
    let other = tempfile::tempdir().unwrap();
    let server = start(other.path(), &["--base-credit", "0"]);
    let (_, registered) = register(&server, None).await;
    let key = registered["api_key"].as_str().unwrap();
    let (_, balance) = server
        .call("GET", "/api/v1/balance", Some(key), Value::Null)
        .await;
    assert_eq!(balance["available"], json!(0), "{balance}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_may_be_asked_for_a_proof_of_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--registration-pow-bits", "12"]);
    let now = chrono::Utc::now().timestamp();
    let (status, answer) = register(&server, None).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("12 zero bits")
    );

    let good = stamp(now, 12);
    let (status, answer) = register(&server, Some(&good)).await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = register(&server, Some(&good)).await;
    assert_eq!(status, 400, "a stamp is good once: {answer}");

    // Too few bits (a stamp found for 1 bit almost never has 12).
    let weak = (0u64..)
        .map(|n| format!("{now}:{n}"))
        .find(|s| {
            let d = Sha256::digest(s.as_bytes());
            d[0] & 0x80 == 0 && (d[0] != 0 || d[1] & 0xf0 != 0)
        })
        .unwrap();
    assert_eq!(register(&server, Some(&weak)).await.0, 400);
    // Stale, and not a stamp at all.
    assert_eq!(register(&server, Some(&stamp(now - 3600, 12))).await.0, 400);
    assert_eq!(register(&server, Some("yesterday")).await.0, 400);

    // AgentMarket's registration asks too.
    let (status, _, _) = crate::common::request(
        server.address,
        "POST",
        "/api/agents/register",
        &[("Content-Type", "application/json")],
        Some(br#"{"name": "farm"}"#),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_credit_exposure() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    assert_eq!(server.metric("marketplace_credit_exposure").await, 0);
    let (_, poster) = register(&server, None).await;
    let (_, worker) = register(&server, None).await;
    let (poster, worker) = (
        poster["api_key"].as_str().unwrap(),
        worker["api_key"].as_str().unwrap(),
    );
    // Agora: 50 of credit and no grant, so a bounty of 30 settles 30 below zero.
    let (_, task) = server
        .call(
            "POST",
            "/api/v1/tasks",
            Some(poster),
            json!({"text": "t", "bounty": 30, "auto_accept": true}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    for (verb, body) in [("claim", json!({})), ("deliver", json!({"text": "done"}))] {
        let (status, answer) = server
            .call(
                "POST",
                &format!("/api/v1/tasks/{id}/{verb}"),
                Some(worker),
                body,
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(server.metric("marketplace_credit_exposure").await, 30);
}
