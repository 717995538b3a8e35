//! The AgentMarket dialect over a real socket, its quick start step by step as the seed
//! document writes it, under the agentmarket preset: 100 credits at signup, 75 after
//! posting a 25-credit task, 22.5 more for the worker who completes it.

use crate::common::TestServer;
use marketplace_core::Policy;
use marketplace_core::store::Backend;
use serde_json::{Value, json};

/// A request with `X-API-Key`, as AgentMarket clients send it.
async fn call<S: Backend + Clone>(
    server: &TestServer<S>,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(key) = key {
        headers.push(("X-API-Key", key));
    }
    let body = body.map(|b| b.to_string());
    server
        .send(method, path, &headers, body.as_deref().map(str::as_bytes))
        .await
}

async fn register<S: Backend + Clone>(server: &TestServer<S>, body: Value) -> (String, String) {
    let (status, reply) = call(server, "POST", "/api/agents/register", None, Some(body)).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["success"], json!(true));
    assert_eq!(reply["balance"], json!(100), "100 free credits");
    let data = &reply["data"];
    (
        data["api_key"].as_str().unwrap().to_owned(),
        data["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn quick_start_register_browse_accept_complete() {
    quick_start_register_browse_accept_complete_on(TestServer::start(Policy::agentmarket()).await)
        .await;
}

#[tokio::test]
async fn quick_start_register_browse_accept_complete_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agentmarket()).await {
        quick_start_register_browse_accept_complete_on(server).await;
    }
}

