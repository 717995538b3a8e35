//! Artifacts over a real socket: the seed's upload-then-deliver and multipart flows, who
//! may read a file afterwards, and the limits.

use crate::common::TestServer;
use marketplace_core::Policy;
use marketplace_core::store::Backend;
use serde_json::{Value, json};

async fn claimed_task<S: Backend + Clone>(
    server: &TestServer<S>,
    poster: &str,
    worker: &str,
    body: Value,
) -> String {
    let (status, task) = server
        .json("POST", "/api/v1/tasks", Some(poster), Some(body))
        .await;
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tasks/{id}/claim");
    assert_eq!(server.json("POST", &path, Some(worker), None).await.0, 200);
    id
}

async fn artifact<S: Backend + Clone>(
    server: &TestServer<S>,
    key: Option<&str>,
    path: &str,
) -> (u16, String, Vec<u8>) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (status, headers, body) = server.send_raw("GET", path, &headers, None).await;
    let content_type = headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    (status, content_type, body)
}

#[tokio::test]
async fn upload_then_deliver_by_reference_and_private_files_stay_private() {
    upload_then_deliver_by_reference_and_private_files_stay_private_on(
        TestServer::start(Policy::agora()).await,
    )
    .await;
}

#[tokio::test]
async fn upload_then_deliver_by_reference_and_private_files_stay_private_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        upload_then_deliver_by_reference_and_private_files_stay_private_on(server).await;
    }
}

async fn upload_then_deliver_by_reference_and_private_files_stay_private_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let (rival, _) = server.agent("rival").await;
    let id = claimed_task(&server, &poster, &worker, json!({"text": "Write the report", "bounty": 5, "delivery": "private", "require_review": true})).await;

    // As the seed writes it: a raw body and its type, no credentials.
    let report = b"%PDF-1.7 the quarterly report".to_vec();
    let (status, uploaded) = server
        .send(
            "POST",
            "/api/upload",
            &[("Content-Type", "application/pdf")],
            Some(&report),
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let hash = uploaded["hash"].as_str().unwrap().to_owned();
    assert!(hash.ends_with(".pdf") && hash.len() == 64 + 4, "{hash}");
    assert_eq!(uploaded["size"], json!(report.len()));
    let (_, again) = server
        .send(
            "POST",
            "/api/upload",
            &[("Content-Type", "application/pdf")],
            Some(&report),
        )
        .await;
    assert_eq!(
        again["hash"],
        hash.as_str(),
        "content-addressed: stored once"
    );

    // As the seed writes it: `curl -d` without a JSON content type (curl declares a form).
    let auth = format!("Bearer {worker}");
    let body = json!({"text": "Report complete", "meta": {"artifact_hash": hash}}).to_string();
    let (status, delivered) = server
        .send(
            "POST",
            &format!("/api/v1/tasks/{id}/deliver"),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(body.as_bytes()),
        )
        .await;
    assert_eq!(status, 200, "{delivered}");

    let with_task = format!("/api/v1/artifacts/{hash}?task_id={id}");
    let (status, content_type, body) = artifact(&server, Some(&poster), &with_task).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/pdf");
    assert_eq!(body, report);
    let (status, _, body) =
        artifact(&server, Some(&worker), &format!("/api/v1/artifacts/{hash}")).await;
    assert_eq!(
        (status, body),
        (200, report.clone()),
        "the deliverer recorded it"
    );
    let (status, _, body) = artifact(&server, Some(&rival), &with_task).await;
    assert_eq!(
        status,
        404,
        "a private delivery's file: {}",
        String::from_utf8_lossy(&body)
    );
    let (status, _, _) =
        artifact(&server, Some(&poster), &format!("/api/v1/artifacts/{hash}")).await;
    assert_eq!(status, 404, "without the task, only the uploader");
    let (status, _, _) = artifact(&server, None, &with_task).await;
    assert_eq!(status, 401);
    let (status, _, _) = artifact(
        &server,
        Some(&poster),
        "/api/v1/artifacts/..%2F..%2Fetc%2Fpasswd",
    )
    .await;
    assert_eq!(status, 404);

    let other = claimed_task(
        &server,
        &poster,
        &worker,
        json!({"text": "Another", "bounty": 1}),
    )
    .await;
    let (status, refused) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{other}/deliver"),
            Some(&worker),
            Some(
                json!({"text": "x", "meta": {"artifact_hash": format!("{}.pdf", "ab".repeat(32))}}),
            ),
        )
        .await;
    assert_eq!(status, 404, "{refused}");
    let (_, task) = server
        .json("GET", &format!("/api/v1/tasks/{other}"), None, None)
        .await;
    assert_eq!(
        task["status"], "claimed",
        "the refused delivery changed nothing"
    );
    let (status, _) = server.send("POST", "/api/upload", &[], Some(b"")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn multipart_delivery_stores_the_file_and_names_it() {
    multipart_delivery_stores_the_file_and_names_it_on(TestServer::start(Policy::agora()).await)
        .await;
}

#[tokio::test]
async fn multipart_delivery_stores_the_file_and_names_it_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        multipart_delivery_stores_the_file_and_names_it_on(server).await;
    }
}

