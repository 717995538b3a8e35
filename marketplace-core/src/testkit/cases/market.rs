//! Escalation, bidding, contracts, the broker, messages, the board, idempotency, reads.

use rust_decimal::Decimal;

use super::{assert_code, fixture};
use crate::command::{Command, Outcome};
use crate::ids::{IdentityId, TaskId};
use crate::model::{
    ContractSpec, ContractStatus, DeliveryInput, Escalation, PostKind, PostSpec, RuleSpec,
    ServiceMeta, TaskSpec, TaskStatus, TxType,
};
use crate::store::{FeedKind, FeedQuery, ProfileQuery, SearchQuery, Store, TaskQuery};
use crate::testkit::{Harness, dec, snapshot};

/// Escalation adds `rate` per interval up to `cap`, escrowing each step; stops when claimed
/// or when the poster cannot cover a step.
pub async fn escalation<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let mut spec = TaskSpec::new("rising", 10);
    spec.bounty_escalation = Some(Escalation {
        rate: dec("4"),
        interval_hours: 1,
        cap: dec("20"),
    });
    let t = fx.market.post_task(&alice, spec.clone()).await.unwrap();
    fx.advance(3600);
    fx.market.sweep(10).await.unwrap();
    assert_eq!(
        fx.market.store().task(t.id).await.unwrap().unwrap().bounty,
        dec("14")
    );
    fx.advance(3 * 3600);
    let capped = fx.market.task(None, t.id).await.unwrap();
    assert_eq!(
        (capped.bounty, capped.due_at(), capped.escalation_steps),
        (dec("20"), Some(capped.expires_at), 3)
    );
    assert_eq!(fx.market.balance(&alice).await.unwrap().escrowed, dec("20"));
    let adjusts = fx
        .market
        .transactions(&alice, Some(TxType::Adjust), None, 10)
        .await
        .unwrap();
    assert_eq!(adjusts.iter().map(|l| l.escrow).sum::<Decimal>(), dec("10"));

    let t2 = fx.market.post_task(&alice, spec.clone()).await.unwrap();
    fx.market.claim(&bob, t2.id).await.unwrap();
    fx.advance(5 * 3600);
    let claimed = fx.market.task(None, t2.id).await.unwrap();
    assert_eq!(claimed.bounty, dec("10"), "no escalation once claimed");

    // alice: balance 100, credit 50, escrowed 30 → available 120; a 115 task leaves 5:
    // the next step of 4 is covered, the one after is not.
    let mut big = spec;
    big.bounty = dec("115");
    big.bounty_escalation = Some(Escalation {
        rate: dec("4"),
        interval_hours: 1,
        cap: dec("200"),
    });
    let t3 = fx.market.post_task(&alice, big).await.unwrap();
    fx.advance(3 * 3600);
    let stopped = fx.market.task(None, t3.id).await.unwrap();
    assert_eq!(
        (stopped.bounty, stopped.escalation_stopped),
        (dec("119"), true)
    );
    fx.assert_invariants().await;
}

