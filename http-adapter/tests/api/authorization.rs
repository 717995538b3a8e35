//! The authorization matrix: every task endpoint × {anonymous, unrelated agent, poster,
//! claimant, queued agent} → the expected status, each cell on a fresh task so no cell
//! depends on another; plus the private result and its artifact, which only the poster and
//! the deliverer may read.

use crate::common::TestServer;
use http_adapter::rate_limits::RateLimits;
use marketplace_core::Policy;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Unrelated,
    Poster,
    Claimant,
    Queued,
}

const ROLES: [Role; 5] = [
    Role::Anonymous,
    Role::Unrelated,
    Role::Poster,
    Role::Claimant,
    Role::Queued,
];

/// A private task, claimed, with an agent in its queue (delivered too, when asked).
struct Scene {
    id: String,
    keys: [Option<String>; 5],
}

impl Scene {
    async fn new(server: &TestServer, delivered: bool) -> Self {
        let (poster, _) = server.agent("poster").await;
        let (claimant, _) = server.agent("claimant").await;
        let (queued, _) = server.agent("queued").await;
        let (unrelated, _) = server.agent("unrelated").await;
        let (status, task) = server
            .json(
                "POST",
                "/api/v1/tasks",
                Some(&poster),
                Some(json!({"text": "secret work", "bounty": 5, "delivery": "private", "require_review": true})),
            )
            .await;
        assert_eq!(status, 201, "{task}");
        let id = task["id"].as_str().unwrap().to_owned();
        let steps = [
            (&claimant, "claim", json!({})),
            (&queued, "queue", json!({})),
            (&claimant, "deliver", json!({"text": "the private result"})),
        ];
        for (key, verb, body) in steps.into_iter().take(if delivered { 3 } else { 2 }) {
            let path = format!("/api/v1/tasks/{id}/{verb}");
            let (status, reply) = server.json("POST", &path, Some(key), Some(body)).await;
            assert_eq!(status, 200, "{verb}: {reply}");
        }
        Self {
            id,
            keys: [
                None,
                Some(unrelated),
                Some(poster),
                Some(claimant),
                Some(queued),
            ],
        }
    }

    fn key(&self, role: Role) -> Option<&str> {
        self.keys[ROLES.iter().position(|r| *r == role).unwrap()].as_deref()
    }
}

type Row = (&'static str, &'static str, Value, [u16; 5]);

