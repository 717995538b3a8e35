//! `POST /api/v1/skill`: a whole lifecycle driven by knarr-style actions, answering as the
//! REST endpoints do.

use crate::common::TestServer;
use marketplace_core::Policy;
use serde_json::{Value, json};

async fn skill(server: &TestServer, key: Option<&str>, body: Value) -> (u16, Value) {
    server.json("POST", "/api/v1/skill", key, Some(body)).await
}

#[tokio::test]
async fn a_lifecycle_through_skill_actions() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;

    let (status, task) = skill(
        &server,
        Some(&poster),
        json!({"action": "post_task", "text": "Via skill", "bounty": 10, "require_review": true}),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_str().unwrap();
    // As the seed writes its skill call.
    let (status, feed) = skill(
        &server,
        None,
        json!({"action": "feed", "type": "task", "limit": 10}),
    )
    .await;
    assert_eq!(status, 200, "{feed}");
    assert_eq!(feed[0]["id"], id);
    let (_, found) = skill(&server, None, json!({"action": "search", "q": "skill"})).await;
    assert_eq!(found[0]["id"], id);

    let (status, claimed) = skill(
        &server,
        Some(&worker),
        json!({"action": "claim", "task_id": id, "text": "On it"}),
    )
    .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["claimed_by"], worker_id.as_str());
    let (status, delivered) = skill(&server, Some(&worker), json!({"action": "deliver", "task_id": id, "text": "done", "meta": {"output": {"ok": true}}})).await;
    assert_eq!(status, 200, "{delivered}");
    assert_eq!(delivered["status"], "delivered");
    let (status, accepted) = skill(
        &server,
        Some(&poster),
        json!({"action": "accept", "task_id": id, "rating": 5}),
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "completed");
    let (status, balance) = skill(&server, Some(&worker), json!({"action": "balance"})).await;
    assert_eq!(status, 200);
    assert_eq!(balance["balance"], json!(8.8), "10 less the 12% fee");
    let (_, rest) = server
        .json("GET", "/api/v1/balance", Some(&worker), None)
        .await;
    assert_eq!(balance, rest, "the same answer as the REST endpoint");
}

#[tokio::test]
async fn skill_refusals() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    for (key, body, status) in [
        (Some(poster.as_str()), json!({"action": "teleport"}), 400),
        (Some(poster.as_str()), json!({"text": "no action"}), 400),
        (Some(poster.as_str()), json!({"action": "claim"}), 400),
        (
            Some(poster.as_str()),
            json!({"action": "claim", "task_id": 7}),
            400,
        ),
        (
            Some(poster.as_str()),
            json!({"action": "claim", "task_id": "nope"}),
            404,
        ),
        // A field the REST endpoint refuses is refused before the task is looked up.
        (
            Some(poster.as_str()),
            json!({"action": "claim", "task_id": "nope", "bonus": 5}),
            400,
        ),
        (
            Some(poster.as_str()),
            json!({"action": "award", "task_id": "nope"}),
            400,
        ),
        (None, json!({"action": "claim"}), 401),
        (
            None,
            json!({"action": "post_task", "text": "t", "bounty": 1}),
            401,
        ),
        (
            Some(poster.as_str()),
            json!({"action": "post_task", "text": "t", "bounty": 1, "bonus": 5}),
            400,
        ),
        (
            Some(poster.as_str()),
            json!({"action": "post_task", "text": "t", "bounty": 51}),
            402,
        ),
    ] {
        let (got, reply) = skill(&server, key, body.clone()).await;
        assert_eq!(got, status, "{body}: {reply}");
        assert!(reply["error"]["code"].is_string(), "{reply}");
    }
    let (_, listed) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(listed, json!([]), "nothing refused was posted");
    // A missing or malformed id is named as the REST endpoints name a bad field.
    for (body, message) in [
        (
            json!({"action": "claim"}),
            "invalid task_id: is required for this action",
        ),
        (
            json!({"action": "claim", "task_id": 7}),
            "invalid task_id: must be a string",
        ),
        (
            json!({"action": "award", "task_id": "nope"}),
            "invalid bid_id: is required for this action",
        ),
    ] {
        let (_, reply) = skill(&server, Some(&poster), body.clone()).await;
        assert_eq!(reply["error"]["code"], "invalid_input", "{body}");
        assert_eq!(reply["error"]["message"], message, "{body}");
    }
}

/// The actions the endpoint takes, the ones its schema shows and the ones a refusal names
/// are the same list; an action without parameters ignores any it is given.
#[tokio::test]
async fn skill_actions_schema_and_refusal_agree() {
    let server = TestServer::start(Policy::agora()).await;
    let actions = http_adapter::agora::skill::actions();
    assert_eq!(actions.len(), 24, "{actions:?}");
    let (_, document) = server.json("GET", "/api/v1/openapi.json", None, None).await;
    let variants = document["components"]["schemas"]["SkillCall"]["oneOf"]
        .as_array()
        .expect("one schema per action")
        .iter()
        .map(|variant| {
            let own = variant["allOf"].get(1).unwrap_or(variant);
            own["properties"]["action"]["enum"][0]
                .as_str()
                .expect("the action's name")
                .to_owned()
        })
        .collect::<Vec<_>>();
    assert_eq!(variants, actions);
    let (status, refused) = skill(&server, None, json!({"action": "teleport"})).await;
    assert_eq!(status, 400);
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.ends_with(&actions.join(", ")), "{message}");
    let (status, signals) = skill(&server, None, json!({"action": "signals", "x": 1})).await;
    assert_eq!(status, 200, "{signals}");
}

/// The served schema of the skill call admits what the endpoint takes and refuses what it
/// refuses, read by a JSON Schema validator (each form one object, its tag among its fields).
#[tokio::test]
async fn the_skill_schema_validates_calls_as_the_endpoint_takes_them() {
    let server = TestServer::start(Policy::agora()).await;
    let (_, mut document) = server.json("GET", "/api/v1/openapi.json", None, None).await;
    document["$ref"] = json!("#/components/schemas/SkillCall");
    let validator = jsonschema::validator_for(&document).expect("the document is a schema");
    for call in [
        json!({"action": "claim", "task_id": "t"}),
        json!({"action": "claim", "task_id": "t", "text": "on it"}),
        json!({"action": "post_task", "text": "a task", "bounty": 5}),
        json!({"action": "reject", "task_id": "t", "category": "quality", "text": "no"}),
        json!({"action": "award", "task_id": "t", "bid_id": "b"}),
        json!({"action": "signals"}),
        json!({"action": "feed", "limit": 5}),
        json!({"action": "balance"}),
    ] {
        let errors: Vec<String> = validator
            .iter_errors(&call)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{call} refused by the schema: {errors:?}"
        );
    }
    for call in [
        json!({"action": "teleport"}),
        json!({"text": "no action"}),
        json!({"action": "claim"}),
        json!({"action": "claim", "task_id": 7}),
        json!({"action": "claim", "task_id": "t", "bonus": 5}),
        json!({"action": "post_task", "text": "t", "bounty": 1, "bonus": 5}),
        json!({"action": "award", "task_id": "t"}),
    ] {
        assert!(!validator.is_valid(&call), "{call} admitted by the schema");
    }
}
