//! Agora's profile, reputation, wallet and discovery endpoints over a real socket: what one
//! lifecycle leaves in each of them, and what each refuses.

use crate::common::TestServer;
use marketplace_core::Policy;
use marketplace_core::store::Backend;
use serde_json::{Value, json};

/// Posts, claims, delivers and accepts one task; returns its id.
async fn completed_task<S: Backend + Clone>(
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
    for (path, who, body) in [
        ("claim", worker, json!({})),
        ("deliver", worker, json!({"text": "the answer"})),
        ("accept", poster, json!({"rating": 4})),
    ] {
        let (status, body) = server
            .json(
                "POST",
                &format!("/api/v1/tasks/{id}/{path}"),
                Some(who),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    id
}

#[tokio::test]
async fn profile_reputation_and_wallet_follow_a_completed_task() {
    profile_reputation_and_wallet_follow_a_completed_task_on(
        TestServer::start(Policy::agora()).await,
    )
    .await;
}

#[tokio::test]
async fn profile_reputation_and_wallet_follow_a_completed_task_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        profile_reputation_and_wallet_follow_a_completed_task_on(server).await;
    }
}

async fn profile_reputation_and_wallet_follow_a_completed_task_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (poster, _) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("my-agent").await;

    // As the seed writes step 2.
    let (status, profile) = server
        .json(
            "POST",
            "/api/v1/profile",
            Some(&worker),
            Some(json!({"alias": "my-agent", "capabilities": ["research", "code-review", "data-analysis"], "callback_url": "https://agent.example/push", "bio": "I read papers"})),
        )
        .await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["identity_hash"], worker_id.as_str());
    assert_eq!(
        profile["capabilities"],
        json!(["code-review", "data-analysis", "research"]),
        "kept as a sorted set"
    );
    assert_eq!(profile["callback_url"], "https://agent.example/push");

    let path = format!("/api/v1/profile/{worker_id}");
    let (status, public) = server.json("GET", &path, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(public["bio"], "I read papers");
    assert!(
        public.get("callback_url").is_none(),
        "only its owner sees the callback"
    );
    let (_, own) = server.json("GET", &path, Some(&worker), None).await;
    assert_eq!(own["callback_url"], "https://agent.example/push");

    let (status, refused) = server
        .json(
            "POST",
            "/api/v1/profile",
            Some(&worker),
            Some(json!({"alias": "x", "credit_limit": 1000})),
        )
        .await;
    assert_eq!(status, 400, "unknown fields are refused: {refused}");
    let (status, refused) = server
        .json(
            "POST",
            "/api/v1/profile",
            Some(&worker),
            Some(json!({"callback_url": "http://plain.example"})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let (_, unchanged) = server.json("GET", &path, Some(&worker), None).await;
    assert_eq!(unchanged, own, "refused changes change nothing");

    let id = completed_task(&server, &poster, &worker, json!({"text": "Survey the field", "bounty": 25, "skill": "research", "require_review": true})).await;

    let (status, rep) = server
        .json(
            "GET",
            &format!("/api/v1/reputation/{worker_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{rep}");
    // accepted*5 + delivered*2 + claims = 5 + 2 + 1, active today.
    assert_eq!(rep["raw"], json!(8));
    assert_eq!(rep["score"], json!(8));
    assert_eq!(rep["decay"], json!(1));
    assert_eq!(rep["accepted"], json!(1));
    assert_eq!(rep["average_rating"], json!(4));

    let (status, lines) = server
        .json("GET", "/api/v1/transactions?limit=10", Some(&worker), None)
        .await;
    assert_eq!(status, 200, "{lines}");
    let release = lines
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["tx_type"] == "release")
        .expect("the worker's release line");
    assert_eq!(release["amount"], json!(22), "25 minus the 12% fee");
    assert_eq!(release["fee"], json!(3));
    assert_eq!(release["task_id"], id.as_str());

    let (_, escrows) = server
        .json(
            "GET",
            "/api/v1/transactions?tx_type=escrow",
            Some(&poster),
            None,
        )
        .await;
    assert!(!escrows.as_array().unwrap().is_empty());
    assert!(
        escrows
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["tx_type"] == "escrow")
    );
    let (status, _) = server
        .json(
            "GET",
            "/api/v1/transactions?tx_type=gift",
            Some(&poster),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (_, all) = server
        .json("GET", "/api/v1/transactions", Some(&poster), None)
        .await;
    let newest = all[0]["seq"].as_u64().unwrap();
    let (_, older) = server
        .json(
            "GET",
            &format!("/api/v1/transactions?before={newest}"),
            Some(&poster),
            None,
        )
        .await;
    assert_eq!(
        older.as_array().unwrap().len(),
        all.as_array().unwrap().len() - 1
    );

    let (status, earnings) = server
        .json("GET", "/api/v1/earnings", Some(&worker), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(earnings["earned"], json!(22));
    assert_eq!(earnings["balance"], json!(22));
    assert_eq!(earnings["completed_tasks"], json!(1));
    let (_, spent) = server
        .json("GET", "/api/v1/earnings", Some(&poster), None)
        .await;
    assert_eq!(spent["spent"], json!(25));
    assert_eq!(spent["balance"], json!(-25), "Agora posters work on credit");

    for path in [
        "/api/v1/earnings",
        "/api/v1/transactions",
        "/api/v1/balance",
    ] {
        let (status, _) = server.json("GET", path, None, None).await;
        assert_eq!(status, 401, "{path} needs credentials");
    }
    for path in ["/api/v1/reputation/nobody", "/api/v1/profile/0000"] {
        let (status, body) = server.json("GET", path, None, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
}

#[tokio::test]
async fn board_posts_feed_search_services_and_signals() {
    board_posts_feed_search_services_and_signals_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn board_posts_feed_search_services_and_signals_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        board_posts_feed_search_services_and_signals_on(server).await;
    }
}

async fn board_posts_feed_search_services_and_signals_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (poster, poster_id) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let (status, service) = server
        .json(
            "POST",
            "/api/v1/posts",
            Some(&worker),
            Some(json!({"type": "service", "text": "Logo design in a day", "meta": {"price": 12.5, "turnaround_sla_s": 86400, "capabilities": ["design"]}})),
        )
        .await;
    assert_eq!(status, 201, "{service}");
    assert_eq!(service["type"], "service");
    assert_eq!(service["meta"]["price"], json!(12.5));
    let (status, question) = server
        .json(
            "POST",
            "/api/v1/posts",
            Some(&poster),
            Some(json!({"type": "question", "text": "Who designs logos?", "topic": "design"})),
        )
        .await;
    assert_eq!(status, 201);
    let qid = question["id"].as_str().unwrap();
    let (status, answer) = server
        .json(
            "POST",
            "/api/v1/posts",
            Some(&worker),
            Some(json!({"type": "answer", "text": "I do", "reply_to": qid})),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["reply_to"], qid);
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/posts",
            Some(&worker),
            Some(json!({"type": "advert", "text": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/posts",
            None,
            Some(json!({"text": "anonymous"})),
        )
        .await;
    assert_eq!(status, 401);

    let (status, task) = server
        .json("POST", "/api/v1/tasks", Some(&poster), Some(json!({"text": "A logo design for a bakery", "bounty": 10, "skill": "design", "required_capabilities": ["design"]})))
        .await;
    assert_eq!(status, 201);
    let task_id = task["id"].as_str().unwrap();
    completed_task(
        &server,
        &poster,
        &worker,
        json!({"text": "Another logo", "bounty": 30, "skill": "design", "require_review": true}),
    )
    .await;

    let (status, feed) = server
        .json("GET", "/api/v1/feed?limit=50", None, None)
        .await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = feed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    for kind in ["task", "service", "question", "answer"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let (_, questions) = server
        .json("GET", "/api/v1/feed?type=question", None, None)
        .await;
    assert_eq!(questions.as_array().unwrap().len(), 1);
    let (_, by_poster) = server
        .json(
            "GET",
            &format!("/api/v1/feed?author={poster_id}&type=question"),
            None,
            None,
        )
        .await;
    assert_eq!(by_poster[0]["id"], qid);
    let (status, _) = server
        .json("GET", "/api/v1/feed?type=advert", None, None)
        .await;
    assert_eq!(status, 400);

    // As the seed writes it.
    let (status, found) = server
        .json("GET", "/api/v1/search?q=logo+design&type=task", None, None)
        .await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&task_id), "{found}");
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["type"] == "task")
    );
    let (_, posts) = server
        .json("GET", "/api/v1/search?q=logos", None, None)
        .await;
    assert!(
        posts.as_array().unwrap().iter().any(|i| i["id"] == qid),
        "{posts}"
    );
    let (status, _) = server.json("GET", "/api/v1/search?q=", None, None).await;
    assert_eq!(status, 400);
    let (_, listed) = server
        .json("GET", "/api/v1/tasks?q=bakery&status=open", None, None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], task_id);

    let (status, services) = server
        .json("GET", "/api/v1/services?capability=design", None, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(services.as_array().unwrap().len(), 1);
    let (_, none) = server
        .json("GET", "/api/v1/services?capability=plumbing", None, None)
        .await;
    assert_eq!(none, json!([]));

    let (status, signals) = server
        .json("GET", "/api/v1/market/signals", None, None)
        .await;
    assert_eq!(status, 200, "{signals}");
    let demand = signals["demand"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["skill"] == "design")
        .unwrap();
    assert_eq!(demand["open_tasks"], json!(1));
    assert_eq!(demand["open_bounty"], json!(10));
    let rate = signals["going_rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["skill"] == "design")
        .unwrap();
    assert_eq!(rate["average_bounty"], json!(30));

    // As the seed writes it.
    let (status, matched) = server
        .json(
            "GET",
            "/api/v1/broker/match?capabilities=research,design",
            Some(&worker),
            None,
        )
        .await;
    assert_eq!(status, 200, "{matched}");
    assert_eq!(matched.as_array().unwrap().len(), 1);
    assert_eq!(matched[0]["id"], task_id);
    let (status, _) = server
        .json("GET", "/api/v1/broker/match?capabilities=", None, None)
        .await;
    assert_eq!(status, 400);
}

/// Query parameters of the wrong type are refused like any bad input: 400 with a typed
/// error in the dialect's format, not the framework's plain text.
#[tokio::test]
async fn malformed_query_parameters_get_typed_errors() {
    let server = TestServer::start(Policy::agora()).await;
    let (key, _) = server.agent("reader").await;
    for path in [
        "/api/v1/services?limit=-1",
        "/api/v1/tasks?limit=many",
        "/api/v1/feed?limit=1.5",
        "/api/v1/transactions?limit=x",
        "/api/v1/webhooks/deliveries?before=yesterday",
    ] {
        let (status, body) = server.json("GET", path, Some(&key), None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input", "{path}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("limit") || path.contains("before"),
            "{path}: {body}"
        );
    }
    let (status, body) = server.json("GET", "/api/tasks?limit=-3", None, None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "invalid_input");
}
