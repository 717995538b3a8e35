//! NUL characters in every kind of text a request carries — path, query, JSON string, JSON
//! key, form field — are refused at the boundary with 400 `invalid_input`, in each
//! dialect's error format, and change nothing; on both stores (PostgreSQL cannot store a
//! NUL, so one that got through answered 500 there).

use crate::common::TestServer;
use marketplace_core::Policy;
use marketplace_core::store::Backend;
use serde_json::{Value, json};

/// A request's status and body, with an API key.
async fn send<S: Backend + Clone>(
    server: &TestServer<S>,
    method: &str,
    path: &str,
    key: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let headers = [("X-API-Key", key), ("Content-Type", content_type)];
    let (status, _, body) = server.send_raw(method, path, &headers, Some(body)).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The machine code of an answer in either dialect's error format.
fn code(answer: &Value) -> &Value {
    if answer["success"] == false {
        &answer["code"]
    } else {
        &answer["error"]["code"]
    }
}

async fn nul_characters_are_refused_on<S: Backend + Clone>(server: TestServer<S>) {
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let (status, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "t", "bounty": 1})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/claim"),
            Some(&worker),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let json_type = "application/json";
    let form_type = "multipart/form-data; boundary=B";
    let form = |name: &str, value: &str| {
        format!(
            "--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--B--\r\n"
        )
    };
    let deliver = format!("/api/v1/tasks/{id}/deliver");
    let cases: Vec<(&str, String, &str, &str, Vec<u8>)> = vec![
        (
            "GET",
            "/api/v1/tasks?skill=%00".into(),
            &poster,
            json_type,
            vec![],
        ),
        (
            "GET",
            "/api/v1/tasks?q=a%00b".into(),
            &poster,
            json_type,
            vec![],
        ),
        (
            "GET",
            "/api/v1/feed?topic=%00".into(),
            &poster,
            json_type,
            vec![],
        ),
        (
            "GET",
            "/api/agents?capability=%00".into(),
            &poster,
            json_type,
            vec![],
        ),
        (
            "GET",
            "/api/tasks?capability=%00".into(),
            &poster,
            json_type,
            vec![],
        ),
        (
            "DELETE",
            "/api/v1/auth/keys/ak_%00".into(),
            &poster,
            json_type,
            vec![],
        ),
        (
            "GET",
            "/api/v1/profile/%00".into(),
            &poster,
            json_type,
            vec![],
        ),
        (
            "POST",
            "/api/agents/register".into(),
            "",
            json_type,
            br#"{"name": "n", "owner_email": "a\u0000@example.com"}"#.to_vec(),
        ),
        (
            "POST",
            "/api/v1/tasks".into(),
            &poster,
            json_type,
            br#"{"text": "bad\u0000text", "bounty": 1}"#.to_vec(),
        ),
        (
            "POST",
            "/api/v1/tasks".into(),
            &poster,
            json_type,
            br#"{"text": "t", "bounty": 1, "meta": {"k\u0000": 1}}"#.to_vec(),
        ),
        (
            "POST",
            format!("/api/v1/tasks/{id}/message"),
            &poster,
            json_type,
            br#"{"text": "\u0000"}"#.to_vec(),
        ),
        (
            "POST",
            deliver.clone(),
            &worker,
            json_type,
            br#"{"text": "done\u0000"}"#.to_vec(),
        ),
        (
            "POST",
            deliver.clone(),
            &worker,
            form_type,
            form("text", "do\0ne").into_bytes(),
        ),
        (
            "POST",
            deliver.clone(),
            &worker,
            form_type,
            form("meta", r#"{"output": "\u0000"}"#).into_bytes(),
        ),
    ];
    for (method, path, key, content_type, body) in &cases {
        let (status, answer) = send(&server, method, path, key, content_type, body).await;
        assert_eq!(status, 400, "{method} {path}: {answer}");
        assert_eq!(code(&answer), "invalid_input", "{method} {path}: {answer}");
    }
    // Nothing changed: the task is still claimed, undelivered, and alone with its poster.
    let (_, listed) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["status"], "claimed");
    // A backslash written out before `u0000` is text, not a NUL.
    let text = br#"{"text": "C:\\u0000 is a path", "bounty": 1}"#;
    let (status, answer) = send(&server, "POST", "/api/v1/tasks", &poster, json_type, text).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["text"], "C:\\u0000 is a path");
}

#[tokio::test]
async fn nul_characters_are_refused_on_sqlite() {
    nul_characters_are_refused_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn nul_characters_are_refused_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        nul_characters_are_refused_on(server).await;
    }
}
