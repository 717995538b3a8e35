//! Engine errors as HTTP: the status every kind of refusal gets, and the body shape
//! `{"error": {"code", "message"}}` — with storage internals never sent.

use axum::body::to_bytes;
use axum::response::IntoResponse;
use http_adapter::error::ApiError;
use marketplace_core::{Error, StoreError};
use rust_decimal::Decimal;

async fn answer(e: Error) -> (u16, serde_json::Value) {
    let response = ApiError::from(e).into_response();
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn each_kind_of_refusal_has_its_status() {
    let cases = [
        (
            Error::invalid("bounty", "must be positive"),
            400,
            "invalid_input",
        ),
        (Error::TaskNotFound, 404, "task_not_found"),
        (Error::NotPoster, 403, "not_poster"),
        (Error::AlreadyClaimed, 409, "already_claimed"),
        (Error::IdempotencyConflict, 422, "idempotency_conflict"),
        (
            Error::InsufficientFunds {
                needed: Decimal::from(10),
                available: Decimal::from(3),
            },
            402,
            "insufficient_funds",
        ),
    ];
    for (error, status, code) in cases {
        let message = error.to_string();
        let (got, body) = answer(error).await;
        assert_eq!(got, status, "{code}");
        assert_eq!(body["error"]["code"], code);
        assert_eq!(body["error"]["message"], message);
    }
}

#[tokio::test]
async fn storage_failures_are_5xx_without_internals() {
    let secret = "connection to 10.1.2.3 refused: password authentication failed";
    let (status, body) = answer(Error::Storage(StoreError::Unavailable(secret.into()))).await;
    assert_eq!(status, 503);
    let (status, other) = answer(Error::Storage(StoreError::Corrupt(secret.into()))).await;
    assert_eq!(status, 500);
    for b in [body, other] {
        assert!(!b.to_string().contains("10.1.2.3"), "internals leaked: {b}");
        assert!(b["error"]["code"].is_string());
    }
}
