//! The Agora quick start over a real socket, step by step as the seed document writes it:
//! register, post, claim, deliver, accept, balance — money checked at every step; then the
//! refusals a client meets on the way, each leaving everything as it was.

use crate::common::TestServer;
use marketplace_core::Policy;
use marketplace_core::store::Backend;
use serde_json::{Value, json};

async fn balance<S: Backend + Clone>(server: &TestServer<S>, key: &str) -> Value {
    let (status, body) = server.json("GET", "/api/v1/balance", Some(key), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn quick_start_post_claim_deliver_accept_pays_minus_the_fee() {
    quick_start_post_claim_deliver_accept_pays_minus_the_fee_on(
        TestServer::start(Policy::agora()).await,
    )
    .await;
}

#[tokio::test]
async fn quick_start_post_claim_deliver_accept_pays_minus_the_fee_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        quick_start_post_claim_deliver_accept_pays_minus_the_fee_on(server).await;
    }
}

async fn quick_start_post_claim_deliver_accept_pays_minus_the_fee_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let poster = server.register("poster").await;
    let worker = server.register("my-agent").await;
    let fresh = balance(&server, &poster).await;
    assert_eq!(fresh["balance"], json!(0));
    assert_eq!(fresh["credit_limit"], json!(50), "Agora's starting credit");
    assert_eq!(fresh["available"], json!(50));

    let (status, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "Analyse this dataset", "bounty": 20, "skill": "research", "require_review": true, "delivery": "private"})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(task["status"], "open");
    assert_eq!(task["bounty"], json!(20));
    let id = task["id"].as_str().unwrap().to_owned();
    let after_post = balance(&server, &poster).await;
    assert_eq!(after_post["escrowed"], json!(20));
    assert_eq!(after_post["available"], json!(30));

    let (status, listed) = server
        .json("GET", &format!("/api/v1/tasks/{id}/status"), None, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        listed,
        json!({"id": id, "status": "open", "claimed_by": null, "bounty": 20})
    );

    // As the seed writes it: a claim with a note.
    let (status, claimed) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/claim"),
            Some(&worker),
            Some(json!({"text": "On it"})),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["status"], "claimed");
    let worker_hash = claimed["claimed_by"].as_str().unwrap().to_owned();

    let (status, delivered) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/deliver"),
            Some(&worker),
            Some(json!({"text": "Here is the analysis...", "meta": {"output": "https://example.com/report"}})),
        )
        .await;
    assert_eq!(status, 200, "{delivered}");
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["delivered_by"], worker_hash.as_str());

    // The delivery is private: others see that it exists, not what it says.
    let (_, public) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), None, None)
        .await;
    assert!(public["result"].is_null(), "{public}");
    assert_eq!(public["delivered_by"], worker_hash.as_str());
    let (_, own) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), Some(&poster), None)
        .await;
    assert_eq!(own["result"]["text"], "Here is the analysis...");

    let (status, accepted) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/accept"),
            Some(&poster),
            None,
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "completed");

    let paid = balance(&server, &worker).await;
    assert_eq!(paid["balance"], json!(17.6), "20 minus Agora's 12% fee");
    assert_eq!(paid["total_earned"], json!(17.6));
    let spent = balance(&server, &poster).await;
    assert_eq!(spent["balance"], json!(-20));
    assert_eq!(spent["escrowed"], json!(0));
}

#[tokio::test]
async fn refusals_have_their_status_and_change_nothing() {
    refusals_have_their_status_and_change_nothing_on(TestServer::start(Policy::agora()).await)
        .await;
}

#[tokio::test]
async fn refusals_have_their_status_and_change_nothing_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        refusals_have_their_status_and_change_nothing_on(server).await;
    }
}

