//! `/metrics` over a real socket: requests by route and status, commands by outcome, and
//! the outbox's depth, in Prometheus text format.
//!
//! A test binary of its own: the Prometheus recorder is one per process, and no other
//! server may count into the figures this test reads.

#[allow(dead_code)] // the helpers the other tests use
#[path = "api/common/mod.rs"]
mod common;

use std::time::Duration;

use crate::common::TestServer;
use http_adapter::dispatch::ReachConfig;
use marketplace_core::Policy;
use serde_json::json;

#[tokio::test]
async fn metrics_count_requests_commands_and_the_outbox() {
    // A dispatcher that first looks for work in an hour leaves the events in the outbox.
    let idle = ReachConfig {
        interval: Duration::from_secs(3600),
        ..ReachConfig::default()
    };
    let server = TestServer::start_with(Policy::agora(), |c| c.with_reach(idle)).await;
    let (key, _) = server.agent("poster").await;
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&key),
            Some(json!({"text": "t", "bounty": 5})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(&key),
            Some(json!({"text": "t", "bounty": 5000})),
        )
        .await;
    assert_eq!(status, 402);
    let depth = server.market.outbox_depth().await.unwrap();
    assert!(depth >= 2, "a registration and a post at least");

    let (status, headers, body) = server.send_raw("GET", "/metrics", &[], None).await;
    assert_eq!(status, 200);
    let content_type = headers.iter().find(|(n, _)| n == "content-type").unwrap();
    assert!(content_type.1.starts_with("text/plain"), "{content_type:?}");
    let text = String::from_utf8(body).unwrap();
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    assert!(
        has(r#"marketplace_commands_total{command="post_task",outcome="ok"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"marketplace_commands_total{command="post_task",outcome="insufficient_funds"} 1"#),
        "{text}"
    );
    assert!(has(&format!("marketplace_outbox_depth {depth}")), "{text}");
    let posted = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains(r#"route="/api/v1/tasks""#)
                && l.contains(r#"status="201""#)
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(posted.ends_with(" 1"), "{posted}");
    assert!(has("http_request_duration_seconds_bucket{"), "{text}");
}
