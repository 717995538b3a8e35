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