async fn refusals_have_their_status_and_change_nothing_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let poster = server.register("poster").await;
    let worker = server.register("worker").await;
    let rival = server.register("rival").await;
    let post = |body: Value| {
        let server = &server;
        let poster = poster.clone();
        async move {
            server
                .json("POST", "/api/v1/tasks", Some(&poster), Some(body))
                .await
        }
    };
    for (body, status, code) in [
        (json!({"text": "t", "bounty": -5}), 400, "invalid_input"),
        (
            json!({"text": "t", "bounty": 1.0000001}),
            400,
            "invalid_input",
        ),
        (json!({"text": "t", "bounty": "ten"}), 400, "invalid_input"),
        (
            json!({"text": "t", "bounty": 5, "bountty": 500}),
            400,
            "invalid_input",
        ),
        (
            json!({"text": "t", "bounty": 51}),
            402,
            "insufficient_funds",
        ),
        (json!({"bounty": 5}), 400, "invalid_input"),
    ] {
        let (got, answer) = post(body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    let untouched = balance(&server, &poster).await;
    assert_eq!(
        (
            untouched["available"].clone(),
            untouched["escrowed"].clone()
        ),
        (json!(50), json!(0))
    );

    let (_, task) = post(json!({"text": "contested", "bounty": "12.5"})).await;
    assert_eq!(task["bounty"], json!(12.5));
    let id = task["id"].as_str().unwrap().to_owned();
    let claim = format!("/api/v1/tasks/{id}/claim");
    let (status, answer) = server.json("POST", &claim, Some(&poster), None).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (403, Some("own_task"))
    );
    assert_eq!(
        server.json("POST", &claim, Some(&worker), None).await.0,
        200
    );
    let (status, answer) = server.json("POST", &claim, Some(&rival), None).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("already_claimed"))
    );
    let (status, _) = server.json("POST", &claim, None, None).await;
    assert_eq!(status, 401);

    let deliver = format!("/api/v1/tasks/{id}/deliver");
    let (status, answer) = server
        .json(
            "POST",
            &deliver,
            Some(&rival),
            Some(json!({"text": "mine"})),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (403, Some("not_claimant"))
    );
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/tasks/not-a-task/claim",
            Some(&worker),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, answer) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/accept"),
            Some(&poster),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("wrong_state")),
        "{answer}"
    );

    let (_, state) = server
        .json("GET", &format!("/api/v1/tasks/{id}/status"), None, None)
        .await;
    assert_eq!(state["status"], "claimed");
    let (_, held) = server
        .json("GET", "/api/v1/balance", Some(&poster), None)
        .await;
    assert_eq!(held["escrowed"], json!(12.5));
}

#[tokio::test]
async fn queue_reject_cancel_result_and_listing() {
    queue_reject_cancel_result_and_listing_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn queue_reject_cancel_result_and_listing_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        queue_reject_cancel_result_and_listing_on(server).await;
    }
}

async fn queue_reject_cancel_result_and_listing_on<S: Backend + Clone>(server: TestServer<S>) {
    let poster = server.register("poster").await;
    let first = server.register("first").await;
    let second = server.register("second").await;
    let (_, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "write a haiku", "bounty": 5, "skill": "poetry", "require_review": true})),
        )
        .await;
    let id = task["id"].as_str().unwrap().to_owned();
    let at = |action: &str| format!("/api/v1/tasks/{id}/{action}");
    assert_eq!(
        server
            .json("POST", &at("claim"), Some(&first), None)
            .await
            .0,
        200
    );
    let (status, queued) = server.json("POST", &at("queue"), Some(&second), None).await;
    assert_eq!(
        (status, queued["queue_length"].as_u64()),
        (200, Some(1)),
        "{queued}"
    );
    let (status, left) = server
        .json("DELETE", &at("queue"), Some(&second), None)
        .await;
    assert_eq!((status, left["queue_length"].as_u64()), (200, Some(0)));
    assert_eq!(
        server
            .json("POST", &at("queue"), Some(&second), None)
            .await
            .0,
        200
    );

    server
        .json(
            "POST",
            &at("deliver"),
            Some(&first),
            Some(json!({"text": "old pond"})),
        )
        .await;
    // The result: the poster and the deliverer only.
    let (status, result) = server.json("GET", &at("result"), Some(&poster), None).await;
    assert_eq!(
        (status, result["text"].as_str()),
        (200, Some("old pond")),
        "{result}"
    );
    assert_eq!(
        server
            .json("GET", &at("result"), Some(&first), None)
            .await
            .0,
        200
    );
    assert_eq!(
        server
            .json("GET", &at("result"), Some(&second), None)
            .await
            .0,
        403
    );
    assert_eq!(server.json("GET", &at("result"), None, None).await.0, 401);

    // Rejected: the queued agent takes over.
    let (status, rejected) = server
        .json(
            "POST",
            &at("reject"),
            Some(&poster),
            Some(json!({"text": "no frog", "category": "incomplete"})),
        )
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "claimed");
    assert_eq!(rejected["rejection_count"], 1);
    let (status, answer) = server
        .json(
            "POST",
            &at("reject"),
            Some(&poster),
            Some(json!({"text": "x", "category": "rude"})),
        )
        .await;
    assert_eq!(status, 400, "unknown category: {answer}");

    // Cancelled while claimed: the bounty comes back.
    let (status, cancelled) = server
        .json("POST", &at("cancel"), Some(&poster), None)
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled"))
    );
    let (_, money) = server
        .json("GET", "/api/v1/balance", Some(&poster), None)
        .await;
    assert_eq!(
        (money["escrowed"].clone(), money["available"].clone()),
        (json!(0), json!(50))
    );
    assert_eq!(
        server
            .json("POST", &at("cancel"), Some(&poster), None)
            .await
            .0,
        409
    );

    // Listing: newest first, filtered, paged with `before`.
    for i in 0..3 {
        server
            .json(
                "POST",
                "/api/v1/tasks",
                Some(&poster),
                Some(json!({"text": format!("open {i}"), "bounty": 1})),
            )
            .await;
    }
    let (status, open) = server
        .json("GET", "/api/v1/tasks?status=open&limit=2", None, None)
        .await;
    assert_eq!(status, 200);
    let open = open.as_array().unwrap().clone();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0]["text"], "open 2");
    let cursor = open[1]["id"].as_str().unwrap();
    let (_, rest) = server
        .json(
            "GET",
            &format!("/api/v1/tasks?status=open&before={cursor}"),
            None,
            None,
        )
        .await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_eq!(rest[0]["text"], "open 0");
    let (_, poetry) = server
        .json("GET", "/api/v1/tasks?skill=poetry", None, None)
        .await;
    assert_eq!(poetry.as_array().unwrap().len(), 1);
    let (status, answer) = server
        .json("GET", "/api/v1/tasks?status=sleeping", None, None)
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
}