/// Bids replace earlier bids; the award sets the bounty to the price and adjusts escrow.
pub async fn bidding_and_award<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let plain = fx
        .market
        .post_task(&alice, TaskSpec::new("plain", 5))
        .await
        .unwrap();
    assert_code(
        fx.market
            .bid(&bob, plain.id, "me", dec("5"), Some(60))
            .await,
        "not_bidding",
    );
    let mut spec = TaskSpec::new("logo design", 20);
    spec.bidding = true;
    let t = fx.market.post_task(&alice, spec.clone()).await.unwrap();
    assert_code(
        fx.market.bid(&alice, t.id, "me", dec("5"), Some(60)).await,
        "own_task",
    );
    fx.market
        .bid(&bob, t.id, "cheap", dec("15"), Some(600))
        .await
        .unwrap();
    let bob_bid = fx
        .market
        .bid(&bob, t.id, "cheaper", dec("12"), Some(600))
        .await
        .unwrap();
    let carol_bid = fx
        .market
        .bid(&carol, t.id, "best", dec("30"), Some(3600))
        .await
        .unwrap();
    assert_eq!(
        fx.market.task(None, t.id).await.unwrap().bids.len(),
        2,
        "one live bid per bidder"
    );
    assert_code(fx.market.award(&bob, t.id, bob_bid.id).await, "not_poster");
    assert_code(
        fx.market
            .award(&alice, t.id, crate::BidId(uuid::Uuid::nil()))
            .await,
        "bid_not_found",
    );

    let awarded = fx.market.award(&alice, t.id, carol_bid.id).await.unwrap();
    assert_eq!(
        (awarded.claimant(), awarded.bounty, awarded.bids.len()),
        (Some(&carol), dec("30"), 0)
    );
    let lease = awarded.claim.as_ref().unwrap();
    assert_eq!(
        (lease.expires_at - lease.claimed_at).num_seconds(),
        3600,
        "lease is the bid's turnaround"
    );
    assert_eq!(fx.market.balance(&alice).await.unwrap().escrowed, dec("35"));

    let t2 = fx.market.post_task(&alice, spec.clone()).await.unwrap();
    let low = fx
        .market
        .bid(&bob, t2.id, "low", dec("8"), None)
        .await
        .unwrap();
    let awarded = fx.market.award(&alice, t2.id, low.id).await.unwrap();
    let lease = awarded.claim.as_ref().unwrap();
    assert_eq!(
        (lease.expires_at - lease.claimed_at).num_seconds(),
        300,
        "a bid naming no turnaround gets the task's claim TTL"
    );
    assert_eq!(
        fx.market.balance(&alice).await.unwrap().escrowed,
        dec("43"),
        "lower price releases the difference"
    );

    let t3 = fx.market.post_task(&alice, spec).await.unwrap();
    let huge = fx
        .market
        .bid(&bob, t3.id, "pricey", dec("200"), Some(60))
        .await
        .unwrap();
    let before = snapshot(fx.market.store()).await;
    assert_code(
        fx.market.award(&alice, t3.id, huge.id).await,
        "insufficient_funds",
    );
    assert_eq!(snapshot(fx.market.store()).await, before);
    fx.assert_invariants().await;
}

/// Propose → accept → tasks go to the contractor at the price until `max_tasks`.
pub async fn contracts<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, eve) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("eve").await,
    );
    let spec = ContractSpec {
        agent: bob.clone(),
        capabilities: vec!["translation".into()],
        price_per_task: dec("7"),
        max_tasks: 2,
    };
    let c = fx
        .market
        .propose_contract(&alice, spec.clone())
        .await
        .unwrap();
    assert_eq!(c.status, ContractStatus::Proposed);
    let mut under = TaskSpec::new("translate", 99);
    under.contract = Some(c.id);
    assert_code(
        fx.market.post_task(&alice, under.clone()).await,
        "contract_state",
    );
    assert_code(
        fx.market.accept_contract(&alice, c.id).await,
        "not_contract_party",
    );
    assert_code(
        fx.market.accept_contract(&eve, c.id).await,
        "contract_not_found",
    );
    fx.market.accept_contract(&bob, c.id).await.unwrap();
    assert_code(
        fx.market.post_task(&eve, under.clone()).await,
        "not_contract_party",
    );
    let t = fx.market.post_task(&alice, under.clone()).await.unwrap();
    assert_eq!(
        (t.status, t.claimant(), t.bounty),
        (TaskStatus::Claimed, Some(&bob), dec("7"))
    );
    fx.market.post_task(&alice, under.clone()).await.unwrap();
    let listed = fx.market.contracts(&bob).await.unwrap();
    assert_eq!(
        (listed[0].tasks_used, listed[0].status),
        (2, ContractStatus::Fulfilled)
    );
    assert_code(fx.market.post_task(&alice, under).await, "contract_state");
    let c2 = fx.market.propose_contract(&alice, spec).await.unwrap();
    assert_eq!(
        fx.market.cancel_contract(&bob, c2.id).await.unwrap().status,
        ContractStatus::Cancelled
    );
    assert_code(
        fx.market.cancel_contract(&alice, c2.id).await,
        "contract_state",
    );
    fx.assert_invariants().await;
}

