//! Node signatures over a real socket: a self-custody node registers its own key and signs
//! every request; stale, future, tampered and replayed requests are refused.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::TestServer;
use ed25519_dalek::{Signer, SigningKey};
use http_adapter::auth::signed_message;
use marketplace_core::{IdentityId, ManualClock, Policy, Store};
use serde_json::{Value, json};

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// Signed headers: name and value.
type Headers = Vec<(&'static str, String)>;

/// A node's key and the signed headers for one request.
struct Node(SigningKey);

impl Node {
    fn new(seed: u8) -> Self {
        Self(SigningKey::from_bytes(&[seed; 32]))
    }

    fn identity(&self) -> IdentityId {
        IdentityId::from_public_key(self.0.verifying_key().as_bytes())
    }

    fn headers(
        &self,
        method: &str,
        path: &str,
        timestamp: i64,
        nonce: &str,
        body: &[u8],
    ) -> Headers {
        let ts = timestamp.to_string();
        let message = signed_message(method, path, &ts, nonce, body);
        let signature = self.0.sign(message.as_bytes());
        vec![
            ("Content-Type", "application/json".to_owned()),
            (
                "X-Knarr-PublicKey",
                hex::encode(self.0.verifying_key().as_bytes()),
            ),
            ("X-Knarr-Timestamp", ts),
            ("X-Knarr-Nonce", nonce.to_owned()),
            ("X-Knarr-Signature", hex::encode(signature.to_bytes())),
        ]
    }
}

async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    server.send(method, path, &headers, Some(body)).await
}

#[tokio::test]
async fn a_node_registers_its_own_key_and_signs_its_requests() {
    let server = TestServer::start(Policy::agora()).await;
    let node = Node::new(7);
    let body = json!({"alias": "my-node"}).to_string();
    let headers = node.headers(
        "POST",
        "/api/v1/auth/node",
        unix_now(),
        "n-1",
        body.as_bytes(),
    );
    let (status, answer) = send(
        &server,
        "POST",
        "/api/v1/auth/node",
        &headers,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["identity_hash"], node.identity().as_str());
    let profile = server.market.profile(&node.identity()).await.unwrap();
    assert_eq!(profile.alias, "my-node");

    // The same request again is a replay.
    let (status, answer) = send(
        &server,
        "POST",
        "/api/v1/auth/node",
        &headers,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    // A fresh nonce gets through to the engine, which knows the identity already.
    let headers = node.headers(
        "POST",
        "/api/v1/auth/node",
        unix_now(),
        "n-2",
        body.as_bytes(),
    );
    let (status, answer) = send(
        &server,
        "POST",
        "/api/v1/auth/node",
        &headers,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "identity_exists");

    // Signed requests authenticate everywhere; a path with a query is signed whole.
    let headers = node.headers("GET", "/api/v1/auth/keys?limit=5", unix_now(), "n-3", b"");
    let (status, keys) = send(&server, "GET", "/api/v1/auth/keys?limit=5", &headers, b"").await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys, json!([]), "a node holds no API keys");
}

