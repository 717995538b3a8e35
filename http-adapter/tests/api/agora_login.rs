//! Humans with an email: signup and login over a real socket, the session token as a
//! bearer credential, and every refusal.

use crate::common::TestServer;
use marketplace_core::Policy;
use serde_json::json;

#[tokio::test]
async fn signup_and_login_give_working_sessions() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, signed) = server
        .json(
            "POST",
            "/api/v1/auth/signup",
            None,
            Some(json!({"email": "Ada@Example.com", "password": "correct horse", "alias": "ada"})),
        )
        .await;
    assert_eq!(status, 201, "{signed}");
    let identity = signed["identity_hash"].as_str().unwrap().to_owned();
    assert_eq!(
        signed["token"].as_str().unwrap().split('.').count(),
        3,
        "a JWT"
    );
    assert!(signed["expires_at"].is_string());
    let token = signed["token"].as_str().unwrap();
    let (status, balance) = server
        .json("GET", "/api/v1/balance", Some(token), None)
        .await;
    assert_eq!(status, 200, "{balance}");
    assert_eq!(balance["identity_hash"], identity.as_str());

    let (status, logged) = server
        .json(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ada@example.com", "password": "correct horse"})),
        )
        .await;
    assert_eq!(status, 200, "{logged}");
    assert_eq!(
        logged["identity_hash"],
        identity.as_str(),
        "emails are case-insensitive"
    );
    let token = logged["token"].as_str().unwrap();
    let (status, task) = server
        .json(
            "POST",
            "/api/v1/tasks",
            Some(token),
            Some(json!({"text": "Posted by a human", "bounty": 3})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(task["poster"], identity.as_str());
    let (_, profile) = server
        .json("GET", &format!("/api/v1/profile/{identity}"), None, None)
        .await;
    assert_eq!(profile["alias"], "ada");
}

#[tokio::test]
async fn signup_and_login_refusals() {
    let server = TestServer::start(Policy::agora()).await;
    let body = json!({"email": "bob@example.com", "password": "long enough", "alias": "bob"});
    assert_eq!(
        server
            .json("POST", "/api/v1/auth/signup", None, Some(body))
            .await
            .0,
        201
    );
    for (body, status) in [
        (
            json!({"email": "BOB@example.com", "password": "another one", "alias": "bob2"}),
            409,
        ),
        (
            json!({"email": "carol@example.com", "password": "short", "alias": "carol"}),
            400,
        ),
        (
            json!({"email": "not-an-email", "password": "long enough", "alias": "carol"}),
            400,
        ),
        (
            json!({"email": "carol@example.com", "password": "long enough", "alias": ""}),
            400,
        ),
        (
            json!({"email": "carol@example.com", "password": "long enough"}),
            400,
        ),
        (
            json!({"email": "carol@example.com", "password": "long enough", "alias": "c", "admin": true}),
            400,
        ),
    ] {
        let (got, reply) = server
            .json("POST", "/api/v1/auth/signup", None, Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {reply}");
    }
    let (_, carol) = server
        .json(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "carol@example.com", "password": "long enough"})),
        )
        .await;
    assert_eq!(
        carol["error"]["code"], "unauthorized",
        "no refused signup left a login"
    );
    for body in [
        json!({"email": "bob@example.com", "password": "wrong password"}),
        json!({"email": "nobody@example.com", "password": "long enough"}),
        json!({"email": "bob@example.com", "password": "x".repeat(5000)}),
    ] {
        let (status, reply) = server
            .json("POST", "/api/v1/auth/login", None, Some(body))
            .await;
        assert_eq!(status, 401, "{reply}");
        assert_eq!(reply["error"]["message"], "wrong email or password");
    }
    let (status, _) = server
        .json(
            "GET",
            "/api/v1/balance",
            Some("eyJhbGciOiJIUzI1NiJ9.e30.forged"),
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn racing_signups_for_one_email_leave_one_login() {
    let server = TestServer::start(Policy::agora()).await;
    let attempts = (0..6).map(|i| {
        let server = &server;
        async move {
            server
                .json(
                    "POST",
                    "/api/v1/auth/signup",
                    None,
                    Some(json!({"email": "race@example.com", "password": format!("password {i}"), "alias": format!("racer{i}")})),
                )
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|(s, _)| *s == 201 || *s == 409),
        "{results:?}"
    );
    let password = results
        .iter()
        .position(|(s, _)| *s == 201)
        .map(|i| format!("password {i}"))
        .unwrap();
    let (status, logged) = server
        .json(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "race@example.com", "password": password})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(logged["identity_hash"], winners[0].1["identity_hash"]);
}

/// Guessing is slowed per account and per client IP: after 10 attempts on one account in a
/// minute, even the right password is answered 429 with `Retry-After`; another account
/// still logs in, until the IP has made 30 attempts.
#[tokio::test]
async fn login_attempts_are_limited_per_account_and_per_ip() {
    let server = TestServer::start(Policy::agora()).await;
    let started = std::time::Instant::now();
    for (email, alias) in [("a@example.com", "a"), ("b@example.com", "b")] {
        let body = json!({"email": email, "password": "correct horse", "alias": alias});
        let (status, _) = server
            .json("POST", "/api/v1/auth/signup", None, Some(body))
            .await;
        assert_eq!(status, 201);
    }
    let server = &server;
    let login = async |email: &str, password: &str| {
        let body = json!({"email": email, "password": password}).to_string();
        server
            .send_raw(
                "POST",
                "/api/v1/auth/login",
                &[("Content-Type", "application/json")],
                Some(body.as_bytes()),
            )
            .await
    };
    for _ in 0..10 {
        assert_eq!(login("a@example.com", "wrong guess").await.0, 401);
    }
    let (status, headers, body) = login("A@example.com", "correct horse").await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    let retry = headers.iter().find(|(n, _)| n == "retry-after");
    assert!(
        retry.is_some_and(|(_, secs)| secs.parse::<u64>().is_ok_and(|s| (1..=60).contains(&s)))
    );
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], "rate_limited");
    // Another account is not locked out by the first one's guesser...
    assert_eq!(login("b@example.com", "correct horse").await.0, 200);
    // ...until the IP has used its own quota (30 a minute, 12 used so far). The quota
    // gives back one attempt every 2 s, so a machine slow enough to take longer than that
    // since the first attempt has earned that many more: no fewer, no more.
    let mut statuses = Vec::new();
    loop {
        let status = login(&format!("nobody{}@example.com", statuses.len()), "x")
            .await
            .0;
        statuses.push(status);
        let earned = usize::try_from(started.elapsed().as_secs() / 2).unwrap_or(usize::MAX);
        if status == 429 || statuses.len() >= 19 + earned {
            break;
        }
    }
    let refused = statuses.iter().position(|s| *s == 429);
    assert!(refused.is_some_and(|at| at >= 18), "{statuses:?}");
    assert!(
        statuses[..statuses.len() - 1].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    assert_eq!(login("b@example.com", "correct horse").await.0, 429);
}

/// 24 wrong passwords for one account at the same moment: exactly 10 are checked, the rest
/// refused with 429 — the count holds under concurrency, not only in sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_login_attempts_are_counted_once_each() {
    use std::sync::Arc;
    let server = Arc::new(TestServer::start(Policy::agora()).await);
    let body = json!({"email": "c@example.com", "password": "correct horse", "alias": "c"});
    let (status, _) = server
        .json("POST", "/api/v1/auth/signup", None, Some(body))
        .await;
    assert_eq!(status, 201);
    let barrier = Arc::new(tokio::sync::Barrier::new(24));
    let attempts: Vec<_> = (0..24)
        .map(|_| {
            let (server, barrier) = (server.clone(), barrier.clone());
            tokio::spawn(async move {
                let body = json!({"email": "c@example.com", "password": "wrong guess"});
                barrier.wait().await;
                server
                    .json("POST", "/api/v1/auth/login", None, Some(body))
                    .await
                    .0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        14,
        "{statuses:?}"
    );
}