/// The broker claims posted and reopened tasks for the best eligible rule's owner.
pub async fn broker<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let (bob, carol) = (
        fx.agent_with("bob", &["research"]).await,
        fx.agent_with("carol", &["research"]).await,
    );
    let rule = |min: &str, max| RuleSpec {
        capabilities: vec!["research".into()],
        min_bounty: dec(min),
        max_concurrent: max,
        min_poster_rep: Decimal::ZERO,
    };
    fx.market.create_rule(&bob, rule("5", 1)).await.unwrap();
    fx.market.create_rule(&carol, rule("0", 5)).await.unwrap();
    assert_code(
        fx.market
            .create_rule(
                &carol,
                RuleSpec {
                    capabilities: vec![],
                    ..rule("0", 1)
                },
            )
            .await,
        "invalid_input",
    );

    // Carol builds reputation: she is preferred over bob once her score is higher.
    let warmup = fx
        .market
        .post_task(&alice, TaskSpec::new("warm-up", 1).skill("chat"))
        .await
        .unwrap();
    fx.market.claim(&carol, warmup.id).await.unwrap();
    fx.market
        .deliver(&carol, warmup.id, DeliveryInput::text("r"))
        .await
        .unwrap();
    fx.market.accept(&alice, warmup.id, None).await.unwrap();

    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("dig", 10).capabilities(["research"]))
        .await
        .unwrap();
    assert_eq!(t.claimant(), Some(&carol), "highest reputation wins");
    let cheap = fx
        .market
        .post_task(&alice, TaskSpec::new("small", 1).skill("research"))
        .await
        .unwrap();
    assert_eq!(cheap.claimant(), Some(&carol), "bob's rule needs 5");
    let unrelated = fx
        .market
        .post_task(&alice, TaskSpec::new("paint", 10).skill("art"))
        .await
        .unwrap();
    assert_eq!(unrelated.status, TaskStatus::Open);

    let rules = fx.market.rules(&carol).await.unwrap();
    fx.market.delete_rule(&carol, rules[0].id).await.unwrap();
    assert_code(
        fx.market.delete_rule(&bob, rules[0].id).await,
        "rule_not_found",
    );
    let b = fx
        .market
        .post_task(
            &alice,
            TaskSpec::new("for bob", 6).capabilities(["research"]),
        )
        .await
        .unwrap();
    assert_eq!(b.claimant(), Some(&bob));
    let full = fx
        .market
        .post_task(
            &alice,
            TaskSpec::new("bob is busy", 6).capabilities(["research"]),
        )
        .await
        .unwrap();
    assert_eq!(full.status, TaskStatus::Open, "max_concurrent 1 reached");

    // Reopening after a rejection hands the task to the broker again.
    fx.market
        .deliver(&bob, b.id, DeliveryInput::text("r"))
        .await
        .unwrap();
    let reopened = fx
        .market
        .reject(&alice, b.id, "redo", crate::RejectCategory::Quality)
        .await
        .unwrap();
    assert_eq!(
        reopened.claimant(),
        Some(&bob),
        "the broker claimed it again"
    );
    let matched = fx
        .market
        .broker_match(vec!["research".into(), "python".into()], 20)
        .await
        .unwrap();
    assert_eq!(
        matched.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![full.id]
    );
    fx.assert_invariants().await;
}

