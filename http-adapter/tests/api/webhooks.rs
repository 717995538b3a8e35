//! Webhooks and broker callbacks against a real HTTPS receiver: who receives what, signed
//! how, retried until it works, every attempt on record; pings and secret rotation.

use crate::common;

use std::time::Duration;

use crate::common::TestServer;
use crate::common::receiver::{Receiver, verify_signature};
use http_adapter::dispatch::{ReachConfig, Sends};
use http_adapter::limits::{EVENTS_PER_ROUND, FAN_OUT_ROUNDS_PER_TICK};
use http_adapter::server::AppState;
use marketplace_core::store::{Channel, Deliveries, DeliveryStatus, NewDelivery};
use marketplace_core::{IdentityId, Policy, ProfileUpdate};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// A server that trusts `receiver`'s CA, may reach loopback, and retries fast.
async fn server_for(receiver: &Receiver, policy: Policy) -> TestServer {
    let reach = ReachConfig {
        marketplace_url: "https://market.example".to_owned(),
        interval: Duration::from_millis(30),
        backoff: vec![Duration::from_millis(100)],
        ..ReachConfig::default()
    };
    TestServer::start_reaching(policy, &receiver.ca_pem, true, reach).await
}

/// `POST /api/agents/register` with a webhook: the API key, id and webhook secret.
async fn am_agent(
    server: &TestServer,
    name: &str,
    capabilities: &[&str],
    webhook_url: &str,
) -> (String, String, String) {
    let (status, body) = server
        .json(
            "POST",
            "/api/agents/register",
            None,
            Some(json!({ "name": name, "capabilities": capabilities, "webhook_url": webhook_url })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let data = &body["data"];
    let secret = data["webhook_secret"].as_str().expect("the secret, once");
    assert!(secret.starts_with("whsec_"));
    (
        data["api_key"].as_str().unwrap().to_owned(),
        data["id"].as_str().unwrap().to_owned(),
        secret.to_owned(),
    )
}

/// A backlog of more events than one round leases leaves the outbox in one dispatcher
/// tick: round after round while each is full, so the dispatcher keeps up with any rate
/// of events rather than one round's worth a tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_a_round_leaves_the_outbox_in_one_tick() {
    // The server's own dispatcher first looks in an hour: the test runs the tick itself.
    let idle = ReachConfig {
        interval: Duration::from_secs(3600),
        ..ReachConfig::default()
    };
    let server = TestServer::start_with(Policy::agora(), |c| c.with_reach(idle)).await;
    let agents: Vec<IdentityId> = (0..2 * EVENTS_PER_ROUND + 50)
        .map(|n| IdentityId::from_public_key(format!("agent {n}").as_bytes()))
        .collect();
    let registered = futures::future::join_all(agents.iter().enumerate().map(|(n, a)| {
        server
            .market
            .register(a, ProfileUpdate::alias(format!("agent{n}")))
    }))
    .await;
    assert!(registered.iter().all(Result::is_ok), "{registered:?}");
    let depth = || async { server.market.outbox_depth().await.unwrap() };
    let backlog = depth().await;
    assert!(
        backlog >= agents.len() as u64,
        "a registration, an event: {backlog}"
    );
    assert!(FAN_OUT_ROUNDS_PER_TICK * EVENTS_PER_ROUND > agents.len());

    let app = AppState::new(server.market.clone(), common::config());
    // One round takes a round's worth...
    assert_eq!(app.fan_out_round().await.unwrap(), EVENTS_PER_ROUND);
    let rest = backlog - EVENTS_PER_ROUND as u64;
    assert_eq!(depth().await, rest);
    // ...and one tick all the rest, more than a round's worth.
    assert_eq!(app.fan_out_due().await.unwrap() as u64, rest);
    assert_eq!(depth().await, 0, "the outbox is empty");
    assert_eq!(app.fan_out_due().await.unwrap(), 0, "nothing left to lease");
}

/// A backlog of more due deliveries than the dispatcher has senders is sent in one tick:
/// round after round as senders free up, not one round's worth a tick; every attempt is
/// signed, sent once and on record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_the_senders_is_sent_in_one_tick() {
    let receiver = Receiver::start().await;
    // The server's own dispatcher first looks in an hour: the test runs the tick itself.
    let reach = ReachConfig {
        interval: Duration::from_secs(3600),
        ..ReachConfig::default()
    };
    let server =
        TestServer::start_reaching(Policy::agentmarket(), &receiver.ca_pem, true, reach.clone())
            .await;
    let (_, id, secret) = am_agent(&server, "Busy", &["research"], &receiver.url("/busy")).await;
    receiver.set_secret("/busy", &secret);
    let recipient = IdentityId::parse(&id).unwrap();
    let senders = 4;
    let backlog = 10 * senders + 3;
    let store = server.market.store();
    for n in 0..backlog {
        let delivery = NewDelivery {
            event_seq: 0,
            recipient: recipient.clone(),
            channel: Channel::Webhook,
            event: "task.posted".to_owned(),
            body: json!({ "n": n }).to_string(),
            created_at: server.market.now(),
        };
        store.add_delivery(&delivery, None).await.unwrap();
    }

    let app = AppState::new(
        server.market.clone(),
        common::reaching(&receiver.ca_pem, true, reach)(common::config()),
    );
    let sends = Sends::start(&app, senders);
    let started = sends
        .due(&app, tokio::time::Instant::now() + WAIT)
        .await
        .unwrap();
    assert_eq!(started, backlog, "all of the backlog, not {senders} a tick");
    assert!(sends.finish(WAIT).await, "the sends and their records end");
    assert_eq!(store.deliveries_pending().await.unwrap(), 0);

    let received = receiver.received();
    assert_eq!(received.len(), backlog, "each sent once");
    assert!(
        received
            .iter()
            .all(|r| r.path == "/busy" && r.agentmarket_ok)
    );
    let mut seen: Vec<u64> = received
        .iter()
        .map(|r| r.body["n"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..backlog as u64).collect::<Vec<_>>());
    let records = store.deliveries(&recipient, None, 100).await.unwrap();
    assert_eq!(records.len(), backlog);
    for r in &records {
        assert_eq!(r.delivery.status, DeliveryStatus::Delivered, "{r:?}");
        assert_eq!(r.attempts.len(), 1, "{r:?}");
        assert!(
            r.attempts[0]
                .status_code
                .is_some_and(|c| (200..300).contains(&c))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_posted_reaches_overlapping_agents_signed_and_subscribed_events_follow() {
    let receiver = Receiver::start().await;
    let server = server_for(&receiver, Policy::agentmarket()).await;
    let (researcher, researcher_id, secret_a) =
        am_agent(&server, "Researcher", &["research"], &receiver.url("/a")).await;
    receiver.set_secret("/a", &secret_a);
    let (_, _, secret_b) = am_agent(&server, "Cook", &["cooking"], &receiver.url("/b")).await;
    receiver.set_secret("/b", &secret_b);
    // An Agora agent with a broker callback, matching on the task's capabilities too.
    let (agora_key, agora_id) = server.agent("broker-bot").await;
    let (status, profile) = server
        .json(
            "POST",
            "/api/v1/profile",
            Some(&agora_key),
            Some(json!({ "capabilities": ["summarization"], "callback_url": receiver.url("/c") })),
        )
        .await;
    assert_eq!(status, 200, "{profile}");
    let secret_c = profile["webhook_secret"].as_str().unwrap();
    receiver.set_secret("/c", secret_c);
    let (status, again) = server
        .json(
            "POST",
            "/api/v1/profile",
            Some(&agora_key),
            Some(json!({ "bio": "still here" })),
        )
        .await;
    assert_eq!(status, 200);
    assert!(again.get("webhook_secret").is_none(), "shown once: {again}");

    // The poster also has a webhook, and subscribes to its tasks' claims and deliveries.
    let (poster, poster_id, secret_p) =
        am_agent(&server, "Poster", &["research"], &receiver.url("/p")).await;
    receiver.set_secret("/p", &secret_p);
    let (status, body) = server.with_key("PUT",
        "/api/agents/me/webhook",
        &poster,
        json!({ "webhook_url": receiver.url("/p"), "events": ["task.claimed", "task.delivered"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"].get("webhook_secret").is_none(), "not rotated");
    assert_eq!(
        body["data"]["events"],
        json!(["task.claimed", "task.delivered"])
    );
    let (status, body) = server.with_key("PUT",
        "/api/agents/me/webhook",
        &researcher,
        json!({ "webhook_url": receiver.url("/a"), "events": ["task.posted", "task.accepted"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, posted) = server
        .with_key(
            "POST",
            "/api/tasks",
            &poster,
            json!({
                "title": "Summarize this paper",
                "description": "Full text...",
                "budget": 25,
                "required_capabilities": ["research", "summarization"]
            }),
        )
        .await;
    assert_eq!(status, 201, "{posted}");
    let task_id = posted["data"]["id"].as_str().unwrap().to_owned();

    let got = receiver
        .wait_until(WAIT, |r| {
            r.iter().any(|x| x.path == "/a") && r.iter().any(|x| x.path == "/c")
        })
        .await;
    let to_a: Vec<_> = got.iter().filter(|r| r.path == "/a").collect();
    assert_eq!(to_a.len(), 1, "{got:?}");
    let hook = to_a[0];
    assert_eq!(hook.event, "task.posted");
    assert!(hook.agentmarket_ok, "X-AgentMarket-Signature verifies");
    assert!(hook.standard_ok, "webhook-signature verifies");
    assert!(hook.webhook_id.starts_with("msg_"));
    assert!((hook.timestamp - chrono::Utc::now().timestamp()).abs() < 60);
    assert_eq!(hook.body["event"], "task.posted");
    assert_eq!(hook.body["marketplace_url"], "https://market.example");
    let task = &hook.body["task"];
    assert_eq!(task["id"], task_id.as_str());
    assert_eq!(task["title"], "Summarize this paper");
    assert_eq!(task["description"], "Full text...");
    assert_eq!(task["budget"], json!(25));
    assert_eq!(
        task["required_capabilities"],
        json!(["research", "summarization"])
    );
    assert!(task["created_at"].is_string());
    assert_eq!(
        hook.body["data"]["bounty"],
        json!(25),
        "amounts are numbers"
    );
    let callback = got.iter().find(|r| r.path == "/c").unwrap();
    assert!(callback.agentmarket_ok && callback.standard_ok);
    assert_eq!(
        callback.body["task"]["id"],
        task_id.as_str(),
        "{:?}",
        callback.body
    );
    assert!(
        got.iter().all(|r| r.path != "/b" && r.path != "/p"),
        "no overlap, and not the poster: {got:?}"
    );

    // Accept and complete: the poster hears of the claim and the delivery; the worker of
    // the acceptance.
    let (status, _) = server
        .with_key(
            "POST",
            &format!("/api/tasks/{task_id}/accept"),
            &researcher,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .with_key(
            "POST",
            &format!("/api/tasks/{task_id}/complete"),
            &researcher,
            json!({ "result": "short summary" }),
        )
        .await;
    assert_eq!(status, 200);
    let got = receiver
        .wait_until(WAIT, |r| {
            let events: Vec<&str> = r.iter().map(|x| x.event.as_str()).collect();
            ["task.claimed", "task.delivered", "task.accepted"]
                .iter()
                .all(|e| events.contains(e))
        })
        .await;
    // Deliveries go out concurrently: their order is not a promise.
    let mut to_poster: Vec<&str> = got
        .iter()
        .filter(|r| r.path == "/p")
        .map(|r| r.event.as_str())
        .collect();
    to_poster.sort_unstable();
    assert_eq!(to_poster, vec!["task.claimed", "task.delivered"], "{got:?}");
    let accepted = got.iter().find(|r| r.event == "task.accepted").unwrap();
    assert_eq!(accepted.path, "/a");
    assert_eq!(accepted.body["subject"], researcher_id.as_str());
    assert_eq!(accepted.body["task"]["status"], "completed");
    assert_eq!(
        (
            &accepted.body["data"]["amount"],
            &accepted.body["data"]["fee"]
        ),
        (&json!(22.5), &json!(2.5)),
        "the payout and fee as JSON numbers"
    );
    assert!(got.iter().all(|r| r.agentmarket_ok && r.standard_ok));
    assert!(
        got.iter()
            .all(|r| r.path != "/c" || r.event == "task.posted")
    );
    let claimed = got.iter().find(|r| r.event == "task.claimed").unwrap();
    assert_eq!(claimed.body["task"]["poster_id"], poster_id.as_str());

    // What the agent sees of its webhook and of what was sent.
    let (status, body) = server
        .with_key("GET", "/api/agents/me/webhook", &researcher, Value::Null)
        .await;
    assert_eq!(status, 200);
    let masked = body["data"]["webhook_url"].as_str().unwrap();
    assert!(masked.starts_with("...") && receiver.url("/a").ends_with(&masked[3..]));
    assert!(masked.len() < receiver.url("/a").len());
    assert!(body["data"].get("webhook_secret").is_none());
    // The receiver may see a request before the server records its answer.
    let list = server
        .wait_json(&researcher, |l| {
            l.iter().all(|d| d["status"] == "delivered")
        })
        .await;
    assert_eq!(list.len(), 2, "task.posted and task.accepted: {list:?}");
    for delivery in &list {
        assert_eq!(delivery["status"], "delivered");
        assert_eq!(delivery["channel"], "webhook");
        let attempts = delivery["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["status_code"], 200);
        assert_eq!(attempts[0]["url"], receiver.url("/a").as_str());
    }
    assert_eq!(list[1]["payload"]["task"]["id"], task_id.as_str());
    let (_, theirs) = server
        .json("GET", "/api/v1/webhooks/deliveries", Some(&agora_key), None)
        .await;
    assert_eq!(
        theirs.as_array().unwrap().len(),
        1,
        "only one's own: {theirs}"
    );
    assert_eq!(theirs[0]["channel"], "callback");
    assert_eq!(
        theirs[0]["payload"]["subject"],
        poster_id.as_str(),
        "who posted"
    );
    assert_ne!(theirs[0]["payload"]["task"]["poster"], agora_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_retried_until_the_receiver_recovers() {
    let receiver = Receiver::start().await;
    let server = server_for(&receiver, Policy::agentmarket()).await;
    let (key, _, secret) = am_agent(&server, "Flaky", &["code"], &receiver.url("/flaky")).await;
    receiver.set_secret("/flaky", &secret);
    let (poster, _, _) = am_agent(&server, "Poster", &["none"], &receiver.url("/p")).await;
    receiver.fail_next(3);
    let (status, _) = server
        .with_key(
            "POST",
            "/api/tasks",
            &poster,
            json!({ "title": "Fix a bug", "budget": 10, "required_capabilities": ["code"] }),
        )
        .await;
    assert_eq!(status, 201);
    let got = receiver
        .wait_until(WAIT, |r| r.iter().any(|x| x.answered == 200))
        .await;
    let answers: Vec<u16> = got.iter().map(|r| r.answered).collect();
    assert_eq!(answers, vec![500, 500, 500, 200], "{got:?}");
    assert!(
        got.windows(2).all(|w| w[0].webhook_id == w[1].webhook_id),
        "one delivery, the same id on every attempt"
    );
    assert!(got.iter().all(|r| r.agentmarket_ok && r.standard_ok));
    assert!(
        got.windows(2).all(|w| w[0].body == w[1].body),
        "the same body every time"
    );

    let list = server
        .wait_json(&key, |l| l[0]["status"] == "delivered")
        .await;
    let attempts = list[0]["attempts"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["status_code"]).collect();
    assert_eq!(
        codes,
        vec![&json!(500), &json!(500), &json!(500), &json!(200)]
    );
    assert_eq!(attempts[0]["error"], "answered 500");
    assert_eq!(attempts[3]["error"], Value::Null);
    assert!(attempts.iter().all(|a| a["latency_ms"].is_u64()));
    assert!(list[0]["finished_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_is_signed_with_the_current_secret_and_rotation_replaces_it() {
    let receiver = Receiver::start().await;
    let server = server_for(&receiver, Policy::agora()).await;
    let (key, _) = server.agent("pinger").await;
    let (status, body) = server
        .json("POST", "/api/v1/webhooks/test", Some(&key), Some(json!({})))
        .await;
    assert_eq!(status, 400, "nowhere to send: {body}");
    // Events chosen before any URL is set: the secret is made, and shown, then.
    let (status, body) = server
        .with_key(
            "PUT",
            "/api/agents/me/webhook",
            &key,
            json!({ "webhook_url": "", "events": ["task.claimed"] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["webhook_url"], Value::Null);
    assert_eq!(body["data"]["events"], json!(["task.claimed"]));
    let first = body["data"]["webhook_secret"].as_str().unwrap().to_owned();
    let (_, profile) = server
        .json(
            "POST",
            "/api/v1/profile",
            Some(&key),
            Some(json!({ "callback_url": receiver.url("/ping") })),
        )
        .await;
    assert!(
        profile.get("webhook_secret").is_none(),
        "shown already: {profile}"
    );
    receiver.set_secret("/ping", &first);

    let (status, sent) = server
        .json("POST", "/api/v1/webhooks/test", Some(&key), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent[0]["event"], "ping");
    assert_eq!(sent[0]["status"], "delivered");
    assert_eq!(sent[0]["attempts"][0]["status_code"], 200);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, "ping");
    assert!(got[0].agentmarket_ok && got[0].standard_ok);

    let (status, rotated) = server
        .json("POST", "/api/v1/webhooks/secret", Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let second = rotated["webhook_secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    receiver.respond("/ping", common::receiver::Mode::Status(401));
    let (_, sent) = server
        .json(
            "POST",
            "/api/v1/webhooks/test",
            Some(&key),
            Some(json!({ "channel": "callback" })),
        )
        .await;
    assert_eq!(sent[0]["status"], "failed", "a ping is tried once: {sent}");
    assert_eq!(sent[0]["attempts"][0]["status_code"], 401);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert!(!got[1].agentmarket_ok, "the old secret no longer verifies");
    let body = serde_json::to_vec(&got[1].body).unwrap();
    assert!(!verify_signature(&body, &first, "sha256=00"));
    receiver.set_secret("/ping", &second);
    receiver.respond("/ping", common::receiver::Mode::Ok);
    let (_, sent) = server
        .json("POST", "/api/v1/webhooks/test", Some(&key), None)
        .await;
    assert_eq!(sent[0]["status"], "delivered");
    let got = receiver.received();
    assert!(
        got[2].agentmarket_ok && got[2].standard_ok,
        "the new secret verifies"
    );
    let (status, body) = server
        .json(
            "POST",
            "/api/v1/webhooks/test",
            Some(&key),
            Some(json!({ "channel": "carrier-pigeon" })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

impl TestServer {
    /// Polls the caller's deliveries until `done` holds for the list.
    async fn wait_json(&self, key: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, list) = self
                .json("GET", "/api/v1/webhooks/deliveries", Some(key), None)
                .await;
            assert_eq!(status, 200);
            let list = list.as_array().cloned().unwrap_or_default();
            if (!list.is_empty() && done(&list)) || tokio::time::Instant::now() > deadline {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
}

/// Subscribes `key`'s webhook at `path` to `events`; the secret goes to the receiver.
async fn subscribe(
    server: &TestServer,
    receiver: &Receiver,
    key: &str,
    path: &str,
    events: &[&str],
) {
    let (status, body) = server
        .with_key(
            "PUT",
            "/api/agents/me/webhook",
            key,
            json!({ "webhook_url": receiver.url(path), "events": events }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    receiver.set_secret(path, body["data"]["webhook_secret"].as_str().unwrap());
}

/// The events each path received, sorted.
fn events_by_path(
    got: &[common::receiver::Received],
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut by_path = std::collections::BTreeMap::<String, Vec<String>>::new();
    for r in got {
        by_path
            .entry(r.path.clone())
            .or_default()
            .push(r.event.clone());
    }
    for events in by_path.values_mut() {
        events.sort();
    }
    by_path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bids_expired_claims_promotions_rejections_and_broker_claims_reach_their_subscribers() {
    let receiver = Receiver::start().await;
    let server = server_for(&receiver, Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (first, _) = server.agent("first").await;
    let (second, second_id) = server.agent("second").await;
    subscribe(
        &server,
        &receiver,
        &poster,
        "/p",
        &["bid.received", "claim.expired", "task.delivered"],
    )
    .await;
    subscribe(
        &server,
        &receiver,
        &first,
        "/w1",
        &["claim.expired", "task.rejected"],
    )
    .await;
    subscribe(
        &server,
        &receiver,
        &second,
        "/w2",
        &["queue.promoted", "task.rejected"],
    )
    .await;
    // A broker: its rule claims matching tasks, and its callback hears of them.
    let (broker, _) = server.agent("broker").await;
    let (_, profile) = server
        .json(
            "POST",
            "/api/v1/profile",
            Some(&broker),
            Some(json!({ "capabilities": ["ml"], "callback_url": receiver.url("/b") })),
        )
        .await;
    receiver.set_secret("/b", profile["webhook_secret"].as_str().unwrap());
    let (status, rule) = server
        .json(
            "POST",
            "/api/v1/broker/auto-claim",
            Some(&broker),
            Some(json!({ "capabilities": ["ml"] })),
        )
        .await;
    assert_eq!(status, 201, "{rule}");

    // A bid.
    let bidding = server
        .post_task(
            &poster,
            json!({ "text": "bid on me", "bounty": 5, "bidding": true }),
        )
        .await;
    server
        .act(
            &first,
            &bidding,
            "bid",
            json!({ "offered_price": 4, "turnaround_s": 60 }),
        )
        .await;
    // A claim that lapses, promoting the queue; the promoted agent delivers and is rejected.
    let lapsing = server
        .post_task(
            &poster,
            json!({ "text": "be quick", "bounty": 5, "claim_ttl": 1, "require_review": true }),
        )
        .await;
    server.act(&first, &lapsing, "claim", json!({})).await;
    server.act(&second, &lapsing, "queue", json!({})).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (_, task) = server
        .json("GET", &format!("/api/v1/tasks/{lapsing}"), None, None)
        .await;
    assert_eq!(task["claimed_by"], second_id.as_str(), "promoted: {task}");
    server
        .act(&second, &lapsing, "deliver", json!({ "text": "done" }))
        .await;
    server
        .act(
            &poster,
            &lapsing,
            "reject",
            json!({ "text": "no", "category": "quality" }),
        )
        .await;
    // A task the broker claims at once.
    server
        .post_task(
            &poster,
            json!({ "text": "train a model", "bounty": 5, "required_capabilities": ["ml"] }),
        )
        .await;

    let expected: std::collections::BTreeMap<String, Vec<String>> = [
        (
            "/p",
            vec!["bid.received", "claim.expired", "task.delivered"],
        ),
        ("/w1", vec!["claim.expired"]),
        ("/w2", vec!["queue.promoted", "task.rejected"]),
        ("/b", vec!["task.claimed", "task.posted"]),
    ]
    .into_iter()
    .map(|(p, e)| (p.to_owned(), e.into_iter().map(str::to_owned).collect()))
    .collect();
    let total: usize = expected.values().map(Vec::len).sum();
    let got = receiver.wait_until(WAIT, |r| r.len() >= total).await;
    // Anything late would show up here.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = if got.len() == total {
        receiver.received()
    } else {
        got
    };
    assert_eq!(events_by_path(&got), expected, "{got:?}");
    assert!(got.iter().all(|r| r.agentmarket_ok && r.standard_ok));
    let broker_claim = got
        .iter()
        .find(|r| r.path == "/b" && r.event == "task.claimed")
        .unwrap();
    assert_eq!(broker_claim.body["data"]["via"], "broker");
    let rejected = got
        .iter()
        .find(|r| r.path == "/w2" && r.event == "task.rejected")
        .unwrap();
    assert_eq!(
        (
            &rejected.body["data"]["category"],
            &rejected.body["data"]["text"]
        ),
        (&json!("quality"), &json!("no")),
        "the rejected agent hears the feedback"
    );
}

/// Each webhook shows its task as the event's command left it, however late the dispatcher
/// sends it: claimed, delivered and accepted in quick succession, before the first
/// dispatcher round, still arrive as three different states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_webhook_shows_its_task_as_of_its_event() {
    let receiver = Receiver::start().await;
    let reach = ReachConfig {
        marketplace_url: "https://market.example".to_owned(),
        // Every command below lands before the first round.
        interval: Duration::from_secs(3),
        backoff: vec![Duration::from_millis(100)],
        ..ReachConfig::default()
    };
    let server = TestServer::start_reaching(Policy::agora(), &receiver.ca_pem, true, reach).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    subscribe(
        &server,
        &receiver,
        &poster,
        "/p",
        &["task.claimed", "task.delivered"],
    )
    .await;
    subscribe(&server, &receiver, &worker, "/w", &["task.accepted"]).await;
    let body = json!({ "text": "summarize", "bounty": 5, "require_review": true });
    let id = server.post_task(&poster, body).await;
    for (key, action, body) in [
        (&worker, "claim", json!({})),
        (&worker, "deliver", json!({ "text": "the summary" })),
        (&poster, "accept", json!({ "rating": 5 })),
    ] {
        let path = format!("/api/v1/tasks/{id}/{action}");
        let (status, answer) = server.json("POST", &path, Some(key), Some(body)).await;
        assert_eq!(status, 200, "{action}: {answer}");
    }
    let got = receiver.wait_until(WAIT, |r| r.len() >= 3).await;
    let status_in = |event: &str| {
        let hook = got.iter().find(|r| r.event == event).expect(event);
        hook.body["task"]["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status_in("task.claimed"), "assigned");
    assert_eq!(status_in("task.delivered"), "delivered");
    assert_eq!(status_in("task.accepted"), "completed");
}
