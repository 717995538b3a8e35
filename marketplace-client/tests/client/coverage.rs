//! Every operation of the served OpenAPI document has a client method: a scenario calls each
//! method, and the server's record of what it answered must hold every documented operation
//! — answered with success, except the few this scenario cannot make succeed, which must at
//! least reach their route.

use std::time::Duration;

use futures::StreamExt;
use marketplace_api::agentmarket::{
    AgentsQuery, PostTask as AmPostTask, RegisterAgent, TasksQuery,
};
use marketplace_api::agora::account::{ProfileRequest, TransactionsQuery};
use marketplace_api::agora::board::{
    FeedParams, PostRequest, SearchParams, ServiceTerms, ServicesParams,
};
use marketplace_api::agora::broker::{ContractRequest, MatchParams, RuleRequest};
use marketplace_api::agora::events::EventsParams;
use marketplace_api::agora::tasks::{
    BidRequest, DeliverRequest, ListTasks, MessageRequest, PostTask, RejectRequest,
};
use marketplace_api::execute::ExecuteRequest;
use marketplace_api::webhooks::{DeliveriesQuery, SetWebhook, TestWebhook};
use marketplace_api::wire::Amount;
use marketplace_client::{Credentials, NodeKey};
use marketplace_core::{Policy, RejectCategory};
use serde_json::{Value, json};

use crate::common::Server;

/// Operations this scenario reaches without making them succeed: running an agent needs an
/// endpoint or an LLM the test server lacks, and a test delivery needs a reachable webhook.
const REACHED_ONLY: &[&str] = &["agentmarket_execute", "agora_test_webhook"];

fn task(text: &str, bounty: i64) -> PostTask {
    PostTask {
        text: text.into(),
        bounty: Amount(bounty.into()),
        require_review: true,
        skill: Some("translate".into()),
        required_capabilities: vec!["translate".into()],
        ..PostTask::default()
    }
}

#[tokio::test]
async fn every_documented_operation_has_a_client_method_on_sqlite() {
    every_operation(&Server::sqlite(Policy::agora()).await).await;
}

#[tokio::test]
async fn every_documented_operation_has_a_client_method_on_postgres() {
    let Some(server) = Server::postgres(Policy::agora()).await else {
        return;
    };
    every_operation(&server).await;
}