/// `pre_claim` questions from anyone on open tasks; afterwards only poster and claimant.
pub async fn messages<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, eve) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("eve").await,
    );
    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("x", 5))
        .await
        .unwrap();
    fx.market
        .message(&eve, t.id, "what format?", true)
        .await
        .unwrap();
    assert_code(
        fx.market.message(&eve, t.id, "psst", false).await,
        "not_participant",
    );
    fx.market.claim(&bob, t.id).await.unwrap();
    assert_code(
        fx.market.message(&eve, t.id, "still there?", true).await,
        "wrong_state",
    );
    fx.market
        .message(&bob, t.id, "working on it", false)
        .await
        .unwrap();
    fx.market
        .message(&alice, t.id, "thanks", false)
        .await
        .unwrap();
    assert_code(
        fx.market.message(&bob, t.id, "", false).await,
        "invalid_input",
    );
    assert_eq!(fx.market.messages(Some(&eve), t.id).await.unwrap().len(), 1);
    assert_eq!(fx.market.messages(None, t.id).await.unwrap().len(), 1);
    assert_eq!(fx.market.messages(Some(&bob), t.id).await.unwrap().len(), 3);
    assert_eq!(fx.market.task(None, t.id).await.unwrap().message_count, 3);
    fx.assert_invariants().await;
}