async fn quick_start_register_browse_accept_complete_on<S: Backend + Clone>(server: TestServer<S>) {
    // 1. Register, as the seed writes it (and the fuller body of its reference).
    let (worker, worker_id) = register(
        &server,
        json!({"name":"MyBot","capabilities":["coding"],"owner_email":"me@example.com"}),
    )
    .await;
    let (poster, poster_id) = register(
        &server,
        json!({
            "name": "ResearchBot",
            "description": "I research topics thoroughly",
            "capabilities": ["research", "summarization"],
            "price_per_task": 15,
            "endpoint_url": "https://my-bot.com/execute",
            "system_prompt": "You are a research assistant",
            "owner_email": "me@example.com"
        }),
    )
    .await;

    let (status, posted) = call(
        &server,
        "POST",
        "/api/tasks",
        Some(&poster),
        Some(json!({"title": "Summarize this research paper", "description": "Full text of the paper...", "budget": 25, "required_capabilities": ["research", "summarization"]})),
    )
    .await;
    assert_eq!(status, 201, "{posted}");
    assert_eq!(posted["success"], json!(true));
    assert_eq!(posted["data"]["status"], "open");
    assert_eq!(posted["data"]["budget"], json!(25));
    assert_eq!(posted["balance"], json!(75));
    let id = posted["data"]["id"].as_str().unwrap().to_owned();

    // 2. Browse, without credentials: no balance in the envelope.
    let (status, open) = call(&server, "GET", "/api/tasks?status=open", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(open["success"], json!(true));
    assert!(open.get("balance").is_none());
    assert_eq!(open["data"][0]["id"], id.as_str());
    assert_eq!(open["data"][0]["title"], "Summarize this research paper");
    let (_, by_capability) = call(
        &server,
        "GET",
        "/api/tasks?status=open&capability=research&limit=20",
        None,
        None,
    )
    .await;
    assert_eq!(by_capability["data"].as_array().unwrap().len(), 1);
    let (_, other) = call(&server, "GET", "/api/tasks?capability=cooking", None, None).await;
    assert_eq!(other["data"], json!([]));

    // 3. Accept.
    let (late, _) = register(&server, json!({"name": "Late"})).await;
    let (status, accepted) = call(
        &server,
        "POST",
        &format!("/api/tasks/{id}/accept"),
        Some(&worker),
        None,
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["data"]["status"], "assigned");
    assert_eq!(accepted["data"]["assigned_to"], worker_id.as_str());
    assert_eq!(accepted["balance"], json!(100));
    for status in ["assigned", "claimed"] {
        let path = format!("/api/tasks?status={status}");
        let (_, assigned) = call(&server, "GET", &path, None, None).await;
        assert_eq!(assigned["data"][0]["id"], id.as_str(), "{status}");
    }
    let (status, taken) = call(
        &server,
        "POST",
        &format!("/api/tasks/{id}/accept"),
        Some(&late),
        None,
    )
    .await;
    assert_eq!(status, 409, "{taken}");
    assert_eq!(taken["success"], json!(false));
    assert!(
        taken["error"].as_str().unwrap().contains("claimed"),
        "{taken}"
    );

    // 4. Complete: settled at once, 90% to the worker.
    let (status, completed) = call(
        &server,
        "POST",
        &format!("/api/tasks/{id}/complete"),
        Some(&worker),
        Some(json!({"result":"Here is my completed work..."})),
    )
    .await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["data"]["status"], "completed");
    assert_eq!(completed["data"]["result"], "Here is my completed work...");
    assert_eq!(completed["balance"], json!(122.5));

    let (status, wallet) = call(&server, "GET", "/api/wallet", Some(&poster), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        wallet["data"],
        json!({"agent_id": poster_id, "balance": 75})
    );
    assert_eq!(wallet["balance"], json!(75));

    let (status, me) = call(&server, "GET", "/api/agents/me", Some(&worker), None).await;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["name"], "MyBot");
    assert_eq!(me["data"]["total_tasks"], json!(1));
    assert_eq!(me["balance"], json!(122.5));
    let (status, listed) = call(
        &server,
        "GET",
        "/api/agents?capability=research&limit=20",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["name"], "ResearchBot");
    assert_eq!(listed["data"][0]["price_per_task"], json!(15));
    let (status, one) = call(
        &server,
        "GET",
        &format!("/api/agents/{worker_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["data"]["capabilities"], json!(["coding"]));
    let (status, detail) = call(&server, "GET", &format!("/api/tasks/{id}"), None, None).await;
    assert_eq!(status, 200);
    assert_eq!(detail["data"]["status"], "completed");
}

#[tokio::test]
async fn errors_travel_in_the_envelope_and_change_nothing() {
    let server = TestServer::start(Policy::agentmarket()).await;
    let (key, _) = register(&server, json!({"name": "Bot"})).await;
    for (method, path, key, body, status) in [
        ("GET", "/api/wallet", None, None, 401),
        ("GET", "/api/agents/me", Some("ak_wrong"), None, 401),
        (
            "POST",
            "/api/tasks",
            Some(key.as_str()),
            Some(json!({"title": "t", "budget": 500})),
            402,
        ),
        (
            "POST",
            "/api/tasks",
            Some(key.as_str()),
            Some(json!({"title": "t", "budget": -5})),
            400,
        ),
        (
            "POST",
            "/api/tasks",
            Some(key.as_str()),
            Some(json!({"title": "t", "budget": 5, "fee": 0})),
            400,
        ),
        (
            "POST",
            "/api/tasks",
            Some(key.as_str()),
            Some(json!({"title": "t", "budget": "1.0000001"})),
            400,
        ),
        (
            "POST",
            "/api/agents/register",
            None,
            Some(json!({"name": "Hooked", "webhook_url": "http://insecure.example"})),
            400,
        ),
        (
            "POST",
            "/api/agents/register",
            None,
            Some(json!({"name": ""})),
            400,
        ),
        ("GET", "/api/tasks/not-a-task", None, None, 404),
        ("GET", "/api/agents/nobody", None, None, 404),
        (
            "POST",
            "/api/tasks/00000000-0000-0000-0000-000000000000/accept",
            Some(key.as_str()),
            None,
            404,
        ),
    ] {
        let (got, body) = call(&server, method, path, key, body).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(body["success"], json!(false), "{body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    let (status, body) = server
        .send(
            "POST",
            "/api/tasks",
            &[("X-API-Key", &key), ("Content-Type", "application/json")],
            Some(b"{not json"),
        )
        .await;
    assert_eq!((status, body["success"].clone()), (400, json!(false)));
    let (_, wallet) = call(&server, "GET", "/api/wallet", Some(&key), None).await;
    assert_eq!(wallet["balance"], json!(100), "nothing refused moved money");
    let (_, tasks) = call(&server, "GET", "/api/tasks", None, None).await;
    assert_eq!(tasks["data"], json!([]));
    let (_, agents) = call(&server, "GET", "/api/agents", None, None).await;
    assert_eq!(
        agents["data"].as_array().unwrap().len(),
        1,
        "refused registrations left nothing"
    );
}

#[tokio::test]
async fn one_identity_and_one_balance_across_both_dialects() {
    one_identity_and_one_balance_across_both_dialects_on(
        TestServer::start(Policy::agentmarket()).await,
    )
    .await;
}

#[tokio::test]
async fn one_identity_and_one_balance_across_both_dialects_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agentmarket()).await {
        one_identity_and_one_balance_across_both_dialects_on(server).await;
    }
}

async fn one_identity_and_one_balance_across_both_dialects_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (agora_key, agora_id) = server.agent("agora-agent").await;
    let (am_key, am_id) = register(&server, json!({"name": "Bot", "capabilities": ["x"]})).await;
    // An AgentMarket key works as an Agora bearer token, and the other way round.
    let (status, balance) = server
        .json("GET", "/api/v1/balance", Some(&am_key), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(balance["identity_hash"], am_id.as_str());
    assert_eq!(balance["available"], json!(100));
    let (status, wallet) = call(&server, "GET", "/api/wallet", Some(&agora_key), None).await;
    assert_eq!(status, 200);
    assert_eq!(wallet["data"]["agent_id"], agora_id.as_str());

    // Posted through Agora with review, completed through AgentMarket: delivered, held.
    let (status, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&agora_key),
            Some(json!({"text": "Reviewed work", "bounty": 10, "require_review": true})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_str().unwrap();
    assert_eq!(
        call(
            &server,
            "POST",
            &format!("/api/tasks/{id}/accept"),
            Some(&am_key),
            None
        )
        .await
        .0,
        200
    );
    let (status, done) = call(
        &server,
        "POST",
        &format!("/api/tasks/{id}/complete"),
        Some(&am_key),
        Some(json!({"result": "done"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(done["data"]["status"], "delivered", "the poster reviews it");
    assert_eq!(done["balance"], json!(100));
    let (status, _) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/accept"),
            Some(&agora_key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, wallet) = call(&server, "GET", "/api/wallet", Some(&am_key), None).await;
    assert_eq!(wallet["balance"], json!(109), "10 less the 10% fee");
}

#[tokio::test]
async fn refusals_name_this_dialects_fields() {
    let server = TestServer::start(Policy::agentmarket()).await;
    let (key, _) = register(&server, json!({"name": "Bot"})).await;
    for (path, key, body, field, agora) in [
        (
            "/api/tasks",
            Some(key.as_str()),
            json!({"title": "t", "budget": -1}),
            "budget",
            "bounty",
        ),
        (
            "/api/tasks",
            Some(key.as_str()),
            json!({"title": "t", "description": "x".repeat(30_000), "budget": 1}),
            "description",
            "text",
        ),
        (
            "/api/agents/register",
            None,
            json!({"name": " "}),
            "name",
            "alias",
        ),
        (
            "/api/agents/register",
            None,
            json!({"name": "n", "description": "x".repeat(5_000)}),
            "description",
            "bio",
        ),
    ] {
        let (status, reply) = call(&server, "POST", path, key, Some(body)).await;
        assert_eq!(status, 400, "{reply}");
        let said = reply["error"].as_str().unwrap();
        assert!(said.contains(field) && !said.contains(agora), "{said}");
    }
}

#[tokio::test]
async fn reputation_score_moves_with_completed_and_rejected_work() {
    let server = TestServer::start(Policy::agentmarket()).await;
    let (poster, _) = register(&server, json!({"name": "Poster"})).await;
    let (worker, worker_id) =
        register(&server, json!({"name": "Worker", "capabilities": ["x"]})).await;
    let score = || {
        let server = &server;
        let path = format!("/api/agents/{worker_id}");
        async move {
            let (status, reply) = call(server, "GET", &path, None, None).await;
            assert_eq!(status, 200, "{reply}");
            reply["data"]["reputation_score"].clone()
        }
    };
    assert_eq!(score().await, json!(0), "no work yet");
    for n in 0..4 {
        let (_, posted) = call(
            &server,
            "POST",
            "/api/tasks",
            Some(&poster),
            Some(json!({"title": format!("job {n}"), "budget": 1})),
        )
        .await;
        let id = posted["data"]["id"].as_str().unwrap();
        for (verb, body) in [
            ("accept", json!({})),
            ("complete", json!({"result": "done"})),
        ] {
            let (status, reply) = call(
                &server,
                "POST",
                &format!("/api/tasks/{id}/{verb}"),
                Some(&worker),
                Some(body),
            )
            .await;
            assert_eq!(status, 200, "{verb}: {reply}");
        }
    }
    assert_eq!(score().await, json!(5), "four completed, unrated");
    // One rejection, through the Agora dialect (AgentMarket has no review): 20 / 5.
    let (_, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "reviewed", "bounty": 1, "require_review": true})),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    for (who, verb, body) in [
        (&worker, "claim", json!({})),
        (&worker, "deliver", json!({"text": "meh"})),
        (
            &poster,
            "reject",
            json!({"text": "no", "category": "quality"}),
        ),
    ] {
        let path = format!("/api/v1/tasks/{id}/{verb}");
        let (status, reply) = server.json("POST", &path, Some(who), Some(body)).await;
        assert_eq!(status, 200, "{verb}: {reply}");
    }
    assert_eq!(score().await, json!(4));
}
