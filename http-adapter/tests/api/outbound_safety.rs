//! Outbound safety, by default: URLs that are not `https://`, or that name a loopback,
//! private or reserved address however spelled, are refused when set; a host name that
//! resolves to loopback is refused when connecting. In every case the receiver — a real
//! HTTPS server on 127.0.0.1 whose CA the marketplace trusts — gets no request.

use std::time::Duration;

use crate::common::TestServer;
use crate::common::receiver::Receiver;
use http_adapter::dispatch::ReachConfig;
use marketplace_core::Policy;
use serde_json::{Value, json};

async fn guarded_server(receiver: &Receiver) -> TestServer {
    let reach = ReachConfig {
        interval: Duration::from_millis(30),
        backoff: vec![Duration::from_millis(50)],
        ..ReachConfig::default()
    };
    TestServer::start_reaching(Policy::agentmarket(), &receiver.ca_pem, false, reach).await
}

async fn register(server: &TestServer, name: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({ "name": name, "capabilities": ["code"] });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    server
        .json("POST", "/api/agents/register", None, Some(body))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_plain_http_urls_are_refused_when_set() {
    let receiver = Receiver::start().await;
    let server = guarded_server(&receiver).await;
    let port = receiver.address.port();
    let refused = [
        receiver.ip_url("/x"),
        "https://10.0.0.1/x".to_owned(),
        format!("https://[::1]:{port}/x"),
        format!("https://[::ffff:127.0.0.1]:{port}/x"),
        format!("https://0x7f000001:{port}/x"),
        format!("https://2130706433:{port}/x"),
        format!("https://0177.0.0.1:{port}/x"),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://192.168.1.10/hook".to_owned(),
        "https://[2001:db8::1]/hook".to_owned(),
        "https://[fec0::1]/hook".to_owned(),
        "http://example.com/hook".to_owned(),
        format!("http://localhost:{port}/x"),
    ];
    let (status, body) = register(&server, "Plain", json!({})).await;
    assert_eq!(status, 201, "{body}");
    let key = body["data"]["api_key"].as_str().unwrap().to_owned();
    for url in &refused {
        let (status, body) = register(&server, "Sneaky", json!({ "webhook_url": url })).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["code"], "invalid_input", "{url}");
        let (status, body) = register(&server, "Sneaky", json!({ "endpoint_url": url })).await;
        assert_eq!(status, 400, "{url}: {body}");
        let (status, body) = server
            .with_key(
                "PUT",
                "/api/agents/me/webhook",
                &key,
                json!({ "webhook_url": url }),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        let (status, body) = server
            .json(
                "POST",
                "/api/v1/profile",
                Some(&key),
                Some(json!({ "callback_url": url })),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
    }
    let (_, webhook) = server
        .with_key("GET", "/api/agents/me/webhook", &key, Value::Null)
        .await;
    assert_eq!(
        webhook["data"]["webhook_url"],
        Value::Null,
        "nothing was set"
    );
    let (_, agents) = server.json("GET", "/api/agents", None, None).await;
    assert_eq!(
        agents["data"].as_array().unwrap().len(),
        1,
        "no agent registered"
    );
    assert!(receiver.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_name_resolving_to_loopback_is_refused_at_connect_time() {
    let receiver = Receiver::start().await;
    let server = guarded_server(&receiver).await;
    // `localhost` is a name, not an address: accepted when set, refused when resolved.
    let (status, body) = register(
        &server,
        "Inside",
        json!({ "webhook_url": receiver.url("/hook"), "endpoint_url": receiver.url("/exec") }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let key = body["data"]["api_key"].as_str().unwrap().to_owned();
    let agent = body["data"]["id"].as_str().unwrap().to_owned();

    let (status, sent) = server
        .json("POST", "/api/v1/webhooks/test", Some(&key), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    let attempt = &sent[0]["attempts"][0];
    assert_eq!(sent[0]["status"], "failed");
    assert_eq!(
        attempt["status_code"],
        Value::Null,
        "no answer: nothing was sent"
    );
    let error = attempt["error"].as_str().unwrap();
    assert!(error.starts_with("refused:"), "{error}");
    assert!(error.contains("localhost"), "{error}");

    // The dispatcher refuses the same way, and keeps the attempt on record.
    let (status, poster) = register(&server, "Poster", json!({})).await;
    assert_eq!(status, 201);
    let poster_key = poster["data"]["api_key"].as_str().unwrap().to_owned();
    let (status, _) = server
        .with_key(
            "POST",
            "/api/tasks",
            &poster_key,
            json!({ "title": "t", "budget": 5, "required_capabilities": ["code"] }),
        )
        .await;
    assert_eq!(status, 201);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let record = loop {
        let (_, list) = server
            .json("GET", "/api/v1/webhooks/deliveries", Some(&key), None)
            .await;
        let posted = list
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["event"] == "task.posted")
            .cloned();
        if let Some(d) = posted.filter(|d| d["attempts"].as_array().is_some_and(|a| a.len() >= 2)) {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempts recorded"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    for attempt in record["attempts"].as_array().unwrap() {
        assert!(attempt["error"].as_str().unwrap().starts_with("refused:"));
        assert_eq!(attempt["status_code"], Value::Null);
    }
    assert_eq!(
        record["status"], "pending",
        "retried: a DNS answer may change"
    );

    // A direct execution through that endpoint is refused too, and refunded.
    let (status, body) = server
        .with_key(
            "POST",
            "/api/execute",
            &poster_key,
            json!({ "agent_id": agent, "task_description": "probe", "budget": 5 }),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["code"], "agent_failed");
    assert!(
        body["error"].as_str().unwrap().contains("refused"),
        "{body}"
    );
    let (_, wallet) = server
        .with_key("GET", "/api/wallet", &poster_key, Value::Null)
        .await;
    assert_eq!(
        wallet["data"]["balance"],
        json!(95),
        "only the posted task's 5 held"
    );

    assert!(
        receiver.received().is_empty(),
        "no request reached the receiver"
    );
}
