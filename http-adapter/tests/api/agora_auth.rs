//! Agent registration and API keys through the Agora dialect, over a real socket: the
//! quick start's first step, keys that work until revoked, and bad input that changes
//! nothing.

use std::time::{Duration, Instant};

use crate::common::TestServer;
use crate::common::process::Process;
use marketplace_core::store::Credentials;
use marketplace_core::{IdentityId, Policy, Store};
use serde_json::{Value, json};
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[tokio::test]
async fn register_returns_a_working_key_and_a_custodial_identity() {
    let server = TestServer::start(Policy::agora()).await;
    // As the seed's quick start writes it.
    let (status, body) = server
        .json(
            "POST",
            "/api/v1/auth/register",
            None,
            Some(json!({"alias": "my-agent"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let key = body["api_key"].as_str().unwrap().to_owned();
    let identity = body["identity_hash"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ak_") && is_hex(&key[3..], 64), "{key}");
    assert!(is_hex(&identity, 64), "{identity}");

    let id = IdentityId::parse(&identity).unwrap();
    let profile = server.market.profile(&id).await.unwrap();
    assert_eq!(profile.alias, "my-agent");
    let custodial = server
        .market
        .store()
        .custodial_key(&id)
        .await
        .unwrap()
        .expect("custodial keypair kept");
    let public = hex::decode(&custodial.public_key).unwrap();
    assert_eq!(
        IdentityId::from_public_key(&public),
        id,
        "identity = sha256(public key)"
    );
    assert!(!custodial.sealed_secret.is_empty());
    let stored = server.market.store().api_keys(&id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].hash, key, "only the hash is kept");

    let (status, keys) = server
        .json("GET", "/api/v1/auth/keys", Some(&key), None)
        .await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["prefix"], &key[..11]);
    assert!(keys[0]["revoked_at"].is_null());

    // Two agents are two identities.
    let (_, other) = server
        .json(
            "POST",
            "/api/v1/auth/register",
            None,
            Some(json!({"alias": "my-agent"})),
        )
        .await;
    assert_ne!(other["identity_hash"], body["identity_hash"]);
}

#[tokio::test]
async fn keys_work_until_revoked_and_only_for_their_owner() {
    let server = TestServer::start(Policy::agora()).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let (first, bob_key) = (alice.as_str(), bob.as_str());

    let (status, created) = server
        .json("POST", "/api/v1/auth/keys", Some(first), None)
        .await;
    assert_eq!(status, 201, "{created}");
    let second = created["api_key"].as_str().unwrap();
    assert_eq!(created["prefix"], &second[..11]);
    let (status, keys) = server
        .json("GET", "/api/v1/auth/keys", Some(second), None)
        .await;
    assert_eq!((status, keys.as_array().unwrap().len()), (200, 2));

    // Bob cannot revoke Alice's key.
    let path = format!("/api/v1/auth/keys/{}", &first[..11]);
    let (status, body) = server.json("DELETE", &path, Some(bob_key), None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "key_not_found");
    assert_eq!(
        server
            .json("GET", "/api/v1/auth/keys", Some(first), None)
            .await
            .0,
        200
    );

    let (status, body) = server.json("DELETE", &path, Some(second), None).await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(1)), "{body}");
    let (status, body) = server
        .json("GET", "/api/v1/auth/keys", Some(first), None)
        .await;
    assert_eq!(status, 401, "a revoked key proves nothing: {body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, keys) = server
        .json("GET", "/api/v1/auth/keys", Some(second), None)
        .await;
    assert_eq!(status, 200);
    assert!(keys[0]["revoked_at"].is_string(), "{keys}");
    let (status, _) = server.json("DELETE", &path, Some(second), None).await;
    assert_eq!(status, 404, "revoked once");
}

#[tokio::test]
async fn unknown_paths_answer_in_the_error_format() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, body) = server
        .json("GET", "/api/v1/no-such-thing", None, None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn missing_or_forged_credentials_are_401() {
    let server = TestServer::start(Policy::agora()).await;
    let forged = format!("ak_{}", "0".repeat(64));
    for auth in [
        None,
        Some("Basic dXNlcjpwYXNz".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer ak_short".to_owned()),
        Some(format!("Bearer {forged}")),
    ] {
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let (status, body) = server
            .send("GET", "/api/v1/auth/keys", &headers, None)
            .await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized");
        let (status, _) = server
            .send("POST", "/api/v1/auth/keys", &headers, None)
            .await;
        assert_eq!(status, 401, "{auth:?}");
    }
}

#[tokio::test]
async fn bad_registrations_are_refused_and_create_nothing() {
    let server = TestServer::start(Policy::agora()).await;
    let json_header = [("Content-Type", "application/json")];
    let long_alias = json!({ "alias": "x".repeat(65) }).to_string();
    let huge = json!({ "alias": "x".repeat(2 * 1024 * 1024) }).to_string();
    let cases: [(&[u8], u16, &str); 6] = [
        (b"{\"alias\": ", 400, "invalid_input"),
        (b"{\"alias\": 42}", 400, "invalid_input"),
        (b"{}", 400, "invalid_input"),
        (b"{\"alias\": \"\"}", 400, "invalid_input"),
        (long_alias.as_bytes(), 400, "invalid_input"),
        (huge.as_bytes(), 413, "too_large"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = server
            .send("POST", "/api/v1/auth/register", &json_header, Some(body))
            .await;
        assert_eq!(got, status, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    let accounts = server.market.store().accounts(None, 10).await.unwrap();
    assert!(accounts.is_empty(), "nothing was created: {accounts:?}");
    // A body is read as JSON whatever type it declares: `curl -d` declares a form.
    let (status, _) = server
        .send(
            "POST",
            "/api/v1/auth/register",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(b"{\"alias\": \"a\"}"),
        )
        .await;
    assert_eq!(status, 201);
    let accounts = server.market.store().accounts(None, 10).await.unwrap();
    assert_eq!(accounts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_key_of_an_agent_cannot_be_revoked() {
    the_last_key_cannot_be_revoked_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_key_of_an_agent_cannot_be_revoked_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        the_last_key_cannot_be_revoked_on(server).await;
    }
}

async fn the_last_key_cannot_be_revoked_on<S: marketplace_core::store::Backend + Clone>(
    server: TestServer<S>,
) {
    const KEYS: usize = 21;
    let first = server.register("locksmith").await;
    let path = |key: &str| format!("/api/v1/auth/keys/{}", &key[..11]);
    let (status, answer) = server
        .json("DELETE", &path(&first), Some(&first), None)
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "last_credential");
    let (status, _) = server
        .json("GET", "/api/v1/balance", Some(&first), None)
        .await;
    assert_eq!(status, 200, "still in");

    // Twenty-one keys, each revoked at once by a request signed with the next one.
    let mut keys = vec![first];
    while keys.len() < KEYS {
        let (status, created) = server
            .json("POST", "/api/v1/auth/keys", Some(&keys[0]), None)
            .await;
        assert_eq!(status, 201, "{created}");
        keys.push(created["api_key"].as_str().unwrap().to_owned());
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(KEYS));
    let racers: Vec<_> = (0..KEYS)
        .map(|i| {
            let (barrier, address) = (barrier.clone(), server.address);
            let auth = format!("Bearer {}", keys[(i + 1) % KEYS]);
            let target = path(&keys[i]);
            tokio::spawn(async move {
                barrier.wait().await;
                crate::common::request(
                    address,
                    "DELETE",
                    &target,
                    &[("Authorization", &auth)],
                    None,
                )
                .await
                .0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| [200, 401, 409].contains(s)),
        "{statuses:?}"
    );
    let live: Vec<&String> = {
        let mut live = Vec::new();
        for key in &keys {
            let (status, _) = server.json("GET", "/api/v1/balance", Some(key), None).await;
            if status == 200 {
                live.push(key);
            }
        }
        live
    };
    // A request whose own key went first is refused (401); each refused request leaves
    // its target live, and the last key's revocation is refused (409): never none left.
    let refused = statuses.iter().filter(|s| **s != 200).count();
    assert!(!live.is_empty(), "a way in is left: {statuses:?}");
    assert_eq!(live.len(), refused, "{statuses:?}");
}

/// A key revoked through one replica is refused by it at once; another replica of the same
/// database that proved the key before keeps trusting that proof for no longer than its
/// `--api-key-cache-ms`, and one started with `0` refuses the key at once too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_by_every_replica_within_the_cache_window() {
    if !postgres_ready() {
        return;
    }
    const WINDOW: Duration = Duration::from_millis(3_000);
    let (_database, url) = ScratchDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let cached = ["--api-key-cache-ms", "3000"];
    let revoking = Process::start(&url, dir.path(), "127.0.0.1:0", &cached);
    let other = Process::start(&url, dir.path(), "127.0.0.1:0", &cached);
    let uncached = Process::start(
        &url,
        dir.path(),
        "127.0.0.1:0",
        &["--api-key-cache-ms", "0"],
    );
    let first = revoking.register("alice").await;
    let (status, created) = revoking
        .call("POST", "/api/v1/auth/keys", Some(&first), json!({}))
        .await;
    assert_eq!(status, 201, "{created}");
    let second = created["api_key"].as_str().unwrap().to_owned();
    let keys = |server: &Process, key: &str| {
        let (server, key) = (server.address, key.to_owned());
        async move {
            let headers = [("X-API-Key", key.as_str())];
            let (status, _, _) =
                crate::common::request(server, "GET", "/api/v1/auth/keys", &headers, None).await;
            status
        }
    };
    // The other replica proves the key (and keeps that proof) between these two instants.
    let asked = Instant::now();
    for server in [&revoking, &other, &uncached] {
        assert_eq!(
            keys(server, &first).await,
            200,
            "the key works everywhere first"
        );
    }
    let proven = Instant::now();

    let path = format!("/api/v1/auth/keys/{}", &first[..11]);
    let (status, body) = revoking
        .call("DELETE", &path, Some(&second), Value::Null)
        .await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(1)), "{body}");
    assert_eq!(
        keys(&revoking, &first).await,
        401,
        "refused at once where revoked"
    );
    assert_eq!(
        keys(&uncached, &first).await,
        401,
        "refused at once without a cache"
    );
    let status = keys(&other, &first).await;
    if asked.elapsed() < WINDOW {
        assert_eq!(
            status, 200,
            "within the window the other replica's proof holds"
        );
    }
    tokio::time::sleep((proven + WINDOW).saturating_duration_since(Instant::now())).await;
    assert_eq!(
        keys(&other, &first).await,
        401,
        "refused once the window is over"
    );
    assert_eq!(
        keys(&other, &second).await,
        200,
        "the key that was not revoked works"
    );
}
