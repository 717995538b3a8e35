//! The rest of Agora's task mechanics over a real socket: the broker's auto-claim rules,
//! standing contracts, bidding and awards, claim extension, task messages and chaining —
//! each with its money read back.

use crate::common::TestServer;
use marketplace_core::Policy;
use marketplace_core::store::Backend;
use serde_json::{Value, json};

async fn post<S: Backend + Clone>(server: &TestServer<S>, key: &str, body: Value) -> Value {
    let (status, task) = server
        .json("POST", "/api/v1/tasks", Some(key), Some(body))
        .await;
    assert_eq!(status, 201, "{task}");
    task
}

async fn act<S: Backend + Clone>(
    server: &TestServer<S>,
    key: &str,
    id: &str,
    verb: &str,
    body: Value,
) -> (u16, Value) {
    server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/{verb}"),
            Some(key),
            Some(body),
        )
        .await
}

async fn available<S: Backend + Clone>(server: &TestServer<S>, key: &str) -> Value {
    let (_, balance) = server.json("GET", "/api/v1/balance", Some(key), None).await;
    balance["available"].clone()
}

#[tokio::test]
async fn auto_claim_rules_claim_matching_tasks_for_their_owner() {
    auto_claim_rules_claim_matching_tasks_for_their_owner_on(
        TestServer::start(Policy::agora()).await,
    )
    .await;
}

#[tokio::test]
async fn auto_claim_rules_claim_matching_tasks_for_their_owner_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        auto_claim_rules_claim_matching_tasks_for_their_owner_on(server).await;
    }
}

