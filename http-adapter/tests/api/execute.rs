//! Direct execution (`POST /api/execute`) against a real HTTPS agent endpoint and a local
//! fake Messages API: paid 90/10 on success, refunded in full on an error, a timeout or a
//! missing LLM, with balances read back after each.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::TestServer;
use crate::common::receiver::{Mode, Receiver};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use http_adapter::dispatch::{LlmConfig, ReachConfig};
use marketplace_core::Policy;
use serde_json::{Value, json};

async fn register(server: &TestServer, body: Value) -> Value {
    let (status, body) = server
        .json("POST", "/api/agents/register", None, Some(body))
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

async fn balance(server: &TestServer, key: &str) -> Value {
    let (status, wallet) = server
        .with_key("GET", "/api/wallet", key, Value::Null)
        .await;
    assert_eq!(status, 200);
    wallet["data"]["balance"].clone()
}

/// `POST /api/execute` by `key`.
async fn execute(
    server: &TestServer,
    key: &str,
    agent: &Value,
    description: &str,
    budget: u32,
) -> (u16, Value) {
    let body = json!({ "agent_id": agent, "task_description": description, "budget": budget });
    server.with_key("POST", "/api/execute", key, body).await
}

fn reach(llm: LlmConfig) -> ReachConfig {
    ReachConfig {
        execute_timeout: Duration::from_secs(1),
        interval: Duration::from_millis(50),
        llm,
        ..ReachConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_agent_is_paid_on_success_and_the_hirer_refunded_on_failure() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_reaching(
        Policy::agentmarket(),
        &receiver.ca_pem,
        true,
        reach(LlmConfig::default()),
    )
    .await;
    let agent = register(
        &server,
        json!({
            "name": "Haiku", "capabilities": ["poetry"], "price_per_task": 10,
            "endpoint_url": receiver.url("/exec")
        }),
    )
    .await;
    let secret = agent["webhook_secret"]
        .as_str()
        .expect("an endpoint gets a secret");
    receiver.set_secret("/exec", secret);
    let agent_key = agent["api_key"].as_str().unwrap();
    let agent_id = agent["id"].clone();
    let hirer = register(&server, json!({ "name": "Hirer" })).await;
    let hirer_key = hirer["api_key"].as_str().unwrap();

    receiver.respond(
        "/exec",
        Mode::Result("Packets flow like streams".to_owned()),
    );
    let (status, body) = execute(
        &server,
        hirer_key,
        &agent_id,
        "Write a haiku about distributed systems",
        15,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["result"], "Packets flow like streams");
    assert_eq!(body["balance"], json!(85));
    assert_eq!(balance(&server, agent_key).await, json!(113.5), "90% of 15");
    let task_id = body["data"]["task_id"].as_str().unwrap();
    let (_, task) = server
        .json("GET", &format!("/api/tasks/{task_id}"), None, None)
        .await;
    assert_eq!(task["data"]["status"], "completed");
    assert_eq!(task["data"]["assigned_to"], agent_id);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, "task.execute");
    assert!(
        got[0].agentmarket_ok && got[0].standard_ok,
        "signed like a webhook"
    );
    assert_eq!(
        got[0].body["description"],
        "Write a haiku about distributed systems"
    );
    assert_eq!(got[0].body["task_id"], task_id);
    assert_eq!(got[0].body["budget"], json!(15));

    // The endpoint fails: nothing is paid.
    receiver.respond("/exec", Mode::Status(500));
    let (status, body) = execute(&server, hirer_key, &agent_id, "again", 15).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "agent_failed");
    assert!(body["error"].as_str().unwrap().contains("500"), "{body}");
    assert_eq!(
        balance(&server, hirer_key).await,
        json!(85),
        "refunded in full"
    );
    assert_eq!(balance(&server, agent_key).await, json!(113.5));

    // The endpoint is too slow: refunded too.
    receiver.respond("/exec", Mode::Slow(Duration::from_secs(3)));
    let (status, body) = execute(&server, hirer_key, &agent_id, "slowly", 12).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["code"], "agent_timeout");
    assert_eq!(balance(&server, hirer_key).await, json!(85));

    // Answers without a result are failures.
    receiver.respond("/exec", Mode::Ok);
    let (status, body) = execute(&server, hirer_key, &agent_id, "nothing", 10).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(balance(&server, hirer_key).await, json!(85));

    // A redirect is not followed; an answer over the cap is not read.
    receiver.respond("/exec", Mode::Redirect(receiver.url("/elsewhere")));
    let (status, body) = execute(&server, hirer_key, &agent_id, "moved", 10).await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"].as_str().unwrap().contains("307"), "{body}");
    assert!(
        receiver.received().iter().all(|r| r.path != "/elsewhere"),
        "the redirect was not followed"
    );
    receiver.respond("/exec", Mode::Huge(2 * 1024 * 1024));
    let (status, body) = execute(&server, hirer_key, &agent_id, "verbose", 10).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("larger than"),
        "{body}"
    );
    assert_eq!(
        balance(&server, hirer_key).await,
        json!(85),
        "both refunded"
    );

    // Refusals before anything is held.
    let cases = [
        (
            json!({ "agent_id": agent_id, "task_description": "cheap", "budget": 9 }),
            400,
        ),
        (
            json!({ "agent_id": "0".repeat(64), "task_description": "who", "budget": 15 }),
            404,
        ),
        (
            json!({ "agent_id": agent_id, "task_description": "rich", "budget": 500 }),
            402,
        ),
        (
            json!({ "agent_id": agent_id, "task_description": "x", "budget": -1 }),
            400,
        ),
        (json!({ "agent_id": agent_id, "budget": 15 }), 400),
        (
            json!({ "agent_id": agent_id, "task_description": "x", "budget": 15, "tip": 1 }),
            400,
        ),
    ];
    receiver.respond("/exec", Mode::Result("should not run".to_owned()));
    let before = receiver.received().len();
    for (body, expected) in cases {
        let (status, answer) = server
            .with_key("POST", "/api/execute", hirer_key, body.clone())
            .await;
        assert_eq!(status, expected, "{body}: {answer}");
    }
    let (status, _) = execute(&server, agent_key, &agent_id, "me", 15).await;
    assert_eq!(status, 400, "an agent cannot hire itself");
    assert_eq!(
        receiver.received().len(),
        before,
        "none of them ran the agent"
    );
    assert_eq!(balance(&server, hirer_key).await, json!(85));
    let plain = register(&server, json!({ "name": "Plain" })).await;
    let (status, body) = execute(&server, hirer_key, &plain["id"], "x", 15).await;
    assert_eq!(status, 400, "nothing to run it with: {body}");
}

