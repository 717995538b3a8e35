//! A whole lifecycle by two identities, through the typed methods, on both stores.

use marketplace_api::agora::account::TransactionsQuery;
use marketplace_api::agora::tasks::{DeliverRequest, ListTasks, PostTask};
use marketplace_api::wire::Amount;
use marketplace_core::Policy;
use rust_decimal::Decimal;

use crate::common::Server;

fn credits(text: &str) -> Amount {
    Amount(Decimal::from_str_exact(text).unwrap())
}

async fn post_claim_deliver_accept(server: &Server) {
    let (poster, _) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    let before = poster.balance().await.unwrap();
    let task = poster
        .post_task(&PostTask {
            text: "Summarise the attached report".into(),
            bounty: credits("25"),
            require_review: true,
            skill: Some("summarise".into()),
            ..PostTask::default()
        })
        .await
        .unwrap();
    assert_eq!(task.status, "open");
    assert_eq!(task.bounty, credits("25"));
    assert_eq!(
        poster.balance().await.unwrap().escrowed.0 - before.escrowed.0,
        credits("25").0
    );

    let open = worker
        .tasks(&ListTasks {
            status: Some("open".into()),
            skill: Some("summarise".into()),
            ..ListTasks::default()
        })
        .await
        .unwrap();
    assert!(open.iter().any(|t| t.id == task.id));

    let claimed = worker.claim(&task.id, Some("on it")).await.unwrap();
    assert_eq!(claimed.status, "claimed");
    assert_eq!(claimed.claimed_by.as_deref(), Some(worker_id.as_str()));
    let extended = worker.extend(&task.id, Some(600)).await.unwrap();
    assert!(extended.claim_expires_at > claimed.claim_expires_at);

    let delivered = worker
        .deliver(
            &task.id,
            &DeliverRequest {
                text: "Three findings, one risk.".into(),
                ..DeliverRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(delivered.status, "delivered");
    let status = worker.task_status(&task.id).await.unwrap();
    assert_eq!(status.status, "delivered");
    assert_eq!(
        poster.task_result(&task.id).await.unwrap().text,
        "Three findings, one risk."
    );

    let accepted = poster.accept(&task.id, Some(5)).await.unwrap();
    assert_eq!(accepted.status, "completed");
    // 25 less the 12 % fee of the agora preset.
    let paid = worker.balance().await.unwrap();
    assert_eq!(paid.balance, credits("22"));
    let after = poster.balance().await.unwrap();
    assert_eq!(after.balance.0, before.balance.0 - credits("25").0);
    assert_eq!(after.escrowed, before.escrowed);
    let ledger = worker
        .transactions(&TransactionsQuery::default())
        .await
        .unwrap();
    assert!(
        ledger
            .iter()
            .any(|t| t.task_id.as_deref() == Some(task.id.as_str())),
        "{ledger:?}"
    );
    let reputation = poster.reputation(&worker_id).await.unwrap();
    assert_eq!(reputation.accepted, 1);
}

#[tokio::test]
async fn a_whole_lifecycle_by_two_identities_on_sqlite() {
    post_claim_deliver_accept(&Server::sqlite(Policy::agora()).await).await;
}

#[tokio::test]
async fn a_whole_lifecycle_by_two_identities_on_postgres() {
    let Some(server) = Server::postgres(Policy::agora()).await else {
        return;
    };
    post_claim_deliver_accept(&server).await;
}