async fn auto_claim_rules_claim_matching_tasks_for_their_owner_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (poster, _) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    // As the seed writes step 3.
    let (status, rule) = server
        .json(
            "POST",
            "/api/v1/broker/auto-claim",
            Some(&worker),
            Some(json!({"capabilities": ["research"], "min_bounty": 5, "max_concurrent": 3})),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    let rule_id = rule["rule_id"].as_str().unwrap().to_owned();
    let (_, rules) = server
        .json("GET", "/api/v1/broker/auto-claim", Some(&worker), None)
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["max_concurrent"], json!(3));

    let cheap = post(
        &server,
        &poster,
        json!({"text": "cheap", "bounty": 2, "required_capabilities": ["research"]}),
    )
    .await;
    assert_eq!(cheap["status"], "open", "below the rule's min_bounty");
    let matched = post(
        &server,
        &poster,
        json!({"text": "paid", "bounty": 8, "required_capabilities": ["research"]}),
    )
    .await;
    assert_eq!(matched["status"], "claimed", "{matched}");
    assert_eq!(matched["claimed_by"], worker_id.as_str());

    let (status, _) = server
        .json(
            "POST",
            "/api/v1/broker/auto-claim",
            Some(&worker),
            Some(json!({"capabilities": [], "min_bounty": 5})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/broker/auto-claim",
            Some(&worker),
            Some(json!({"capabilities": ["x"], "min_bounty": -1})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .json(
            "DELETE",
            &format!("/api/v1/broker/auto-claim?rule_id={rule_id}"),
            Some(&poster),
            None,
        )
        .await;
    assert_eq!(status, 404, "only the owner removes its rule");
    let (status, _) = server
        .json(
            "DELETE",
            "/api/v1/broker/auto-claim",
            Some(&worker),
            Some(json!({"rule_id": rule_id})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, rules) = server
        .json("GET", "/api/v1/broker/auto-claim", Some(&worker), None)
        .await;
    assert_eq!(rules, json!([]));
    let after = post(
        &server,
        &poster,
        json!({"text": "later", "bounty": 8, "required_capabilities": ["research"]}),
    )
    .await;
    assert_eq!(after["status"], "open", "the rule is gone");
}

#[tokio::test]
async fn contracts_route_tasks_to_their_agent_at_the_agreed_price() {
    contracts_route_tasks_to_their_agent_at_the_agreed_price_on(
        TestServer::start(Policy::agora()).await,
    )
    .await;
}

#[tokio::test]
async fn contracts_route_tasks_to_their_agent_at_the_agreed_price_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        contracts_route_tasks_to_their_agent_at_the_agreed_price_on(server).await;
    }
}

async fn contracts_route_tasks_to_their_agent_at_the_agreed_price_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (poster, poster_id) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    let (other, _) = server.agent("other").await;
    let (status, contract) = server
        .json(
            "POST",
            "/api/v1/contracts",
            Some(&poster),
            Some(json!({"agent": worker_id, "capabilities": ["translation"], "price_per_task": 6, "max_tasks": 2})),
        )
        .await;
    assert_eq!(status, 201, "{contract}");
    assert_eq!(contract["status"], "proposed");
    assert_eq!(contract["poster"], poster_id.as_str());
    let id = contract["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/contracts/{id}");
    let (status, _) = server
        .json(
            "POST",
            &path,
            Some(&other),
            Some(json!({"action": "accept"})),
        )
        .await;
    assert_eq!(status, 404, "outsiders do not see the contract");
    let (status, _) = server
        .json(
            "POST",
            &path,
            Some(&poster),
            Some(json!({"action": "accept"})),
        )
        .await;
    assert_eq!(status, 403, "only its agent accepts");
    let (status, _) = server
        .json(
            "POST",
            &path,
            Some(&worker),
            Some(json!({"action": "sign"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, active) = server
        .json(
            "POST",
            &path,
            Some(&worker),
            Some(json!({"action": "accept"})),
        )
        .await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["status"], "active");

    let task = post(
        &server,
        &poster,
        json!({"text": "Translate this", "contract": id}),
    )
    .await;
    assert_eq!(task["claimed_by"], worker_id.as_str(), "{task}");
    assert_eq!(task["bounty"], json!(6), "the agreed price");
    assert_eq!(available(&server, &poster).await, json!(44));

    let (_, listed) = server
        .json("GET", "/api/v1/contracts", Some(&worker), None)
        .await;
    assert_eq!(listed[0]["tasks_used"], json!(1));
    let (_, none) = server
        .json("GET", "/api/v1/contracts", Some(&other), None)
        .await;
    assert_eq!(none, json!([]));
    let (status, cancelled) = server
        .json(
            "POST",
            &path,
            Some(&poster),
            Some(json!({"action": "cancel"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "more", "contract": id})),
        )
        .await;
    assert_eq!(status, 409, "no tasks under a cancelled contract");
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/contracts/not-a-uuid",
            Some(&poster),
            Some(json!({"action": "cancel"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bids_awards_extensions_messages_and_chains() {
    bids_awards_extensions_messages_and_chains_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn bids_awards_extensions_messages_and_chains_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        bids_awards_extensions_messages_and_chains_on(server).await;
    }
}

async fn bids_awards_extensions_messages_and_chains_on<S: Backend + Clone>(server: TestServer<S>) {
    let (poster, _) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    let (rival, _) = server.agent("rival").await;

    let task = post(
        &server,
        &poster,
        json!({"text": "Design a poster", "bounty": 10, "bidding": true}),
    )
    .await;
    let id = task["id"].as_str().unwrap().to_owned();
    let (status, _) = act(&server, &worker, &id, "claim", json!({})).await;
    assert_eq!(status, 409, "bidding tasks are awarded, not claimed");
    let (status, bid) = act(
        &server,
        &worker,
        &id,
        "bid",
        json!({"text": "I can", "offered_price": 14, "turnaround_s": 3600}),
    )
    .await;
    assert_eq!(status, 201, "{bid}");
    assert_eq!(bid["offered_price"], json!(14));
    let (status, _) = act(
        &server,
        &rival,
        &id,
        "bid",
        json!({"text": "cheaper", "offered_price": 9, "turnaround_s": 7200}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = act(
        &server,
        &poster,
        &id,
        "bid",
        json!({"offered_price": 1, "turnaround_s": 1}),
    )
    .await;
    assert_eq!(status, 403, "the poster does not bid on its own task");

    let (_, seen) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), Some(&poster), None)
        .await;
    assert_eq!(seen["bid_count"], json!(2));
    assert_eq!(
        seen["bids"].as_array().unwrap().len(),
        2,
        "the poster sees the bids"
    );
    let (_, outside) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), Some(&rival), None)
        .await;
    assert_eq!(outside["bids"], json!([]), "others see only the count");

    let bid_id = bid["id"].as_str().unwrap();
    let award = format!("bids/{bid_id}/award");
    let (status, _) = act(&server, &worker, &id, &award, json!({})).await;
    assert_eq!(status, 403, "only the poster awards");
    let (status, _) = act(
        &server,
        &poster,
        &id,
        "bids/00000000-0000-0000-0000-000000000000/award",
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, awarded) = act(&server, &poster, &id, &award, json!({})).await;
    assert_eq!(status, 200, "{awarded}");
    assert_eq!(awarded["claimed_by"], worker_id.as_str());
    assert_eq!(
        awarded["bounty"],
        json!(14),
        "the bounty becomes the offered price"
    );
    assert_eq!(
        available(&server, &poster).await,
        json!(36),
        "escrow adjusted to 14"
    );

    let before = awarded["claim_expires_at"].as_str().unwrap().to_owned();
    let (status, extended) = act(&server, &worker, &id, "extend", json!({"secs": 7200})).await;
    assert_eq!(status, 200, "{extended}");
    assert!(extended["claim_expires_at"].as_str().unwrap() > before.as_str());
    let (status, _) = act(&server, &rival, &id, "extend", json!({})).await;
    assert_eq!(status, 403, "only the claimant extends");

    let (status, note) = act(
        &server,
        &poster,
        &id,
        "message",
        json!({"text": "Use blue"}),
    )
    .await;
    assert_eq!(status, 201, "{note}");
    let (status, _) = act(&server, &rival, &id, "message", json!({"text": "me too"})).await;
    assert_eq!(status, 403, "after a claim only the parties talk");
    let (_, detail) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), Some(&worker), None)
        .await;
    assert_eq!(detail["replies"][0]["text"], "Use blue");
    let (_, outside) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), None, None)
        .await;
    assert_eq!(
        outside["replies"],
        json!([]),
        "private messages stay with the parties"
    );

    // Chaining: the follow-up is posted on completion with the result in place.
    let chained = post(&server, &poster, json!({"text": "Draft", "bounty": 4, "require_review": true, "chain_next": {"text": "Review: {{result}}", "bounty": 3}})).await;
    let cid = chained["id"].as_str().unwrap().to_owned();
    assert_eq!(chained["has_chain_next"], json!(true));
    assert_eq!(act(&server, &rival, &cid, "claim", json!({})).await.0, 200);
    assert_eq!(
        act(
            &server,
            &rival,
            &cid,
            "deliver",
            json!({"text": "first draft"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        act(&server, &poster, &cid, "accept", json!({})).await.0,
        200
    );
    let (_, open) = server
        .json("GET", "/api/v1/tasks?status=open", None, None)
        .await;
    let next = open
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["parent_id"] == cid.as_str())
        .expect("the chained task");
    assert_eq!(next["text"], "Review: first draft");
    assert_eq!(next["bounty"], json!(3));

    let (status, refused) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&poster),
            Some(json!({"text": "x", "meta": {"bounty": 1}, "bounty": 2})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let (status, via_meta) = server
        .json("POST", "/api/v1/tasks", Some(&poster), Some(json!({"text": "meta options", "meta": {"bounty": 1, "skill": "x", "min_auto_accept_accepted": 5}})))
        .await;
    assert_eq!(status, 201, "{via_meta}");
    assert_eq!(via_meta["skill"], "x");
    let (status, escalating) = server
        .json("POST", "/api/v1/tasks", Some(&poster), Some(json!({"text": "grow", "bounty": 1, "bounty_escalation": {"rate": 1, "interval_hours": 1, "cap": 5}})))
        .await;
    assert_eq!(status, 201, "{escalating}");
    assert_eq!(escalating["bounty_escalation"]["cap"], json!(5));
    let (status, _) = server
        .json("POST", "/api/v1/tasks", Some(&poster), Some(json!({"text": "grow", "bounty": 6, "bounty_escalation": {"rate": 1, "interval_hours": 1, "cap": 5}})))
        .await;
    assert_eq!(status, 400, "a cap below the bounty");
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_post_take_effect_once() {
    an_idempotency_key_makes_a_retried_post_take_effect_once_on(
        TestServer::start(Policy::agora()).await,
    )
    .await;
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_post_take_effect_once_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        an_idempotency_key_makes_a_retried_post_take_effect_once_on(server).await;
    }
}

async fn an_idempotency_key_makes_a_retried_post_take_effect_once_on<S: Backend + Clone>(
    server: TestServer<S>,
) {
    let (poster, _) = server.agent("poster").await;
    let auth = format!("Bearer {poster}");
    let body = json!({"text": "Only once", "bounty": 10}).to_string();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "post-1"),
    ];
    let (status, first) = server
        .send("POST", "/api/v1/tasks", &headers, Some(body.as_bytes()))
        .await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = server
        .send("POST", "/api/v1/tasks", &headers, Some(body.as_bytes()))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        again["id"], first["id"],
        "the stored outcome, not a second task"
    );
    assert_eq!(
        available(&server, &poster).await,
        json!(40),
        "escrowed once"
    );

    let other = json!({"text": "Something else", "bounty": 10}).to_string();
    let (status, refused) = server
        .send("POST", "/api/v1/tasks", &headers, Some(other.as_bytes()))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "idempotency_conflict");
    assert_eq!(available(&server, &poster).await, json!(40));
    let (_, listed) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let (status, _) = server
        .send(
            "POST",
            "/api/v1/tasks",
            &[
                ("Authorization", auth.as_str()),
                ("Idempotency-Key", &"k".repeat(300)),
            ],
            Some(body.as_bytes()),
        )
        .await;
    assert_eq!(status, 400, "keys are bounded");
}

