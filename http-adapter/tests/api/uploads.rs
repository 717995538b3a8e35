//! Uploads on the real binary, bounded: streamed to disk (ten concurrent 50 MB uploads keep
//! the server under 100 MB resident), 413 just past 50 MB, hourly byte budgets per client IP
//! and per identity (429), a disk budget (507); every uploader holds its bytes, and uploads
//! no delivery names are collected after a grace period.

use std::sync::Arc;

use crate::common::process::Process;
use crate::common::request;
use serde_json::Value;

const MB: usize = 1024 * 1024;

fn start(dir: &std::path::Path, args: &[&str]) -> Process {
    let url = format!("sqlite://{}", dir.join("market.db").display());
    Process::start(&url, dir, "127.0.0.1:0", args)
}

async fn upload(
    server: &Process,
    key: Option<&str>,
    body: &[u8],
) -> (u16, Value, Vec<(String, String)>) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Content-Type", "application/octet-stream")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let (status, headers, body) =
        request(server.address, "POST", "/api/upload", &headers, Some(body)).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_50_mb_uploads_stream_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(start(dir.path(), &[]));
    let before = server.peak_rss_bytes();
    let uploads: Vec<_> = (0..10u8)
        .map(|n| {
            let server = server.clone();
            tokio::spawn(async move {
                let body = vec![n; 50 * MB];
                upload(&server, None, &body).await
            })
        })
        .collect();
    for upload in uploads {
        let (status, answer, _) = upload.await.unwrap();
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["size"], 50 * MB);
    }
    let peak = server.peak_rss_bytes();
    assert!(
        peak < 100 * MB as u64,
        "peak resident memory {} MB (it started at {} MB)",
        peak / MB as u64,
        before / MB as u64
    );
    let stored = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert_eq!(stored, 10);

    // Between 50 and 51 MB: too large, and nothing kept.
    let (status, answer, _) = upload(&server, None, &vec![7u8; 50 * MB + 1]).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "too_large");
    let stored = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert_eq!(stored, 10, "no partial file left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_budgets_and_the_disk_budget_bound_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            "--upload-ip-bytes-per-hour",
            "3000",
            "--upload-identity-bytes-per-hour",
            "1500",
            "--blob-disk-bytes-max",
            "4000",
        ],
    );
    let (status, registered) = server
        .call(
            "POST",
            "/api/v1/auth/register",
            None,
            serde_json::json!({"alias": "up"}),
        )
        .await;
    assert_eq!(status, 201, "{registered}");
    let key = registered["api_key"].as_str().unwrap().to_owned();

    // The identity's budget: 1,500 bytes an hour.
    assert_eq!(upload(&server, Some(&key), &[1; 1000]).await.0, 201);
    let (status, answer, headers) = upload(&server, Some(&key), &[2; 1000]).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "rate_limited");
    let retry: u64 = headers
        .iter()
        .find(|(n, _)| n == "retry-after")
        .and_then(|(_, v)| v.parse().ok())
        .expect("Retry-After");
    assert!(retry > 3000, "{retry}");
    // The IP's: 3,000 an hour, 2,000 used (the refused upload's bytes came in too).
    assert_eq!(upload(&server, None, &[3; 900]).await.0, 201);
    assert_eq!(upload(&server, None, &[4; 200]).await.0, 429);

    // The disk's: 4,000 bytes, 1,900 taken.
    let other = start(
        dir.path(),
        &[
            "--blob-disk-bytes-max",
            "4000",
            "--upload-ip-bytes-per-hour",
            "0",
        ],
    );
    assert_eq!(upload(&other, None, &[5; 2000]).await.0, 201);
    let (status, answer, _) = upload(&other, None, &[6; 200]).await;
    assert_eq!(status, 507, "{answer}");
    assert_eq!(answer["error"]["code"], "insufficient_storage");
}

/// Registers `alias` and returns its API key.
async fn register(server: &Process, alias: &str) -> String {
    let body = serde_json::json!({ "alias": alias });
    let (status, answer) = server
        .call("POST", "/api/v1/auth/register", None, body)
        .await;
    assert_eq!(status, 201, "{answer}");
    answer["api_key"].as_str().unwrap().to_owned()
}

/// `GET /api/v1/artifacts/{hash}` as `key`: the status.
async fn read_artifact(server: &Process, key: &str, path: &str) -> u16 {
    let headers = [("X-API-Key", key)];
    request(server.address, "GET", path, &headers, None).await.0
}

/// Every uploader of the same bytes may read them; uploads no delivery names are deleted
/// once the grace has passed (files and records), and a delivered one is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_uploader_holds_and_unnamed_uploads_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--blob-grace-secs", "2"]);
    let (alice, bob, carol) = (
        register(&server, "alice").await,
        register(&server, "bob").await,
        register(&server, "carol").await,
    );
    let (status, anonymous, _) = upload(&server, None, b"nobody names this").await;
    assert_eq!(status, 201, "{anonymous}");
    let (_, delivered, _) = upload(&server, Some(&bob), b"the report").await;
    let (status, again, _) = upload(&server, Some(&carol), b"the report").await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["hash"], delivered["hash"]);
    let (_, loose, _) = upload(&server, Some(&bob), b"a draft").await;
    let file = |answer: &Value| format!("/api/v1/artifacts/{}", answer["hash"].as_str().unwrap());
    for (key, status) in [(&bob, 200), (&carol, 200), (&alice, 404)] {
        assert_eq!(read_artifact(&server, key, &file(&delivered)).await, status);
    }

    let body = serde_json::json!({ "text": "write a report", "bounty": 1 });
    let (_, task) = server
        .call("POST", "/api/v1/tasks", Some(&alice), body)
        .await;
    let task = task["id"].as_str().unwrap().to_owned();
    let claim = format!("/api/v1/tasks/{task}/claim");
    let (status, _) = server
        .call("POST", &claim, Some(&bob), serde_json::json!({}))
        .await;
    assert_eq!(status, 200);
    let body =
        serde_json::json!({ "text": "done", "meta": { "artifact_hash": delivered["hash"] } });
    let deliver = format!("/api/v1/tasks/{task}/deliver");
    let (status, answer) = server.call("POST", &deliver, Some(&bob), body).await;
    assert_eq!(status, 200, "{answer}");

    let blobs = dir.path().join("blobs");
    let stored = || std::fs::read_dir(&blobs).unwrap().count();
    assert_eq!(stored(), 3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while stored() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} files left",
            stored()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(blobs.join(delivered["hash"].as_str().unwrap()).exists());
    assert_eq!(server.metric("marketplace_blobs_collected_total").await, 2);
    assert_eq!(read_artifact(&server, &bob, &file(&loose)).await, 404);
    assert_eq!(read_artifact(&server, &carol, &file(&delivered)).await, 200);
    let for_poster = format!("{}?task_id={task}", file(&delivered));
    assert_eq!(read_artifact(&server, &alice, &for_poster).await, 200);
    // The collected anonymous upload can no longer be named.
    let body = serde_json::json!({ "text": "second", "bounty": 1 });
    let (_, task) = server
        .call("POST", "/api/v1/tasks", Some(&alice), body)
        .await;
    let task = task["id"].as_str().unwrap();
    let (status, _) = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/claim"),
            Some(&carol),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let body = serde_json::json!({ "text": "x", "meta": { "artifact_hash": anonymous["hash"] } });
    let (status, answer) = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/deliver"),
            Some(&carol),
            body,
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "artifact_not_found");
}
