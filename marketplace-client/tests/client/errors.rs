//! Refusals come back typed by the server's stable codes, with their statuses, on both stores.

use marketplace_api::agentmarket::RegisterAgent;
use marketplace_api::agora::board::{PostRequest, SearchParams};
use marketplace_api::agora::broker::{ContractRequest, RuleRequest};
use marketplace_api::agora::tasks::{BidRequest, DeliverRequest, MessageRequest, PostTask};
use marketplace_api::execute::ExecuteRequest;
use marketplace_api::wire::Amount;
use marketplace_client::{Client, Credentials, Error, ErrorCode, NodeKey, RetryPolicy};
use marketplace_core::{DeliveryMeta, Policy};
use rust_decimal::Decimal;
use serde_json::json;

use crate::common::Server;

/// Asserts `result` is a refusal with `code` and `status`.
fn refused<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode, status: u16) {
    match result {
        Err(Error::Refused {
            code: got,
            status: got_status,
            message,
            ..
        }) => {
            assert_eq!((got, got_status), (code, status), "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected {code}, got {other:?}"),
    }
}

fn task(text: &str, bounty: i64) -> PostTask {
    PostTask {
        text: text.into(),
        bounty: Amount(bounty.into()),
        require_review: true,
        ..PostTask::default()
    }
}

async fn every_refusal_is_typed(server: &Server) {
    let (poster, poster_id) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    let (third, _) = server.agent("third").await;
    let anonymous = server.client();

    refused(anonymous.balance().await, ErrorCode::Unauthorized, 401);
    let mut too_precise = task("x", 1);
    too_precise.bounty = Amount(Decimal::from_str_exact("0.0000001").unwrap());
    refused(
        poster.post_task(&too_precise).await,
        ErrorCode::InvalidInput,
        400,
    );
    let before = poster.balance().await.unwrap();
    refused(
        poster.post_task(&task("far too dear", 1_000)).await,
        ErrorCode::InsufficientFunds,
        402,
    );
    assert_eq!(poster.balance().await.unwrap().escrowed, before.escrowed);
    refused(
        worker.task("00000000-0000-0000-0000-000000000000").await,
        ErrorCode::TaskNotFound,
        404,
    );

    let open = poster
        .post_task(&task("Translate a page", 5))
        .await
        .unwrap();
    refused(poster.claim(&open.id, None).await, ErrorCode::OwnTask, 403);
    refused(
        poster.accept(&open.id, None).await,
        ErrorCode::WrongState,
        409,
    );
    refused(worker.cancel(&open.id).await, ErrorCode::NotPoster, 403);
    let bid = BidRequest {
        text: "cheap".into(),
        offered_price: Amount(3.into()),
        turnaround_s: None,
    };
    refused(worker.bid(&open.id, &bid).await, ErrorCode::NotBidding, 409);
    refused(
        worker.join_queue(&open.id).await,
        ErrorCode::WrongState,
        409,
    );

    worker.claim(&open.id, None).await.unwrap();
    refused(
        third.claim(&open.id, None).await,
        ErrorCode::AlreadyClaimed,
        409,
    );
    refused(
        worker.claim(&open.id, None).await,
        ErrorCode::AlreadyClaimant,
        409,
    );
    let delivery = DeliverRequest {
        text: "done".into(),
        ..DeliverRequest::default()
    };
    refused(
        third.deliver(&open.id, &delivery).await,
        ErrorCode::NotClaimant,
        403,
    );
    third.join_queue(&open.id).await.unwrap();
    refused(
        third.join_queue(&open.id).await,
        ErrorCode::AlreadyQueued,
        409,
    );
    refused(
        poster.leave_queue(&open.id).await,
        ErrorCode::NotQueued,
        409,
    );

    let mut bidding = task("Design a logo", 5);
    bidding.bidding = true;
    let bidding = poster.post_task(&bidding).await.unwrap();
    refused(
        worker.claim(&bidding.id, None).await,
        ErrorCode::BiddingOnly,
        409,
    );
    refused(
        poster
            .award(&bidding.id, "00000000-0000-0000-0000-000000000000")
            .await,
        ErrorCode::BidNotFound,
        404,
    );

    let mut assigned = task("For one agent only", 1);
    assigned.assign_to = Some(worker_id.clone());
    let assigned = poster.post_task(&assigned).await.unwrap();
    refused(
        third.claim(&assigned.id, None).await,
        ErrorCode::NotAssignee,
        403,
    );

    let mut picky = task("Only for the proven", 1);
    picky.min_reputation = Some(Amount(50.into()));
    let picky = poster.post_task(&picky).await.unwrap();
    refused(
        third.claim(&picky.id, None).await,
        ErrorCode::ReputationTooLow,
        403,
    );

    let mut later = task("After the translation", 1);
    later.depends_on = vec![open.id.clone()];
    let later = poster.post_task(&later).await.unwrap();
    refused(
        third.claim(&later.id, None).await,
        ErrorCode::DependenciesIncomplete,
        409,
    );

    let mut shaped = task("Answer as a number", 1);
    shaped.result_schema = Some(json!({"type": "object", "required": ["n"]}));
    let shaped = poster.post_task(&shaped).await.unwrap();
    third.claim(&shaped.id, None).await.unwrap();
    let wrong_shape = DeliverRequest {
        text: "seven".into(),
        meta: DeliveryMeta {
            output: Some(json!({"m": 7})),
            ..DeliveryMeta::default()
        },
    };
    refused(
        third.deliver(&shaped.id, &wrong_shape).await,
        ErrorCode::ResultSchemaMismatch,
        422,
    );

    refused(
        worker
            .artifact(&format!("{}.bin", "0".repeat(64)), None)
            .await,
        ErrorCode::ArtifactNotFound,
        404,
    );
    refused(
        worker.revoke_key("ak_nothere").await,
        ErrorCode::KeyNotFound,
        404,
    );
    refused(
        worker
            .delete_rule(Some("00000000-0000-0000-0000-000000000000"))
            .await,
        ErrorCode::RuleNotFound,
        404,
    );
    refused(
        worker
            .contract_action("00000000-0000-0000-0000-000000000000", "accept")
            .await,
        ErrorCode::ContractNotFound,
        404,
    );
    anonymous
        .signup("taken@example.com", "a long password", "first")
        .await
        .unwrap();
    refused(
        anonymous
            .signup("taken@example.com", "a long password", "second")
            .await,
        ErrorCode::EmailTaken,
        409,
    );
    refused(
        poster
            .profile("0000000000000000000000000000000000000000000000000000000000000000")
            .await,
        ErrorCode::UnknownIdentity,
        404,
    );
    assert_ne!(poster_id, worker_id);

    // The waitlist's bound: ten wait, the eleventh is refused.
    let popular = poster
        .post_task(&task("Everyone wants this", 1))
        .await
        .unwrap();
    worker.claim(&popular.id, None).await.unwrap();
    for i in 0..10 {
        let (waiting, _) = server.agent(&format!("waiting{i}")).await;
        waiting.join_queue(&popular.id).await.unwrap();
    }
    refused(
        third.join_queue(&popular.id).await,
        ErrorCode::QueueFull,
        409,
    );
    refused(
        third
            .message(
                &popular.id,
                &MessageRequest {
                    text: "between poster and worker".into(),
                    pre_claim: false,
                },
            )
            .await,
        ErrorCode::NotParticipant,
        403,
    );

    // Contracts: only their parties act on them, and each action once.
    let contract = poster
        .propose_contract(&ContractRequest {
            agent: worker_id.clone(),
            capabilities: vec!["translate".into()],
            price_per_task: Amount(1.into()),
            max_tasks: 1,
        })
        .await
        .unwrap();
    // A stranger learns nothing of it; its poster cannot accept for its agent.
    refused(
        third.contract_action(&contract.id, "accept").await,
        ErrorCode::ContractNotFound,
        404,
    );
    refused(
        poster.contract_action(&contract.id, "accept").await,
        ErrorCode::NotContractParty,
        403,
    );
    worker
        .contract_action(&contract.id, "accept")
        .await
        .unwrap();
    refused(
        worker.contract_action(&contract.id, "accept").await,
        ErrorCode::ContractState,
        409,
    );

    // One key, two different requests: the second is refused, the first stands.
    let once = poster.with_idempotency_key("one-key");
    let first = once
        .post_task(&task("First with the key", 1))
        .await
        .unwrap();
    assert_eq!(
        once.post_task(&task("First with the key", 1))
            .await
            .unwrap()
            .id,
        first.id
    );
    refused(
        once.post_task(&task("Another with the same key", 1)).await,
        ErrorCode::IdempotencyConflict,
        422,
    );

    // Bounds of the HTTP layer: a body over 1 MB, a request target over 8 KiB.
    refused(
        poster.post_task(&task(&"x".repeat(1_100_000), 1)).await,
        ErrorCode::TooLarge,
        413,
    );
    let long = SearchParams {
        q: "y".repeat(9_000),
        ..SearchParams::default()
    };
    refused(anonymous.search(&long).await, ErrorCode::UriTooLong, 414);

    // Identities and credentials.
    let node = anonymous.with_credentials(Credentials::Node(NodeKey::from_seed([3; 32])));
    node.register_node("node").await.unwrap();
    refused(
        node.register_node("again").await,
        ErrorCode::IdentityExists,
        409,
    );
    let keys = worker.keys().await.unwrap();
    refused(
        worker.revoke_key(&keys[0].prefix).await,
        ErrorCode::LastCredential,
        409,
    );

    // References to what does not exist, and bounds of the marketplace.
    let mut orphan = task("After a task that never was", 1);
    orphan.depends_on = vec!["00000000-0000-0000-0000-000000000000".into()];
    refused(
        poster.post_task(&orphan).await,
        ErrorCode::DependencyNotFound,
        404,
    );
    let reply = PostRequest {
        kind: Some("answer".into()),
        text: "an answer to nothing".into(),
        topic: None,
        reply_to: Some("00000000-0000-0000-0000-000000000000".into()),
        meta: None,
    };
    refused(
        worker.create_post(&reply).await,
        ErrorCode::PostNotFound,
        404,
    );
    let rule = RuleRequest {
        capabilities: vec!["translate".into()],
        min_bounty: Amount(1.into()),
        max_concurrent: None,
        min_poster_rep: Amount(0.into()),
    };
    for _ in 0..20 {
        third.create_rule(&rule).await.unwrap();
    }
    refused(third.create_rule(&rule).await, ErrorCode::LimitReached, 409);

    // An agent run by a system prompt, on a marketplace with no LLM.
    let am = anonymous.agentmarket();
    let prompted = am
        .register(&RegisterAgent {
            name: "prompted".into(),
            description: None,
            capabilities: vec![],
            price_per_task: None,
            endpoint_url: None,
            system_prompt: Some("Answer in haiku".into()),
            webhook_url: None,
            owner_email: None,
        })
        .await
        .unwrap();
    let before = poster.balance().await.unwrap();
    refused(
        poster
            .agentmarket()
            .execute(&ExecuteRequest {
                agent_id: prompted.data.id,
                task_description: "A haiku".into(),
                budget: Amount(1.into()),
            })
            .await,
        ErrorCode::LlmUnavailable,
        503,
    );
    assert_eq!(poster.balance().await.unwrap().available, before.available);

    // Guessing passwords: the marketplace slows it down itself.
    for _ in 0..10 {
        refused(
            anonymous.login("taken@example.com", "wrong guess").await,
            ErrorCode::Unauthorized,
            401,
        );
    }
    // (Without retries: a client that honours Retry-After would wait, and guess again.)
    let impatient = Client::builder(anonymous.base_url().as_str())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    match impatient.login("taken@example.com", "wrong guess").await {
        Err(Error::Refused {
            code, retry_after, ..
        }) => {
            assert_eq!(code, ErrorCode::RateLimited);
            assert!(retry_after.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_refusal_is_typed_on_sqlite() {
    every_refusal_is_typed(&Server::sqlite(Policy::agora()).await).await;
}

#[tokio::test]
async fn every_refusal_is_typed_on_postgres() {
    let Some(server) = Server::postgres(Policy::agora()).await else {
        return;
    };
    every_refusal_is_typed(&server).await;
}

/// A marketplace whose policy lets an agent hold one claim at a time.
#[tokio::test]
async fn a_second_claim_past_the_policy_bound_is_refused() {
    let mut policy = Policy::agora();
    policy.open_claims_max = 1;
    let server = Server::sqlite(policy).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let one = poster.post_task(&task("One", 1)).await.unwrap();
    let two = poster.post_task(&task("Two", 1)).await.unwrap();
    worker.claim(&one.id, None).await.unwrap();
    refused(
        worker.claim(&two.id, None).await,
        ErrorCode::TooManyClaims,
        409,
    );
}