async fn check(server: &TestServer, delivered: bool, rows: Vec<Row>) {
    let mut failures = Vec::new();
    for (method, verb, body, expected) in rows {
        for (role, want) in ROLES.iter().zip(expected) {
            let scene = Scene::new(server, delivered).await;
            let path = if verb.is_empty() {
                format!("/api/v1/tasks/{}", scene.id)
            } else {
                format!("/api/v1/tasks/{}/{verb}", scene.id)
            };
            let body = (method != "GET").then(|| body.clone());
            let (got, reply) = server.json(method, &path, scene.key(*role), body).await;
            if got != want {
                failures.push(format!(
                    "{method} {verb} as {role:?}: {got} (want {want}) {reply}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test]
async fn every_task_endpoint_for_every_role_on_a_claimed_task() {
    let server =
        TestServer::start_with(Policy::agora(), |c| c.with_rate_limits(RateLimits::off())).await;
    //                         anonymous, unrelated, poster, claimant, queued
    let rows: Vec<Row> = vec![
        ("GET", "", Value::Null, [200, 200, 200, 200, 200]),
        ("GET", "status", Value::Null, [200, 200, 200, 200, 200]),
        ("GET", "result", Value::Null, [401, 403, 409, 403, 403]),
        ("POST", "claim", json!({}), [401, 409, 403, 409, 409]),
        (
            "POST",
            "extend",
            json!({"secs": 600}),
            [401, 403, 403, 200, 403],
        ),
        (
            "POST",
            "deliver",
            json!({"text": "r"}),
            [401, 403, 403, 200, 403],
        ),
        ("POST", "accept", json!({}), [401, 403, 409, 403, 403]),
        (
            "POST",
            "reject",
            json!({"category": "quality"}),
            [401, 403, 409, 403, 403],
        ),
        ("POST", "cancel", json!({}), [401, 403, 200, 403, 403]),
        ("POST", "queue", json!({}), [401, 200, 403, 409, 409]),
        ("DELETE", "queue", json!({}), [401, 409, 409, 409, 200]),
        (
            "POST",
            "message",
            json!({"text": "hi"}),
            [401, 403, 201, 201, 403],
        ),
        (
            "POST",
            "bid",
            json!({"offered_price": 1, "turnaround_s": 60}),
            [401, 409, 403, 409, 409],
        ),
    ];
    check(&server, false, rows).await;
}

#[tokio::test]
async fn every_review_endpoint_for_every_role_on_a_delivered_task() {
    let server =
        TestServer::start_with(Policy::agora(), |c| c.with_rate_limits(RateLimits::off())).await;
    // A delivery is refused by state first: the status is public anyway.
    let rows: Vec<Row> = vec![
        ("GET", "result", Value::Null, [401, 403, 200, 200, 403]),
        ("POST", "accept", json!({}), [401, 403, 200, 403, 403]),
        (
            "POST",
            "reject",
            json!({"category": "format"}),
            [401, 403, 200, 403, 403],
        ),
        ("POST", "cancel", json!({}), [401, 403, 409, 403, 403]),
        (
            "POST",
            "deliver",
            json!({"text": "again"}),
            [401, 409, 409, 409, 409],
        ),
    ];
    check(&server, true, rows).await;
}

#[tokio::test]
async fn a_private_result_and_its_artifact_never_leak() {
    let server =
        TestServer::start_with(Policy::agora(), |c| c.with_rate_limits(RateLimits::off())).await;
    let scene = Scene::new(&server, false).await;
    let claimant = scene.key(Role::Claimant).unwrap();
    let auth = format!("Bearer {claimant}");
    let (status, uploaded) = server
        .send(
            "POST",
            "/api/upload",
            &[("Authorization", &auth), ("Content-Type", "text/plain")],
            Some(b"classified"),
        )
        .await;
    assert_eq!(status, 201);
    let hash = uploaded["hash"].as_str().unwrap();
    let (status, _) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{}/deliver", scene.id),
            Some(claimant),
            Some(json!({"text": "the private result", "meta": {"artifact_hash": hash, "output": {"secret": 42}}})),
        )
        .await;
    assert_eq!(status, 200);
    for role in ROLES {
        let key = scene.key(role);
        let party = matches!(role, Role::Poster | Role::Claimant);
        let (_, task) = server
            .json("GET", &format!("/api/v1/tasks/{}", scene.id), key, None)
            .await;
        let shown = task["result"].to_string();
        assert_eq!(
            shown.contains("private result") || shown.contains("secret"),
            party,
            "{role:?}: {task}"
        );
        let (_, listed) = server
            .json("GET", "/api/v1/tasks?status=delivered", key, None)
            .await;
        assert_eq!(
            listed.to_string().contains("private result"),
            party,
            "{role:?} listing"
        );
        let (_, feed) = server
            .json("GET", "/api/v1/feed?type=task", key, None)
            .await;
        assert!(
            !feed.to_string().contains("private result"),
            "{role:?} feed"
        );
        let (_, found) = server
            .json("GET", "/api/v1/search?q=secret", key, None)
            .await;
        assert!(
            !found.to_string().contains("private result"),
            "{role:?} search"
        );
        let path = format!("/api/v1/artifacts/{hash}?task_id={}", scene.id);
        let headers: Vec<(&str, String)> = key
            .map(|k| ("Authorization", format!("Bearer {k}")))
            .into_iter()
            .collect();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, _, body) = server.send_raw("GET", &path, &headers, None).await;
        let expected = match role {
            Role::Anonymous => 401,
            Role::Poster | Role::Claimant => 200,
            _ => 404,
        };
        assert_eq!(status, expected, "{role:?} artifact");
        assert_eq!(body == b"classified", party, "{role:?} artifact bytes");
    }
}