/// Services, posts, questions and answers; answers count for reputation; feed and search.
pub async fn board<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let post = |kind, text: &str, reply_to| PostSpec {
        kind,
        text: text.into(),
        topic: Some("general".into()),
        reply_to,
        service: None,
    };
    let q = fx
        .market
        .create_post(
            &alice,
            post(
                PostKind::Question,
                "How do I verify webhook signatures?",
                None,
            ),
        )
        .await
        .unwrap();
    let chat = fx
        .market
        .create_post(&bob, post(PostKind::Post, "hello board", None))
        .await
        .unwrap();
    fx.market
        .create_post(
            &bob,
            post(
                PostKind::Answer,
                "Compute an HMAC over the raw body",
                Some(q.id),
            ),
        )
        .await
        .unwrap();
    assert_code(
        fx.market
            .create_post(&bob, post(PostKind::Answer, "orphan", None))
            .await,
        "invalid_input",
    );
    assert_code(
        fx.market
            .create_post(&bob, post(PostKind::Answer, "to a chat", Some(chat.id)))
            .await,
        "invalid_input",
    );
    assert_code(
        fx.market
            .create_post(
                &bob,
                post(
                    PostKind::Answer,
                    "to nothing",
                    Some(crate::PostId(uuid::Uuid::nil())),
                ),
            )
            .await,
        "post_not_found",
    );
    assert_code(
        fx.market
            .create_post(&bob, post(PostKind::Service, "no terms", None))
            .await,
        "invalid_input",
    );
    let service = PostSpec {
        service: Some(ServiceMeta {
            price: dec("15"),
            turnaround_sla_secs: Some(3600),
            capabilities: vec!["logo".into()],
        }),
        ..post(PostKind::Service, "Logo design, fast", None)
    };
    fx.market.create_post(&bob, service).await.unwrap();
    fx.market
        .post_task(&alice, TaskSpec::new("Need a logo design for my bot", 5))
        .await
        .unwrap();

    let rep = fx.market.reputation(&bob).await.unwrap().counters;
    assert_eq!((rep.answers, rep.total), (1, 3));
    let feed = fx
        .market
        .feed(
            FeedQuery {
                limit: 50,
                ..Default::default()
            },
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(feed.len(), 5);
    let services = fx
        .market
        .feed(
            FeedQuery {
                kind: Some(FeedKind::Post(PostKind::Service)),
                limit: 50,
                ..Default::default()
            },
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(services.len(), 1);
    let hits = fx
        .market
        .search(SearchQuery {
            text: "logo design".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    let tasks_only = fx
        .market
        .search(SearchQuery {
            text: "logo".into(),
            kind: Some(FeedKind::Task),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tasks_only.len(), 1);
    assert_code(
        fx.market
            .search(SearchQuery {
                text: "x".repeat(300),
                limit: 10,
                ..Default::default()
            })
            .await,
        "invalid_input",
    );
    let rep_filtered = fx
        .market
        .feed(
            FeedQuery {
                limit: 50,
                ..Default::default()
            },
            Some(dec("4")),
            &[],
        )
        .await
        .unwrap();
    assert!(
        rep_filtered.iter().all(|i| i.author() == &bob),
        "alice's score is below 4"
    );
    fx.assert_invariants().await;
}

/// Same key + same request → the stored outcome; same key + another request → refused.
pub async fn idempotency<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let post = Command::PostTask(TaskSpec::new("once", 10).into());
    let first = fx
        .market
        .execute_idempotent(&alice, post.clone(), "key-1")
        .await
        .unwrap();
    let again = fx
        .market
        .execute_idempotent(&alice, post.clone(), "key-1")
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(
        fx.market.balance(&alice).await.unwrap().escrowed,
        dec("10"),
        "executed once"
    );
    let other = Command::PostTask(TaskSpec::new("other", 10).into());
    assert_code(
        fx.market.execute_idempotent(&alice, other, "key-1").await,
        "idempotency_conflict",
    );
    // Keys are per caller.
    fx.market
        .execute_idempotent(&bob, post.clone(), "key-1")
        .await
        .unwrap();
    // A refused command is not remembered.
    let Outcome::Task(task) = first else {
        panic!("not a task")
    };
    assert_code(
        fx.market
            .execute_idempotent(
                &alice,
                Command::Claim {
                    task: task.id,
                    note: None,
                },
                "key-2",
            )
            .await,
        "own_task",
    );
    fx.market
        .execute_idempotent(
            &bob,
            Command::Claim {
                task: task.id,
                note: None,
            },
            "key-2",
        )
        .await
        .unwrap();
    assert_code(
        fx.market.execute_idempotent(&alice, post.clone(), "").await,
        "invalid_input",
    );
    // After 24 hours the key is forgotten: the request runs again.
    fx.advance(24 * 3600 + 1);
    fx.market.sweep(100).await.unwrap();
    fx.market
        .execute_idempotent(&alice, post, "key-1")
        .await
        .unwrap();
    assert_eq!(fx.market.balance(&alice).await.unwrap().escrowed, dec("20"));
    fx.assert_invariants().await;
}

/// A worker's own lists: the tasks whose waitlist holds it (while claimed or delivered,
/// gone when the task closes) and the tasks it delivered, alone or with a status.
pub async fn queued_and_delivered<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let (bob, carol, dave) = (
        fx.agent("bob").await,
        fx.agent("carol").await,
        fx.agent("dave").await,
    );
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut spec = TaskSpec::new(format!("task {i}"), 1);
        spec.require_review = true;
        ids.push(fx.market.post_task(&alice, spec).await.unwrap().id);
        fx.advance(1);
    }
    let list = async |query: TaskQuery| -> Vec<TaskId> {
        let query = TaskQuery { limit: 10, ..query };
        let tasks = fx.market.tasks(None, query).await.unwrap();
        tasks.iter().map(|t| t.id).collect()
    };
    // Bob claims 0 and 1; Carol waits on both, Dave on 1.
    for id in [ids[0], ids[1]] {
        fx.market.claim(&bob, id).await.unwrap();
        fx.market.join_queue(&carol, id).await.unwrap();
    }
    fx.market.join_queue(&dave, ids[1]).await.unwrap();
    let queued = |who: &IdentityId| TaskQuery {
        queued: Some(who.clone()),
        ..TaskQuery::default()
    };
    assert_eq!(
        list(queued(&carol)).await,
        vec![ids[1], ids[0]],
        "newest first"
    );
    assert_eq!(list(queued(&dave)).await, vec![ids[1]]);
    assert!(
        list(queued(&bob)).await.is_empty(),
        "the claimant does not wait"
    );
    // Bob delivers 0: Carol still waits on it while it is reviewed.
    fx.market
        .deliver(&bob, ids[0], DeliveryInput::text("r"))
        .await
        .unwrap();
    assert_eq!(list(queued(&carol)).await, vec![ids[1], ids[0]]);
    let delivered = |who: &IdentityId, status: Option<TaskStatus>| TaskQuery {
        deliverer: Some(who.clone()),
        status,
        ..TaskQuery::default()
    };
    assert_eq!(list(delivered(&bob, None)).await, vec![ids[0]]);
    assert_eq!(
        list(delivered(&bob, Some(TaskStatus::Delivered))).await,
        vec![ids[0]]
    );
    assert!(list(delivered(&carol, None)).await.is_empty());
    // Accepted, 0 closes: its waitlist is gone, its delivery stays.
    fx.market.accept(&alice, ids[0], None).await.unwrap();
    assert_eq!(list(queued(&carol)).await, vec![ids[1]]);
    assert_eq!(list(delivered(&bob, None)).await, vec![ids[0]]);
    assert!(
        list(delivered(&bob, Some(TaskStatus::Delivered)))
            .await
            .is_empty()
    );
    assert_eq!(
        list(delivered(&bob, Some(TaskStatus::Completed))).await,
        vec![ids[0]]
    );
    // Filters combine: Carol's waitlist among Alice's tasks, and among Dave's (none).
    let mut both = queued(&carol);
    both.poster = Some(alice.clone());
    assert_eq!(list(both.clone()).await, vec![ids[1]]);
    both.poster = Some(dave.clone());
    assert!(list(both).await.is_empty());
}

/// Lists, cursors, filters, balances, transactions, signals, profiles, reputation decay.
pub async fn reads<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let (bob, carol) = (
        fx.agent_with("bob", &["python", "research"]).await,
        fx.agent_with("carol", &["python"]).await,
    );
    let mut ids = Vec::new();
    for i in 0..5 {
        let skill = if i % 2 == 0 { "python" } else { "design" };
        ids.push(
            fx.market
                .post_task(
                    &alice,
                    TaskSpec::new(format!("task {i}"), i + 1).skill(skill),
                )
                .await
                .unwrap()
                .id,
        );
        fx.advance(1);
    }
    let page = fx
        .market
        .tasks(
            None,
            TaskQuery {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![ids[4], ids[3]],
        "newest first"
    );
    let next = fx
        .market
        .tasks(
            None,
            TaskQuery {
                limit: 2,
                before: Some(ids[3]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    let python = fx
        .market
        .tasks(
            None,
            TaskQuery {
                skill: Some("python".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(python.len(), 3);
    fx.market.claim(&bob, ids[0]).await.unwrap();
    fx.market
        .deliver(&bob, ids[0], DeliveryInput::text("r"))
        .await
        .unwrap();
    fx.market.accept(&alice, ids[0], None).await.unwrap();
    let open = fx
        .market
        .tasks(
            None,
            TaskQuery {
                status: Some(TaskStatus::Open),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(open.len(), 4);
    let mine = fx
        .market
        .tasks(
            None,
            TaskQuery {
                poster: Some(bob.clone()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(mine.is_empty());

    let signals = fx.market.market_signals().await.unwrap();
    let demand: Vec<_> = signals
        .demand
        .iter()
        .map(|d| (d.skill.as_str(), d.open_tasks, d.open_bounty))
        .collect();
    assert_eq!(demand, [("design", 2, dec("6")), ("python", 2, dec("8"))]);
    assert_eq!(signals.supply[0].capability, "python");
    assert_eq!(signals.supply[0].agents, 2);
    assert_eq!(
        (
            signals.going_rates[0].skill.as_str(),
            signals.going_rates[0].average_bounty
        ),
        ("python", dec("1"))
    );

    let lines = fx
        .market
        .transactions(&alice, None, None, 100)
        .await
        .unwrap();
    assert!(
        lines.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first"
    );
    let releases = fx
        .market
        .transactions(&alice, Some(TxType::Release), None, 100)
        .await
        .unwrap();
    assert_eq!(releases.len(), 1);
    let older = fx
        .market
        .transactions(&alice, None, Some(lines[0].seq), 100)
        .await
        .unwrap();
    assert_eq!(older.len(), lines.len() - 1);

    let profiles = fx
        .market
        .profiles(ProfileQuery {
            capability: Some("python".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut expected = vec![bob.clone(), carol.clone()];
    expected.sort();
    assert_eq!(
        profiles.into_iter().map(|p| p.identity).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(fx.market.profile(&bob).await.unwrap().alias, "bob");

    // Decay: raw 8 (claim 1 + delivered 2 + accepted 5); 30 idle days → 1 - 0.02 * 23 = 0.54.
    fx.advance(30 * 86_400);
    let rep = fx.market.reputation(&bob).await.unwrap();
    assert_eq!(
        (rep.raw, rep.decay, rep.score),
        (8, dec("0.54"), dec("4.32"))
    );
    fx.advance(100 * 86_400);
    assert_eq!(
        fx.market.reputation(&bob).await.unwrap().decay,
        dec("0.1"),
        "floor 10%"
    );
    fx.assert_invariants().await;
}

/// Pages of tasks by several capabilities (a task with two of them once), with status and
/// cursor, and search pages: always the newest matches first, none skipped or repeated.
pub async fn pages_by_capability_and_search<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let mut posted = Vec::new();
    for i in 0..12_u32 {
        let caps: &[&str] = match i % 4 {
            0 => &["python"],
            1 => &["research"],
            2 => &["python", "research"],
            _ => &["design"],
        };
        let text = if i % 2 == 0 {
            format!("report {i} alpha beta")
        } else {
            format!("report {i} alpha")
        };
        let task = fx
            .market
            .post_task(&alice, TaskSpec::new(text, 1).capabilities(caps.to_vec()))
            .await
            .unwrap();
        posted.push((task.id, i));
        fx.advance(1);
    }
    let newest_first = |keep: &dyn Fn(u32) -> bool| -> Vec<_> {
        posted
            .iter()
            .rev()
            .filter(|(_, i)| keep(*i))
            .map(|(id, _)| *id)
            .collect()
    };
    fx.market.claim(&bob, posted[4].0).await.unwrap();

    let page_through = async |status: Option<TaskStatus>| {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let query = TaskQuery {
                capabilities: vec!["python".into(), "research".into()],
                status,
                before,
                limit: 3,
                ..Default::default()
            };
            let page = fx.market.tasks(None, query).await.unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            seen.extend(page.iter().map(|t| t.id));
        }
        seen
    };
    assert_eq!(
        page_through(None).await,
        newest_first(&|i| i % 4 != 3),
        "every task with either capability, newest first, once"
    );
    assert_eq!(
        page_through(Some(TaskStatus::Open)).await,
        newest_first(&|i| i % 4 != 3 && i != 4),
        "the claimed task is not open"
    );

    let search = async |text: &str, limit: usize| {
        let query = SearchQuery {
            text: text.into(),
            kind: Some(FeedKind::Task),
            limit,
            ..Default::default()
        };
        let hits = fx.market.search(query).await.unwrap();
        hits.iter()
            .map(|item| match item {
                crate::store::FeedItem::Task(t) => t.id,
                other => panic!("not a task: {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(search("alpha", 5).await, newest_first(&|_| true)[..5]);
    assert_eq!(
        search("beta alpha", 4).await,
        newest_first(&|i| i % 2 == 0)[..4]
    );
    assert!(search("gamma", 5).await.is_empty());
}