#[tokio::test]
async fn rejection_feedback_is_kept_for_the_poster_and_the_rejected_agent() {
    rejection_feedback_is_kept_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn rejection_feedback_is_kept_for_the_poster_and_the_rejected_agent_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        rejection_feedback_is_kept_on(server).await;
    }
}

async fn rejection_feedback_is_kept_on<S: Backend + Clone>(server: TestServer<S>) {
    let (poster, _) = server.agent("poster").await;
    let (first, first_id) = server.agent("first").await;
    let (second, second_id) = server.agent("second").await;
    let (outsider, _) = server.agent("outsider").await;
    let (_, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "Cite your sources", "bounty": 5, "require_review": true})),
        )
        .await;
    let id = task["id"].as_str().unwrap().to_owned();
    let act = |key: String, verb: &'static str, body: Value| {
        let (server, id) = (&server, id.clone());
        async move {
            let path = format!("/api/v1/tasks/{id}/{verb}");
            let (status, reply) = server.json("POST", &path, Some(&key), Some(body)).await;
            assert!(status == 200 || status == 201, "{verb}: {status} {reply}");
            reply
        }
    };
    act(first.clone(), "claim", json!({})).await;
    act(second.clone(), "queue", json!({})).await;
    act(first.clone(), "deliver", json!({"text": "a guess"})).await;
    let rejected = act(
        poster.clone(),
        "reject",
        json!({"text": "No sources at all", "category": "incomplete"}),
    )
    .await;
    assert_eq!(rejected["rejections"][0]["text"], "No sources at all");
    act(second.clone(), "deliver", json!({"text": "another guess"})).await;
    act(
        poster.clone(),
        "reject",
        json!({"text": "Wrong format", "category": "format"}),
    )
    .await;

    let seen_by = |key: Option<String>| {
        let (server, id) = (&server, id.clone());
        async move {
            let (status, task) = server
                .json("GET", &format!("/api/v1/tasks/{id}"), key.as_deref(), None)
                .await;
            assert_eq!(status, 200, "{task}");
            assert_eq!(task["rejection_count"], 2, "the count is public");
            task["rejections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    assert!(r["rejected_at"].is_string(), "{r}");
                    (
                        r["agent"].as_str().unwrap().to_owned(),
                        r["text"].as_str().unwrap().to_owned(),
                        r["category"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let first_rejection = (
        first_id.clone(),
        "No sources at all".to_owned(),
        "incomplete".to_owned(),
    );
    let second_rejection = (
        second_id.clone(),
        "Wrong format".to_owned(),
        "format".to_owned(),
    );
    assert_eq!(
        seen_by(Some(poster.clone())).await,
        vec![first_rejection.clone(), second_rejection.clone()]
    );
    assert_eq!(seen_by(Some(first.clone())).await, vec![first_rejection]);
    assert_eq!(seen_by(Some(second.clone())).await, vec![second_rejection]);
    assert_eq!(seen_by(Some(outsider.clone())).await, vec![]);
    assert_eq!(seen_by(None).await, vec![]);
    let (_, listed) = server
        .json("GET", "/api/v1/tasks", Some(&outsider), None)
        .await;
    assert_eq!(listed[0]["rejections"], json!([]), "nor in lists");
}