#[tokio::test]
async fn racing_claims_over_http_have_one_winner() {
    racing_claims_over_http_have_one_winner_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn racing_claims_over_http_have_one_winner_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        racing_claims_over_http_have_one_winner_on(server).await;
    }
}

async fn racing_claims_over_http_have_one_winner_on<S: Backend + Clone>(server: TestServer<S>) {
    let (poster, _) = server.agent("poster").await;
    let mut agents = Vec::new();
    for i in 0..12 {
        agents.push(server.agent(&format!("racer{i}")).await);
    }
    for round in 0..3 {
        let task = post(
            &server,
            &poster,
            json!({"text": format!("race {round}"), "bounty": 2}),
        )
        .await;
        let id = task["id"].as_str().unwrap().to_owned();
        let claims = agents.iter().map(|(key, identity)| {
            let (server, id) = (&server, &id);
            async move {
                let (status, body) = act(server, key, id, "claim", json!({})).await;
                (status, body, identity.clone())
            }
        });
        let results = futures::future::join_all(claims).await;
        let winners: Vec<_> = results.iter().filter(|(s, _, _)| *s == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {:?}",
            results.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert!(
            results.iter().all(|(s, _, _)| *s == 200 || *s == 409),
            "{results:?}"
        );
        let (_, read) = server
            .json("GET", &format!("/api/v1/tasks/{id}"), None, None)
            .await;
        assert_eq!(
            read["claimed_by"],
            winners[0].2.as_str(),
            "the winner holds it"
        );
    }
    assert_eq!(
        available(&server, &poster).await,
        json!(44),
        "three bounties held, once each"
    );
}