async fn every_operation(server: &Server) {
    let anonymous = server.client();
    let (poster, poster_id) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    let (third, _) = server.agent("third").await;

    // Operations and credentials.
    anonymous.health().await.unwrap();
    assert!(
        anonymous
            .metrics()
            .await
            .unwrap()
            .contains("http_requests_total")
    );
    let node = anonymous.with_credentials(Credentials::Node(NodeKey::generate().unwrap()));
    node.register_node("node").await.unwrap();
    anonymous
        .signup("coverage@example.com", "a long password", "person")
        .await
        .unwrap();
    anonymous
        .login("coverage@example.com", "a long password")
        .await
        .unwrap();
    let key = worker.create_key().await.unwrap();
    assert_eq!(worker.keys().await.unwrap().len(), 2);
    worker.revoke_key(&key.prefix).await.unwrap();

    // The event stream: opened before a task is posted, it carries the posting.
    let events = poster.events(EventsParams::default(), None).await.unwrap();
    futures::pin_mut!(events);

    // Profiles and the board.
    worker
        .set_profile(&ProfileRequest {
            capabilities: Some(vec!["translate".into()]),
            bio: Some("I translate".into()),
            ..ProfileRequest::default()
        })
        .await
        .unwrap();
    poster.profile(&worker_id).await.unwrap();
    poster.reputation(&worker_id).await.unwrap();
    let service = worker
        .create_post(&PostRequest {
            kind: Some("service".into()),
            text: "Translations, fast".into(),
            topic: None,
            reply_to: None,
            meta: Some(ServiceTerms {
                price: Amount(4.into()),
                turnaround_sla_s: Some(3600),
                capabilities: vec!["translate".into()],
            }),
        })
        .await
        .unwrap();
    assert!(!service.id.is_empty());
    anonymous
        .services(&ServicesParams::default())
        .await
        .unwrap();

    // A task through its whole life, with a rejection and a waitlist.
    let posted = poster
        .post_task(&task("Translate the manual", 10))
        .await
        .unwrap();
    let posting = async {
        while let Some(event) = events.next().await {
            let event = event.unwrap();
            if event.task_id.as_deref() == Some(posted.id.as_str()) {
                return event;
            }
        }
        panic!("the stream ended")
    };
    let event = tokio::time::timeout(Duration::from_secs(10), posting)
        .await
        .expect("the posting reaches the stream");
    assert_eq!(event.kind, "task.posted");
    anonymous.feed(&FeedParams::default()).await.unwrap();
    anonymous
        .search(&SearchParams {
            q: "manual".into(),
            ..SearchParams::default()
        })
        .await
        .unwrap();
    anonymous.signals().await.unwrap();
    worker
        .broker_match(&MatchParams {
            capabilities: "translate".into(),
            limit: None,
        })
        .await
        .unwrap();
    anonymous.tasks(&ListTasks::default()).await.unwrap();
    anonymous.task(&posted.id).await.unwrap();
    anonymous.task_status(&posted.id).await.unwrap();
    worker
        .message(
            &posted.id,
            &MessageRequest {
                text: "Which language?".into(),
                pre_claim: true,
            },
        )
        .await
        .unwrap();
    worker.claim(&posted.id, None).await.unwrap();
    worker.extend(&posted.id, None).await.unwrap();
    third.join_queue(&posted.id).await.unwrap();
    third.leave_queue(&posted.id).await.unwrap();
    let uploaded = worker
        .upload_bytes(b"the manual, translated".to_vec(), "text/plain")
        .await
        .unwrap();
    let delivery = DeliverRequest {
        text: "first try".into(),
        ..DeliverRequest::default()
    };
    worker.deliver(&posted.id, &delivery).await.unwrap();
    poster
        .reject(
            &posted.id,
            &RejectRequest {
                text: "Half of it is missing".into(),
                category: RejectCategory::Incomplete,
            },
        )
        .await
        .unwrap();
    worker.claim(&posted.id, None).await.unwrap();
    let mut second = delivery;
    second.text = "all of it".into();
    second.meta.artifact_hash = Some(uploaded.hash.clone());
    worker.deliver(&posted.id, &second).await.unwrap();
    poster.task_result(&posted.id).await.unwrap();
    poster
        .artifact(&uploaded.hash, Some(&posted.id))
        .await
        .unwrap();
    poster.accept(&posted.id, Some(4)).await.unwrap();
    worker.balance().await.unwrap();
    worker
        .transactions(&TransactionsQuery::default())
        .await
        .unwrap();
    worker.earnings().await.unwrap();

    // Cancelling, bidding and awarding.
    let unwanted = poster.post_task(&task("Never mind", 1)).await.unwrap();
    poster.cancel(&unwanted.id).await.unwrap();
    let mut bidding = task("Bid on this", 6);
    bidding.bidding = true;
    let bidding = poster.post_task(&bidding).await.unwrap();
    let bid = worker
        .bid(
            &bidding.id,
            &BidRequest {
                text: "I can".into(),
                offered_price: Amount(5.into()),
                turnaround_s: Some(600),
            },
        )
        .await
        .unwrap();
    poster.award(&bidding.id, &bid.id).await.unwrap();

    // The broker, contracts and the skill call.
    let rule = worker
        .create_rule(&RuleRequest {
            capabilities: vec!["translate".into()],
            min_bounty: Amount(1.into()),
            max_concurrent: Some(1),
            min_poster_rep: Amount(0.into()),
        })
        .await
        .unwrap();
    assert_eq!(worker.rules().await.unwrap().len(), 1);
    worker.delete_rule(Some(&rule.rule_id)).await.unwrap();
    let contract = poster
        .propose_contract(&ContractRequest {
            agent: worker_id.clone(),
            capabilities: vec!["translate".into()],
            price_per_task: Amount(2.into()),
            max_tasks: 3,
        })
        .await
        .unwrap();
    worker
        .contract_action(&contract.id, "accept")
        .await
        .unwrap();
    poster.contracts().await.unwrap();
    let balance: Value = worker.skill(&json!({"action": "balance"})).await.unwrap();
    assert_eq!(balance["identity_hash"], worker_id.as_str());

    // Webhooks.
    worker.rotate_webhook_secret().await.unwrap();
    worker
        .webhook_deliveries(&DeliveriesQuery::default())
        .await
        .unwrap();
    let _ = worker.test_webhook(&TestWebhook { channel: None }).await;

    // The AgentMarket dialect.
    let am = anonymous.agentmarket();
    let registered = am
        .register(&RegisterAgent {
            name: "am-agent".into(),
            description: Some("does things".into()),
            capabilities: vec!["write".into()],
            price_per_task: Some(Amount(1.into())),
            endpoint_url: None,
            system_prompt: None,
            webhook_url: None,
            owner_email: None,
        })
        .await
        .unwrap();
    let am_agent = anonymous.with_credentials(Credentials::ApiKey(registered.data.api_key.clone()));
    let am_poster = poster.agentmarket();
    am.agents(&AgentsQuery::default()).await.unwrap();
    am.agent(&registered.data.id).await.unwrap();
    am_agent.agentmarket().me().await.unwrap();
    let am_task = am_poster
        .post_task(&AmPostTask {
            title: "Write a haiku".into(),
            description: None,
            budget: Amount(3.into()),
            required_capabilities: vec!["write".into()],
        })
        .await
        .unwrap();
    am.tasks(&TasksQuery::default()).await.unwrap();
    am.task(&am_task.data.id).await.unwrap();
    am_agent
        .agentmarket()
        .accept(&am_task.data.id)
        .await
        .unwrap();
    am_agent
        .agentmarket()
        .complete(&am_task.data.id, "an old pond")
        .await
        .unwrap();
    am_agent.agentmarket().wallet().await.unwrap();
    am_agent
        .agentmarket()
        .set_webhook(&SetWebhook {
            webhook_url: "https://hooks.example.com/market".into(),
            events: None,
            rotate_secret: false,
        })
        .await
        .unwrap();
    am_agent.agentmarket().webhook().await.unwrap();
    let _ = am_poster
        .execute(&ExecuteRequest {
            agent_id: registered.data.id.clone(),
            task_description: "Write another".into(),
            budget: Amount(2.into()),
        })
        .await;
    assert_ne!(poster_id, worker_id);

    // Now: what the document lists against what the server answered.
    let document = reqwest::get(format!("{}/api/v1/openapi.json", server.url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let document: Value = serde_json::from_slice(&document).unwrap();
    let seen = server.seen.lock().unwrap().clone();
    let templates: Vec<(String, String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .filter_map(|(method, operation)| {
                    let id = operation.get("operationId")?.as_str()?.to_owned();
                    Some((method.to_uppercase(), path.clone(), id))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(templates.len() >= 60, "{} operations", templates.len());
    let mut missing = Vec::new();
    for (method, template, id) in &templates {
        let answered = seen.iter().filter(|(m, path, _)| {
            m == method && best_template(&templates, m, path) == Some(template.as_str())
        });
        let covered = if REACHED_ONLY.contains(&id.as_str()) {
            answered
                .into_iter()
                .any(|(_, _, status)| *status != 404 && *status != 405)
        } else {
            answered
                .into_iter()
                .any(|(_, _, status)| (200..300).contains(status))
        };
        if !covered {
            missing.push(format!("{id} ({method} {template})"));
        }
    }
    assert!(
        missing.is_empty(),
        "operations without a working client call: {missing:#?}"
    );
}

/// The template of `templates` that `path` matches with the most literal segments.
fn best_template<'a>(
    templates: &'a [(String, String, String)],
    method: &str,
    path: &str,
) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    templates
        .iter()
        .filter(|(m, _, _)| m == method)
        .filter_map(|(_, template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    continue;
                }
                if part != segment {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}