async fn multipart_delivery_stores_the_file_and_names_it_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let id = claimed_task(
        &server,
        &poster,
        &worker,
        json!({"text": "Zip the results", "bounty": 5, "require_review": true}),
    )
    .await;
    let file = vec![0x50u8, 0x4b, 3, 4, 0, 1, 2, 3, 255];
    let boundary = "XyZzY";
    let mut body = Vec::new();
    for (name, value) in [
        ("text", "Analysis complete"),
        ("meta", r#"{"output":"summary"}"#),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"results.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes());
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let auth = format!("Bearer {worker}");
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, delivered) = server
        .send(
            "POST",
            &format!("/api/v1/tasks/{id}/deliver"),
            &[("Authorization", &auth), ("Content-Type", &content_type)],
            Some(&body),
        )
        .await;
    assert_eq!(status, 200, "{delivered}");
    assert_eq!(delivered["result"]["text"], "Analysis complete");
    assert_eq!(delivered["result"]["meta"]["output"], "summary");
    let hash = delivered["result"]["meta"]["artifact_hash"]
        .as_str()
        .unwrap();
    assert!(hash.ends_with(".zip"));
    let (status, content_type, bytes) = artifact(
        &server,
        Some(&poster),
        &format!("/api/v1/artifacts/{hash}?task_id={id}"),
    )
    .await;
    assert_eq!((status, content_type.as_str()), (200, "application/zip"));
    assert_eq!(bytes, file);

    let (status, refused) = server
        .send(
            "POST",
            &format!("/api/v1/tasks/{id}/deliver"),
            &[
                ("Authorization", &auth),
                ("Content-Type", "multipart/form-data; boundary=nope"),
            ],
            Some(b"garbage"),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn bodies_past_their_limits_are_413_and_change_nothing() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let id = claimed_task(&server, &poster, &worker, json!({"text": "t", "bounty": 5})).await;
    let huge = json!({"text": "x".repeat(1024 * 1024 + 10)}).to_string();
    let auth = format!("Bearer {worker}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, body) = server
        .send(
            "POST",
            &format!("/api/v1/tasks/{id}/deliver"),
            &headers,
            Some(huge.as_bytes()),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    let (status, _) = server
        .send("POST", "/api/v1/tasks", &headers, Some(huge.as_bytes()))
        .await;
    assert_eq!(status, 413);
    let (status, body) = server
        .send(
            "POST",
            &format!("/api/v1/tasks/{id}/extend"),
            &headers,
            Some(huge.as_bytes()),
        )
        .await;
    assert_eq!(status, 413, "optional bodies have the limit too");
    assert_eq!(
        body["error"]["code"], "too_large",
        "in the API's format: {body}"
    );
    let (_, task) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), None, None)
        .await;
    assert_eq!(task["status"], "claimed");
    let (_, listed) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn artifacts_are_served_inert_whatever_was_uploaded() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let auth = format!("Bearer {poster}");
    let headers_of = |path: String| {
        let auth = auth.clone();
        let server = &server;
        async move {
            let (status, headers, _) = server
                .send_raw("GET", &path, &[("Authorization", &auth)], None)
                .await;
            assert_eq!(status, 200, "{path}");
            let get = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(
                get("content-security-policy"),
                "default-src 'none'; sandbox",
                "{path}"
            );
            (get("content-type"), get("content-disposition"))
        }
    };
    let cases = [
        ("text/html", "text/html; charset=utf-8", "attachment"),
        ("image/svg+xml", "image/svg+xml", "attachment"),
        ("application/zip", "application/zip", "attachment"),
        (
            "application/x-unknown",
            "application/octet-stream",
            "attachment",
        ),
        ("image/png", "image/png", "inline"),
        ("image/jpeg", "image/jpeg", "inline"),
        ("image/gif", "image/gif", "inline"),
        ("image/webp", "image/webp", "inline"),
        ("application/pdf", "application/pdf", "inline"),
        ("text/plain", "text/plain; charset=utf-8", "inline"),
        ("application/json", "application/json", "inline"),
    ];
    for (declared, served, disposition) in cases {
        let content = format!("<script>alert('{declared}')</script>");
        let (status, uploaded) = server
            .send(
                "POST",
                "/api/upload",
                &[("Authorization", &auth), ("Content-Type", declared)],
                Some(content.as_bytes()),
            )
            .await;
        assert_eq!(status, 201, "{uploaded}");
        let hash = uploaded["hash"].as_str().unwrap();
        let got = headers_of(format!("/api/v1/artifacts/{hash}")).await;
        assert_eq!(
            got,
            (served.to_owned(), disposition.to_owned()),
            "{declared}"
        );
    }

    // A file named like a page but declared a byte stream stays a byte stream.
    let id = claimed_task(
        &server,
        &poster,
        &worker,
        json!({"text": "Send the page", "bounty": 1, "require_review": true}),
    )
    .await;
    let body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"evil.html\"\r\n\
                Content-Type: application/octet-stream\r\n\r\n<script>alert(1)</script>\r\n--B--\r\n";
    let worker_auth = format!("Bearer {worker}");
    let (status, delivered) = server
        .send(
            "POST",
            &format!("/api/v1/tasks/{id}/deliver"),
            &[
                ("Authorization", &worker_auth),
                ("Content-Type", "multipart/form-data; boundary=B"),
            ],
            Some(body.as_bytes()),
        )
        .await;
    assert_eq!(status, 200, "{delivered}");
    let hash = delivered["result"]["meta"]["artifact_hash"]
        .as_str()
        .unwrap();
    assert!(hash.ends_with(".bin"), "the declared type wins: {hash}");
    let got = headers_of(format!("/api/v1/artifacts/{hash}?task_id={id}")).await;
    assert_eq!(
        got,
        (
            "application/octet-stream".to_owned(),
            "attachment".to_owned()
        )
    );
}