#[tokio::test]
async fn stale_tampered_and_malformed_signatures_are_refused() {
    let server = TestServer::start(Policy::agora()).await;
    let node = Node::new(9);
    let body = json!({"alias": "n"}).to_string();
    let path = "/api/v1/auth/node";
    let now = unix_now();
    let mut cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        (
            "301 s old",
            node.headers("POST", path, now - 301, "a", body.as_bytes()),
            body.clone().into_bytes(),
        ),
        (
            "301 s ahead",
            node.headers("POST", path, now + 301, "b", body.as_bytes()),
            body.clone().into_bytes(),
        ),
        (
            "body changed",
            node.headers("POST", path, now, "c", body.as_bytes()),
            br#"{"alias": "m"}"#.to_vec(),
        ),
        (
            "other path signed",
            node.headers("POST", "/api/v1/auth/register", now, "d", body.as_bytes()),
            body.clone().into_bytes(),
        ),
        (
            "other method signed",
            node.headers("PUT", path, now, "e", body.as_bytes()),
            body.clone().into_bytes(),
        ),
        (
            "nonce too long",
            node.headers("POST", path, now, &"x".repeat(65), body.as_bytes()),
            body.clone().into_bytes(),
        ),
    ];
    cases.push((
        "the earliest timestamp there is",
        node.headers("POST", path, i64::MIN, "i", body.as_bytes()),
        body.clone().into_bytes(),
    ));
    let mut wrong_key = node.headers("POST", path, now, "f", body.as_bytes());
    wrong_key[1].1 = hex::encode(Node::new(10).0.verifying_key().as_bytes());
    cases.push(("someone else's key", wrong_key, body.clone().into_bytes()));
    let mut bad_hex = node.headers("POST", path, now, "g", body.as_bytes());
    bad_hex[4].1 = "zz".repeat(64);
    cases.push(("signature not hex", bad_hex, body.clone().into_bytes()));
    let mut missing = node.headers("POST", path, now, "h", body.as_bytes());
    missing.remove(3);
    cases.push(("no nonce", missing, body.clone().into_bytes()));
    for (why, headers, sent) in cases {
        let (status, answer) = send(&server, "POST", path, &headers, &sent).await;
        assert_eq!(status, 401, "{why}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthorized", "{why}");
    }
    // Unsigned, the node route refuses too; nothing was registered by any of it.
    let (status, _) = server
        .json("POST", path, None, Some(json!({"alias": "n"})))
        .await;
    assert_eq!(status, 401);
    assert!(
        server
            .market
            .store()
            .accounts(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_signed_request_is_accepted_to_the_edge_of_its_window_and_never_replayed() {
    let signed_at = 1_800_000_000;
    let clock = Arc::new(ManualClock::at_unix(signed_at));
    let server = TestServer::start_at(Policy::agora(), clock.clone()).await;
    let node = Node::new(11);
    let body = json!({"alias": "edge"}).to_string();
    let register = node.headers("POST", "/api/v1/auth/node", signed_at, "r", body.as_bytes());
    let (status, answer) = send(
        &server,
        "POST",
        "/api/v1/auth/node",
        &register,
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let path = "/api/v1/auth/keys";
    let at = |offset_micros: i64| {
        let start = chrono::DateTime::from_timestamp(signed_at, 0).unwrap();
        clock.set(start + chrono::Duration::microseconds(offset_micros));
    };
    let edge = node.headers("GET", path, signed_at, "edge", b"");

    // Exactly 300 s after its timestamp: accepted once, its replay refused.
    at(300_000_000);
    let (status, answer) = send(&server, "GET", path, &edge, b"").await;
    assert_eq!(status, 200, "at the window's edge: {answer}");
    let (status, answer) = send(&server, "GET", path, &edge, b"").await;
    assert_eq!(status, 401, "a replay at the edge: {answer}");
    // Past the edge by any fraction of a second: neither the replay nor a fresh nonce.
    for past in [1, 500_000, 999_999] {
        at(300_000_000 + past);
        let (status, answer) = send(&server, "GET", path, &edge, b"").await;
        assert_eq!(status, 401, "a replay {past} µs past the edge: {answer}");
        let fresh = node.headers("GET", path, signed_at, &format!("late-{past}"), b"");
        let (status, answer) = send(&server, "GET", path, &fresh, b"").await;
        assert_eq!(status, 401, "{past} µs past the edge: {answer}");
        assert_eq!(
            answer["error"]["message"],
            "the signature's timestamp is outside the 300 s window"
        );
    }
    // A timestamp 300 s ahead of the clock is at the other edge: accepted once.
    at(0);
    let ahead = node.headers("GET", path, signed_at + 300, "ahead", b"");
    let (status, answer) = send(&server, "GET", path, &ahead, b"").await;
    assert_eq!(status, 200, "300 s ahead: {answer}");
    at(600_000_000);
    let (status, _) = send(&server, "GET", path, &ahead, b"").await;
    assert_eq!(status, 401, "its replay at its own window's far edge");
}