/// A fake Messages API: records requests, answers with text or an error.
#[derive(Clone, Default)]
struct FakeLlm {
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    fail: Arc<Mutex<bool>>,
}

async fn messages(
    State(llm): State<FakeLlm>,
    headers: HeaderMap,
    body: String,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    llm.requests.lock().unwrap().push((headers, body));
    if *llm.fail.lock().unwrap() {
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            axum::Json(
                json!({ "type": "error", "error": { "type": "rate_limit_error", "message": "slow down" } }),
            ),
        );
    }
    (
        axum::http::StatusCode::OK,
        axum::Json(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "test-model",
            "content": [
                { "type": "text", "text": "Hello " },
                { "type": "text", "text": "from the model" }
            ],
            "stop_reason": "end_turn"
        })),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_prompt_agent_runs_through_the_messages_api() {
    let receiver = Receiver::start().await;
    let fake = FakeLlm::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/messages", post(messages))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let llm = LlmConfig {
        base_url: base,
        api_key: Some("test-key".to_owned()),
        model: "test-model".to_owned(),
        max_tokens: 256,
    };
    let server =
        TestServer::start_reaching(Policy::agentmarket(), &receiver.ca_pem, true, reach(llm)).await;
    let agent = register(
        &server,
        json!({ "name": "Claude", "price_per_task": 5, "system_prompt": "You are a research assistant" }),
    )
    .await;
    let hirer = register(&server, json!({ "name": "Hirer" })).await;
    let hirer_key = hirer["api_key"].as_str().unwrap();
    let (status, body) = execute(&server, hirer_key, &agent["id"], "Say hello", 10).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"], "Hello from the model");
    assert_eq!(body["balance"], json!(90));
    assert_eq!(
        balance(&server, agent["api_key"].as_str().unwrap()).await,
        json!(109)
    );
    {
        let requests = fake.requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        let (headers, sent) = &requests[0];
        assert_eq!(headers["x-api-key"], "test-key");
        assert_eq!(headers["anthropic-version"], "2023-06-01");
        assert_eq!(sent["model"], "test-model");
        assert_eq!(sent["max_tokens"], 256);
        assert_eq!(sent["system"], "You are a research assistant");
        assert_eq!(
            sent["messages"],
            json!([{ "role": "user", "content": "Say hello" }])
        );
    }

    *fake.fail.lock().unwrap() = true;
    let (status, body) = execute(&server, hirer_key, &agent["id"], "Again", 10).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("slow down"),
        "{body}"
    );
    assert_eq!(balance(&server, hirer_key).await, json!(90), "refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_llm_key_a_system_prompt_agent_is_a_clear_503() {
    let server = TestServer::start(Policy::agentmarket()).await;
    let agent = register(
        &server,
        json!({ "name": "Prompted", "system_prompt": "You are helpful" }),
    )
    .await;
    let hirer = register(&server, json!({ "name": "Hirer" })).await;
    let hirer_key = hirer["api_key"].as_str().unwrap();
    let (status, body) = execute(&server, hirer_key, &agent["id"], "hi", 10).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "llm_unavailable");
    assert_eq!(
        balance(&server, hirer_key).await,
        json!(100),
        "nothing held"
    );
    let (_, tasks) = server.json("GET", "/api/tasks", None, None).await;
    assert!(
        tasks["data"].as_array().unwrap().is_empty(),
        "no task posted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_is_not_announced_to_its_agent_as_a_posting() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_reaching(
        Policy::agentmarket(),
        &receiver.ca_pem,
        true,
        reach(LlmConfig::default()),
    )
    .await;
    let agent = register(
        &server,
        json!({
            "name": "Hired", "capabilities": ["poetry"], "price_per_task": 1,
            "endpoint_url": receiver.url("/exec"), "webhook_url": receiver.url("/hook")
        }),
    )
    .await;
    let secret = agent["webhook_secret"].as_str().unwrap();
    receiver.set_secret("/exec", secret);
    receiver.set_secret("/hook", secret);
    let agent_id = agent["id"].clone();
    let hirer = register(&server, json!({ "name": "Hirer" })).await;
    let hirer_key = hirer["api_key"].as_str().unwrap();

    // An execution that succeeds and one that fails.
    receiver.respond("/exec", Mode::Result("a poem".to_owned()));
    let (status, paid) = execute(&server, hirer_key, &agent_id, "Write a poem", 2).await;
    assert_eq!(status, 200, "{paid}");
    receiver.respond("/exec", Mode::Status(500));
    let (status, _) = execute(&server, hirer_key, &agent_id, "Write another", 2).await;
    assert_eq!(status, 502);
    // A task merely assigned to the agent is announced to it: the dispatcher runs.
    let (status, assigned) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(hirer_key),
            Some(json!({ "text": "for you", "bounty": 1, "assign_to": agent_id })),
        )
        .await;
    assert_eq!(status, 201, "{assigned}");
    let got = receiver
        .wait_until(Duration::from_secs(30), |r| {
            r.iter().any(|x| x.body["task"]["id"] == assigned["id"])
        })
        .await;
    let posted: Vec<&Value> = got
        .iter()
        .filter(|r| r.path == "/hook" && r.event == "task.posted")
        .map(|r| &r.body["task"]["id"])
        .collect();
    assert_eq!(
        posted,
        vec![&assigned["id"]],
        "only the assigned task is announced"
    );
}
