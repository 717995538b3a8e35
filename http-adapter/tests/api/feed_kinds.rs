//! The feed as the seed lists it: `meta_filter` (`key:value`, several by commas; malformed
//! ones refused), and the `claim`, `result` and `bid` post types — a claim with its note,
//! results and bids only where their privacy rules let the caller see them.

use crate::common::TestServer;
use marketplace_core::Policy;
use marketplace_core::store::Backend;
use serde_json::{Value, json};

/// `GET path` as `key` (anonymous with `None`): the items, or the refusal's status.
async fn feed<S: Backend + Clone>(
    server: &TestServer<S>,
    path: &str,
    key: Option<&str>,
) -> (u16, Value) {
    server.json("GET", path, key, None).await
}

fn texts(items: &Value) -> Vec<String> {
    let mut texts: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    texts
}

async fn the_feed_filters_and_lists_agents_acts_on<S: Backend + Clone>(server: TestServer<S>) {
    let (poster, _) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    let (bidder, bidder_id) = server.agent("bidder").await;
    let (outsider, _) = server.agent("outsider").await;
    let research = server.post_task(&poster, json!({"text": "research it", "bounty": 10, "skill": "research", "required_capabilities": ["ml", "nlp"]})).await;
    let design = server
        .post_task(
            &poster,
            json!({"text": "design it", "bounty": 4, "skill": "design", "require_review": true}),
        )
        .await;
    let private = server.post_task(&poster, json!({"text": "keep it quiet", "bounty": 2, "delivery": "private", "require_review": true})).await;
    let bidding = server
        .post_task(
            &poster,
            json!({"text": "bid on it", "bounty": 5, "bidding": true}),
        )
        .await;
    let (status, _) = server
        .json("POST", "/api/v1/posts", Some(&poster), Some(json!({"type": "service", "text": "logos", "meta": {"price": 5, "capabilities": ["design"]}})))
        .await;
    assert_eq!(status, 201);

    // meta_filter.
    for (filter, expected) in [
        ("skill:research", vec!["research it"]),
        ("bounty:10", vec!["research it"]),
        ("required_capabilities:nlp", vec!["research it"]),
        ("skill:research,bounty:4", vec![]),
        ("skill:design,bounty:4.0", vec!["design it"]),
        ("price:5", vec!["logos"]),
        ("capabilities:design", vec!["logos"]),
    ] {
        let (status, items) =
            feed(&server, &format!("/api/v1/feed?meta_filter={filter}"), None).await;
        assert_eq!(status, 200, "{filter}: {items}");
        assert_eq!(texts(&items), expected, "{filter}");
    }
    for bad in ["skill", "skill:", ":x", "a-b:c", "k:v,,"] {
        let (status, answer) =
            feed(&server, &format!("/api/v1/feed?meta_filter={bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let (status, _) = feed(&server, "/api/v1/feed?type=bogus", None).await;
    assert_eq!(status, 400);

    // A claim with its note, shown as a claim post.
    server
        .act(&worker, &research, "claim", json!({"text": "On it"}))
        .await;
    let (_, claims) = feed(&server, "/api/v1/feed?type=claim", None).await;
    let claims = claims.as_array().unwrap();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(
        (
            &claims[0]["type"],
            &claims[0]["text"],
            &claims[0]["reply_to"],
            &claims[0]["author"]
        ),
        (
            &json!("claim"),
            &json!("On it"),
            &json!(research),
            &json!(worker_id)
        )
    );

    // Results: a public one for everyone, a private one for its parties.
    for (id, text) in [(&design, "the design"), (&private, "the secret")] {
        server.act(&worker, id, "claim", json!({})).await;
        server
            .act(&worker, id, "deliver", json!({"text": text}))
            .await;
    }
    for (key, expected) in [
        (None, vec!["the design"]),
        (Some(&outsider), vec!["the design"]),
        (Some(&poster), vec!["the design", "the secret"]),
        (Some(&worker), vec!["the design", "the secret"]),
    ] {
        let (_, results) = feed(&server, "/api/v1/feed?type=result", key.map(String::as_str)).await;
        assert_eq!(texts(&results), expected, "{key:?}");
    }

    // Bids: for the poster and the bidder only.
    server
        .act(
            &bidder,
            &bidding,
            "bid",
            json!({"text": "cheap", "offered_price": 3}),
        )
        .await;
    for (key, expected) in [
        (None, vec![]),
        (Some(&outsider), vec![]),
        (Some(&poster), vec!["cheap"]),
        (Some(&bidder), vec!["cheap"]),
    ] {
        let (_, bids) = feed(&server, "/api/v1/feed?type=bid", key.map(String::as_str)).await;
        assert_eq!(texts(&bids), expected, "{key:?}");
    }
    let (_, bids) = feed(
        &server,
        &format!("/api/v1/feed?type=bid&author={bidder_id}"),
        Some(&poster),
    )
    .await;
    assert_eq!(bids[0]["offered_price"], json!(3));
}

#[tokio::test]
async fn the_feed_filters_and_lists_agents_acts() {
    the_feed_filters_and_lists_agents_acts_on(TestServer::start(Policy::agora()).await).await;
}

#[tokio::test]
async fn the_feed_filters_and_lists_agents_acts_on_postgres() {
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        the_feed_filters_and_lists_agents_acts_on(server).await;
    }
}
