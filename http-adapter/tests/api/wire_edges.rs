//! Small edges of the wire a new user meets: amounts in one strict grammar, the bearer
//! scheme in any case, contracts naming a malformed or an unknown agent, and what an
//! outsider hears about a private result.

use crate::common::TestServer;
use marketplace_core::Policy;
use serde_json::{Value, json};

#[tokio::test]
async fn amounts_follow_one_strict_grammar() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    for bounty in [
        json!("+5"),
        json!("5."),
        json!(".5"),
        json!(" 5 "),
        json!("5e0"),
        json!("0x5"),
        json!(""),
    ] {
        let (status, answer) = server
            .json(
                "POST",
                "/api/v1/tasks",
                Some(&poster),
                Some(json!({"text": "t", "bounty": bounty})),
            )
            .await;
        assert_eq!(status, 400, "{bounty}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input", "{bounty}");
    }
    let (_, listed) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(listed, json!([]), "nothing posted");
    for (bounty, reads) in [
        (json!("5"), json!(5)),
        (json!("0.25"), json!(0.25)),
        (json!(5), json!(5)),
        (json!(1.5), json!(1.5)),
    ] {
        let (status, answer) = server
            .json(
                "POST",
                "/api/v1/tasks",
                Some(&poster),
                Some(json!({"text": "t", "bounty": bounty})),
            )
            .await;
        assert_eq!(status, 201, "{bounty}: {answer}");
        assert_eq!(answer["bounty"], reads);
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = TestServer::start(Policy::agora()).await;
    let (key, _) = server.agent("agent").await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} {key}");
        let (status, answer) = server
            .send("GET", "/api/v1/balance", &[("Authorization", &auth)], None)
            .await;
        assert_eq!(status, 200, "{scheme}: {answer}");
    }
    for auth in [format!("Basic {key}"), format!("Bearer{key}"), key.clone()] {
        let (status, _) = server
            .send("GET", "/api/v1/balance", &[("Authorization", &auth)], None)
            .await;
        assert_eq!(status, 401, "{auth}");
    }
}

#[tokio::test]
async fn a_contract_with_a_malformed_agent_is_400_and_with_an_unknown_one_404() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let propose = |agent: Value| {
        let (server, poster) = (&server, poster.clone());
        async move {
            let body = json!({"agent": agent, "capabilities": ["code"], "price_per_task": 1, "max_tasks": 2});
            server
                .json("POST", "/api/v1/contracts", Some(&poster), Some(body))
                .await
        }
    };
    let (status, answer) = propose(json!("not-a-hash")).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_input");
    let (status, answer) = propose(json!("f".repeat(64))).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "unknown_identity");
    let (_, worker) = server.agent("worker").await;
    let (status, answer) = propose(json!(worker)).await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn an_outsider_hears_the_result_is_for_the_parties_not_about_messages() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let (outsider, _) = server.agent("outsider").await;
    let (_, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "t", "bounty": 1, "delivery": "private", "require_review": true})),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    for (verb, body) in [("claim", json!({})), ("deliver", json!({"text": "secret"}))] {
        let path = format!("/api/v1/tasks/{id}/{verb}");
        let (status, answer) = server.json("POST", &path, Some(&worker), Some(body)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let path = format!("/api/v1/tasks/{id}/result");
    let (status, answer) = server.json("GET", &path, Some(&outsider), None).await;
    assert_eq!(status, 403, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(!message.contains("message"), "{message}");
    assert!(message.contains("poster"), "{message}");
    let (status, answer) = server.json("GET", &path, Some(&worker), None).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn page_sizes_outside_the_documented_range_are_refused() {
    let server = TestServer::start(Policy::agora()).await;
    let (key, _) = server.agent("reader").await;
    let lists = [
        "/api/v1/tasks",
        "/api/v1/feed",
        "/api/v1/search?q=x",
        "/api/v1/transactions",
        "/api/tasks",
        "/api/agents",
    ];
    for list in lists {
        let join = if list.contains('?') { '&' } else { '?' };
        for limit in ["0", "201", "1000000", "-1", "ten"] {
            let path = format!("{list}{join}limit={limit}");
            let (status, answer) = server.json("GET", &path, Some(&key), None).await;
            assert_eq!(status, 400, "{path}: {answer}");
        }
        for limit in ["1", "200"] {
            let path = format!("{list}{join}limit={limit}");
            let (status, answer) = server.json("GET", &path, Some(&key), None).await;
            assert_eq!(status, 200, "{path}: {answer}");
        }
    }
}

#[tokio::test]
async fn a_json_body_must_be_declared_as_json() {
    let server = TestServer::start(Policy::agora()).await;
    let (key, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let body = br#"{"text": "t", "bounty": 1}"#;
    let post = |content_type: Option<&'static str>, path: &'static str, key: String| {
        let server = &server;
        async move {
            let auth = format!("Bearer {key}");
            let mut headers = vec![("Authorization", auth.as_str())];
            if let Some(content_type) = content_type {
                headers.push(("Content-Type", content_type));
            }
            server.send("POST", path, &headers, Some(body)).await
        }
    };
    for content_type in [None, Some("text/plain"), Some("application/xml")] {
        let (status, answer) = post(content_type, "/api/v1/tasks", key.clone()).await;
        assert_eq!(status, 415, "{content_type:?}: {answer}");
        assert_eq!(answer["error"]["code"], "unsupported_media_type");
        let (status, answer) = post(content_type, "/api/tasks", key.clone()).await;
        assert_eq!(status, 415, "{content_type:?}: {answer}");
        assert_eq!(
            (&answer["success"], &answer["code"]),
            (&json!(false), &json!("unsupported_media_type"))
        );
    }
    let (_, listed) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(listed, json!([]), "nothing posted");
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "application/x-www-form-urlencoded",
    ] {
        let (status, answer) = post(Some(content_type), "/api/v1/tasks", key.clone()).await;
        assert_eq!(status, 201, "{content_type}: {answer}");
    }
    // A command whose body is optional takes none without a type, but a body needs one.
    let (_, listed) = server.json("GET", "/api/v1/tasks", None, None).await;
    let id = listed[0]["id"].as_str().unwrap();
    let claim = format!("/api/v1/tasks/{id}/claim");
    let auth = format!("Bearer {worker}");
    let (status, answer) = server
        .send(
            "POST",
            &claim,
            &[("Authorization", &auth), ("Content-Type", "text/plain")],
            Some(br#"{"text": "On it"}"#),
        )
        .await;
    assert_eq!(status, 415, "{answer}");
    let (status, answer) = server
        .send("POST", &claim, &[("Authorization", &auth)], None)
        .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_bid_may_leave_out_its_turnaround() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (bidder, bidder_id) = server.agent("bidder").await;
    let (_, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "t", "bounty": 5, "bidding": true})),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let (status, bid) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/bid"),
            Some(&bidder),
            Some(json!({"text": "I can", "offered_price": 4})),
        )
        .await;
    assert_eq!(status, 201, "{bid}");
    assert_eq!(bid["turnaround_s"], Value::Null);
    let bid_id = bid["id"].as_str().unwrap();
    let (status, awarded) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/bids/{bid_id}/award"),
            Some(&poster),
            None,
        )
        .await;
    assert_eq!(status, 200, "{awarded}");
    assert_eq!(awarded["claimed_by"], bidder_id.as_str());
}
