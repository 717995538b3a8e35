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

/// Every refusal the engine can give, one of each kind (the engine's `Error` is
/// `#[non_exhaustive]`: a new kind must be added here by hand).
fn every_engine_error() -> Vec<Error> {
    let all = vec![
        Error::invalid("field", "reason"),
        Error::UnknownIdentity,
        Error::IdentityExists,
        Error::TaskNotFound,
        Error::DependencyNotFound,
        Error::BidNotFound,
        Error::RuleNotFound,
        Error::ContractNotFound,
        Error::PostNotFound,
        Error::ArtifactNotFound,
        Error::NotPoster,
        Error::NotClaimant,
        Error::OwnTask,
        Error::NotAssignee,
        Error::NotParticipant,
        Error::NotContractParty,
        Error::BiddingOnly,
        Error::NotBidding,
        Error::AlreadyClaimed,
        Error::AlreadyClaimant,
        Error::QueueFull,
        Error::AlreadyQueued,
        Error::NotQueued,
        Error::WrongState {
            status: marketplace_core::TaskStatus::Open,
        },
        Error::ContractState,
        Error::DependenciesIncomplete,
        Error::ReputationTooLow {
            score: Decimal::ONE,
            required: Decimal::TWO,
        },
        Error::TooManyClaims,
        Error::LimitReached { what: "rules" },
        Error::InsufficientFunds {
            needed: Decimal::TWO,
            available: Decimal::ONE,
        },
        Error::ResultSchemaMismatch {
            reason: "no".into(),
        },
        Error::IdempotencyConflict,
        Error::IdempotencyInProgress,
        Error::Storage(StoreError::Unavailable("down".into())),
    ];
    all
}

/// The client reads every code the server can answer with as a known
/// [`ErrorCode`](marketplace_api::error::ErrorCode), so a new code on the server fails here
/// until the API crate lists it.
#[tokio::test]
async fn every_code_the_server_answers_is_one_the_api_crate_knows() {
    use axum::http::StatusCode;
    use marketplace_api::error::ErrorCode;
    let http = [
        ApiError::Unauthorized("who"),
        ApiError::BadBody("bad".into()),
        ApiError::TooLarge,
        ApiError::StorageFull,
        ApiError::NotJson,
        ApiError::BodyTimeout,
        ApiError::UriTooLong { max_bytes: 1 },
        ApiError::HeadersTooLarge {
            max_bytes: 1,
            max_fields: 1,
        },
        ApiError::RateLimited {
            retry_after_secs: 1,
        },
        ApiError::Internal("x".into()),
    ];
    let named = [
        "key_not_found",
        "not_found",
        "email_taken",
        "last_credential",
        "agent_failed",
        "agent_timeout",
        "llm_unavailable",
    ];
    let mut errors: Vec<ApiError> = every_engine_error()
        .into_iter()
        .map(ApiError::from)
        .collect();
    errors.extend(http);
    errors.extend(named.iter().map(|code| ApiError::Upstream {
        status: StatusCode::BAD_GATEWAY,
        code,
        message: String::new(),
    }));
    for error in errors {
        let code = error.code();
        assert!(
            !matches!(ErrorCode::parse(code), ErrorCode::Other(_)),
            "{code} is not in marketplace_api::error::ErrorCode"
        );
    }
    // And every code the HTTP layer's sources name is one listed above.
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            files += 1;
            let source = std::fs::read_to_string(&path).unwrap();
            for (at, _) in source.match_indices("code: \"") {
                let code = source[at + 7..].split('"').next().unwrap();
                assert!(
                    named.contains(&code) || code == "internal" || code == "artifact_not_found",
                    "{} answers {code}: add it to this test and to ErrorCode",
                    path.display()
                );
            }
        }
    }
    assert!(files > 40);
}
