//! The served OpenAPI document: 3.1, every endpoint of both seeds in it, and every
//! operation in it routed by the server.

use crate::common::TestServer;
use marketplace_core::Policy;
use serde_json::Value;

/// Every endpoint the two seed documents list (with the additions).
const SEED_ENDPOINTS: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/node"),
    ("post", "/api/v1/auth/keys"),
    ("delete", "/api/v1/auth/keys/{prefix}"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{id}"),
    ("post", "/api/v1/tasks/{id}/claim"),
    ("post", "/api/v1/tasks/{id}/extend"),
    ("post", "/api/v1/tasks/{id}/deliver"),
    ("get", "/api/v1/tasks/{id}/result"),
    ("post", "/api/v1/tasks/{id}/accept"),
    ("post", "/api/v1/tasks/{id}/reject"),
    ("post", "/api/v1/tasks/{id}/cancel"),
    ("post", "/api/v1/tasks/{id}/queue"),
    ("delete", "/api/v1/tasks/{id}/queue"),
    ("post", "/api/v1/tasks/{id}/message"),
    ("post", "/api/v1/tasks/{id}/bid"),
    ("post", "/api/v1/tasks/{id}/bids/{bid_id}/award"),
    ("get", "/api/v1/tasks/{id}/status"),
    ("get", "/api/v1/feed"),
    ("get", "/api/v1/search"),
    ("get", "/api/v1/market/signals"),
    ("get", "/api/v1/services"),
    ("post", "/api/v1/posts"),
    ("post", "/api/v1/skill"),
    ("post", "/api/v1/profile"),
    ("get", "/api/v1/profile/{hash}"),
    ("get", "/api/v1/reputation/{hash}"),
    ("get", "/api/v1/balance"),
    ("get", "/api/v1/transactions"),
    ("get", "/api/v1/earnings"),
    ("get", "/api/v1/broker/auto-claim"),
    ("post", "/api/v1/broker/auto-claim"),
    ("delete", "/api/v1/broker/auto-claim"),
    ("get", "/api/v1/broker/match"),
    ("post", "/api/v1/contracts"),
    ("post", "/api/v1/contracts/{id}"),
    ("get", "/api/v1/contracts"),
    ("post", "/api/upload"),
    ("get", "/api/v1/artifacts/{hash}"),
    ("post", "/api/agents/register"),
    ("get", "/api/agents"),
    ("get", "/api/agents/{id}"),
    ("get", "/api/agents/me"),
    ("post", "/api/tasks"),
    ("get", "/api/tasks"),
    ("get", "/api/tasks/{id}"),
    ("post", "/api/tasks/{id}/accept"),
    ("post", "/api/tasks/{id}/complete"),
    ("get", "/api/wallet"),
    ("get", "/api/agents/me/webhook"),
    ("put", "/api/agents/me/webhook"),
    ("post", "/api/execute"),
    ("get", "/api/v1/webhooks/deliveries"),
    ("post", "/api/v1/webhooks/test"),
    ("post", "/api/v1/webhooks/secret"),
];

#[tokio::test]
async fn the_document_covers_both_dialects_and_matches_the_routes() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, doc) = server.json("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in SEED_ENDPOINTS {
        let operation = &paths.get(*path).unwrap_or_else(|| panic!("{path} missing"))[*method];
        assert!(operation.is_object(), "{method} {path} missing");
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty())
        );
    }
    // The served document is the route list's own, and every operation in it is routed.
    let operations = http_adapter::openapi::operations();
    let mut served: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let mut listed: Vec<(String, String)> = operations
        .iter()
        .map(|(method, path)| ((*method).to_owned(), path.clone()))
        .collect();
    listed.sort();
    served.sort();
    assert_eq!(served, listed);
    assert!(listed.len() >= SEED_ENDPOINTS.len() + 2, "{}", listed.len());
    for (method, path) in &operations {
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{bid_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{hash}", "x")
            .replace("{prefix}", "ak_0");
        // The live stream never ends: asked to resume from no event, it answers at once.
        let headers: &[(&str, &str)] = if path == "/api/v1/events" {
            &[("Last-Event-ID", "not an id")]
        } else {
            &[]
        };
        let (status, _, body) = server.send_raw(method, &concrete, headers, None).await;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path} is not routed");
        let fallback: Value = serde_json::json!("no such endpoint");
        assert_ne!(
            body["error"]["message"], fallback,
            "{method} {path} is not routed"
        );
    }
    let deliver = &paths["/api/v1/tasks/{id}/deliver"]["post"]["requestBody"]["content"];
    for media in ["application/json", "multipart/form-data"] {
        assert!(
            deliver[media]["schema"].is_object(),
            "deliver takes {media}"
        );
    }
    // Every schema the document refers to is in it.
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{name} is referred to but missing"
        );
    }
    // Request and response types are generated, not hand-written.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "TaskView",
        "PostTask",
        "BalanceView",
        "Envelope_TaskView",
        "ErrorBody",
    ] {
        assert!(
            schemas
                .keys()
                .any(|k| k.starts_with(name.split('_').next().unwrap())),
            "{name} in {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }
}

/// Operations that change something but take no `Idempotency-Key`: credentials (a second
/// key or session is what a retry asks for) and content-addressed uploads (stored once).
const WITHOUT_IDEMPOTENCY_KEY: &[(&str, &str)] = &[
    ("post", "/api/agents/register"),
    ("post", "/api/upload"),
    ("post", "/api/v1/auth/keys"),
    ("delete", "/api/v1/auth/keys/{prefix}"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/node"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/webhooks/secret"),
    ("post", "/api/v1/webhooks/test"),
];

#[tokio::test]
async fn every_operation_taking_an_idempotency_key_documents_it() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, document) = server.json("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let mut without = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if !["post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            let key = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == "Idempotency-Key");
            match key {
                Some(key) => {
                    assert_eq!(key["in"], "header", "{method} {path}");
                    assert_eq!(key["schema"]["maxLength"], 255, "{method} {path}");
                }
                None => without.push((method.clone(), path.clone())),
            }
        }
    }
    let mut expected: Vec<(String, String)> = WITHOUT_IDEMPOTENCY_KEY
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    without.sort();
    expected.sort();
    assert_eq!(without, expected);
}

/// `/docs` renders the served document interactively, and `/` points there.
#[tokio::test]
async fn the_api_reference_renders_the_served_document_and_the_root_links_it() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, headers, body) = server.send_raw("GET", "/docs", &[], None).await;
    assert_eq!(status, 200);
    let content_type = headers.iter().find(|(n, _)| n == "content-type");
    assert!(
        content_type.is_some_and(|(_, v)| v.starts_with("text/html")),
        "{headers:?}"
    );
    let page = String::from_utf8(body).unwrap();
    let (_, document) = server.send("GET", "/api/v1/openapi.json", &[], None).await;
    // The page carries the same document: its title and an operation of each dialect.
    for expected in [
        document["info"]["title"].as_str().unwrap(),
        "agora_post_task",
        "/api/agents/register",
        "@scalar/api-reference",
    ] {
        assert!(page.contains(expected), "{expected} missing from /docs");
    }
    let (status, index) = server
        .send("GET", "/", &[("Accept", "application/json")], None)
        .await;
    assert_eq!(status, 200, "{index}");
    assert_eq!(index["docs"], "/docs");
    assert_eq!(index["openapi"], "/api/v1/openapi.json");
}
