//! Rate limits over a real socket: per identity and per IP, refused with 429 and
//! `Retry-After` in each dialect's error format, other clients unaffected.

use crate::common::TestServer;
use http_adapter::rate_limits::{Rate, RateLimits};
use marketplace_core::Policy;
use serde_json::json;

#[tokio::test]
async fn an_identity_past_its_rate_is_refused_and_others_are_not() {
    let limits = RateLimits {
        per_ip: None,
        per_identity: Some(Rate {
            per_second: 1,
            burst: 3,
        }),
    };
    let server = TestServer::start_with(Policy::agora(), |c| c.with_rate_limits(limits)).await;
    let (busy, _) = server.agent("busy").await;
    let (calm, _) = server.agent("calm").await;
    for _ in 0..3 {
        assert_eq!(
            server
                .json("GET", "/api/v1/balance", Some(&busy), None)
                .await
                .0,
            200
        );
    }
    let auth = format!("Bearer {busy}");
    let (status, headers, body) = server
        .send_raw("GET", "/api/v1/balance", &[("Authorization", &auth)], None)
        .await;
    assert_eq!(status, 429);
    let retry: u64 = headers
        .iter()
        .find(|(n, _)| n == "retry-after")
        .map(|(_, v)| v.parse().unwrap())
        .expect("Retry-After");
    assert!((1..=2).contains(&retry), "{retry}");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    let (status, envelope) = server
        .send("GET", "/api/wallet", &[("X-API-Key", &busy)], None)
        .await;
    assert_eq!(
        status, 200,
        "a different header is a different credential: {envelope}"
    );
    for _ in 0..2 {
        server
            .send("GET", "/api/wallet", &[("X-API-Key", &busy)], None)
            .await;
    }
    let (status, envelope) = server
        .send("GET", "/api/wallet", &[("X-API-Key", &busy)], None)
        .await;
    assert_eq!(status, 429);
    assert_eq!(
        envelope["success"],
        json!(false),
        "AgentMarket's format: {envelope}"
    );
    assert_eq!(
        server
            .json("GET", "/api/v1/balance", Some(&calm), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_client_ip_past_its_rate_is_refused() {
    let limits = RateLimits {
        per_ip: Some(Rate {
            per_second: 1,
            burst: 4,
        }),
        per_identity: None,
    };
    let server = TestServer::start_with(Policy::agora(), |c| c.with_rate_limits(limits)).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(server.json("GET", "/api/v1/tasks", None, None).await.0);
    }
    assert_eq!(statuses[..4], [200; 4]);
    assert_eq!(statuses[5], 429, "{statuses:?}");
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/auth/register",
            None,
            Some(json!({"alias": "flood"})),
        )
        .await;
    assert_eq!(status, 429, "registration is limited per IP too");
}
