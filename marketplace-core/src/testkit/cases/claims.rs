//! Claims, extension, the waitlist, claim expiry and delivery rules.

use super::{assert_code, fixture};
use crate::model::{DeliveryInput, DeliveryMeta, EventKind, TaskSpec, TaskStatus};
use crate::store::Store;
use crate::testkit::{Harness, dec, snapshot};

/// First claim wins; posters can't claim their own tasks; bidding tasks take bids.
pub async fn first_claim_wins<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("x", 5))
        .await
        .unwrap();
    assert_code(fx.market.claim(&alice, t.id).await, "own_task");
    fx.market.claim(&bob, t.id).await.unwrap();
    assert_code(fx.market.claim(&carol, t.id).await, "already_claimed");
    assert_code(fx.market.claim(&bob, t.id).await, "already_claimant");
    let mut bidding = TaskSpec::new("bids", 5);
    bidding.bidding = true;
    let b = fx.market.post_task(&alice, bidding).await.unwrap();
    assert_code(fx.market.claim(&bob, b.id).await, "bidding_only");
    assert_code(
        fx.market
            .claim(&bob, crate::TaskId(uuid::Uuid::nil()))
            .await,
        "task_not_found",
    );
    let rep = fx.market.reputation(&bob).await.unwrap().counters;
    assert_eq!((rep.claims, rep.open_claims), (1, 1));
    fx.assert_invariants().await;
}

/// `assign_to`, `min_reputation`, `depends_on`.
pub async fn claim_rules<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let mut assigned = TaskSpec::new("for carol", 5);
    assigned.assign_to = Some(carol.clone());
    let a = fx.market.post_task(&alice, assigned).await.unwrap();
    assert_code(fx.market.claim(&bob, a.id).await, "not_assignee");
    assert_code(fx.market.join_queue(&bob, a.id).await, "not_assignee");
    fx.market.claim(&carol, a.id).await.unwrap();

    let mut picky = TaskSpec::new("experts only", 5);
    picky.min_reputation = Some(dec("3"));
    let p = fx.market.post_task(&alice, picky).await.unwrap();
    // bob: no activity yet, raw 0.
    assert_code(fx.market.claim(&bob, p.id).await, "reputation_too_low");
    // carol has one claim (raw 1); a delivery adds 2: raw 3.
    fx.market
        .deliver(&carol, a.id, DeliveryInput::text("done"))
        .await
        .unwrap();
    fx.market.claim(&carol, p.id).await.unwrap();

    let first = fx
        .market
        .post_task(&alice, TaskSpec::new("first", 1))
        .await
        .unwrap();
    let mut second = TaskSpec::new("second", 1);
    second.depends_on = vec![first.id];
    let s = fx.market.post_task(&alice, second).await.unwrap();
    assert_code(fx.market.claim(&bob, s.id).await, "dependencies_incomplete");
    fx.market.claim(&bob, first.id).await.unwrap();
    fx.market
        .deliver(&bob, first.id, DeliveryInput::text("r"))
        .await
        .unwrap();
    assert_code(fx.market.claim(&bob, s.id).await, "dependencies_incomplete");
    fx.market.accept(&alice, first.id, None).await.unwrap();
    fx.market.claim(&bob, s.id).await.unwrap();

    let mut dangling = TaskSpec::new("dangling", 1);
    dangling.depends_on = vec![crate::TaskId(uuid::Uuid::nil())];
    assert_code(
        fx.market.post_task(&alice, dangling).await,
        "dependency_not_found",
    );
    let mut own = TaskSpec::new("self", 1);
    own.assign_to = Some(alice.clone());
    assert_code(fx.market.post_task(&alice, own).await, "own_task");
    fx.assert_invariants().await;
}

/// Extensions renew the lease, never past `max_turnaround_s`.
pub async fn extend_claim<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let mut spec = TaskSpec::new("x", 5);
    spec.claim_ttl_secs = Some(100);
    spec.max_turnaround_secs = Some(250);
    let t = fx.market.post_task(&alice, spec).await.unwrap();
    let claimed = fx.market.claim(&bob, t.id).await.unwrap();
    let claimed_at = claimed.claim.as_ref().unwrap().claimed_at;
    assert_code(fx.market.extend(&carol, t.id, None).await, "not_claimant");
    fx.advance(90);
    let e = fx.market.extend(&bob, t.id, None).await.unwrap();
    assert_eq!(
        (e.claim.unwrap().expires_at - claimed_at).num_seconds(),
        190
    );
    fx.advance(90);
    let e = fx.market.extend(&bob, t.id, Some(1000)).await.unwrap();
    assert_eq!(
        (e.claim.unwrap().expires_at - claimed_at).num_seconds(),
        250,
        "capped at max_turnaround_s"
    );
    assert_code(fx.market.extend(&bob, t.id, None).await, "limit_reached");
    assert_code(fx.market.extend(&bob, t.id, Some(0)).await, "invalid_input");
    fx.advance(71);
    assert_code(fx.market.extend(&bob, t.id, None).await, "wrong_state");
    fx.assert_invariants().await;
}

/// Waitlist rules: claimed tasks only, no poster, no claimant, no duplicates, at most 10.
pub async fn queue_rules<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let mut agents = Vec::new();
    for i in 0..12 {
        agents.push(fx.agent(&format!("agent-{i}")).await);
    }
    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("x", 5))
        .await
        .unwrap();
    assert_code(fx.market.join_queue(&agents[0], t.id).await, "wrong_state");
    fx.market.claim(&agents[0], t.id).await.unwrap();
    assert_code(fx.market.join_queue(&alice, t.id).await, "own_task");
    assert_code(
        fx.market.join_queue(&agents[0], t.id).await,
        "already_claimant",
    );
    for agent in &agents[1..11] {
        fx.market.join_queue(agent, t.id).await.unwrap();
    }
    assert_code(
        fx.market.join_queue(&agents[1], t.id).await,
        "already_queued",
    );
    let before = snapshot(fx.market.store()).await;
    assert_code(fx.market.join_queue(&agents[11], t.id).await, "queue_full");
    assert_eq!(snapshot(fx.market.store()).await, before);
    let left = fx.market.leave_queue(&agents[5], t.id).await.unwrap();
    assert_eq!(left.queue.len(), 9);
    assert_code(fx.market.leave_queue(&agents[5], t.id).await, "not_queued");
    fx.market.join_queue(&agents[11], t.id).await.unwrap();
    let order: Vec<_> = fx
        .market
        .task(None, t.id)
        .await
        .unwrap()
        .queue
        .into_iter()
        .map(|e| e.agent)
        .collect();
    let mut expected: Vec<_> = agents[1..11]
        .iter()
        .filter(|a| **a != agents[5])
        .cloned()
        .collect();
    expected.push(agents[11].clone());
    assert_eq!(order, expected, "FIFO order kept");
    fx.assert_invariants().await;
}

/// An expired claim is a ghost; the queue's head gets a fresh lease, then the next; then open.
pub async fn claim_expiry_promotes_fifo<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol, dave) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
        fx.agent("dave").await,
    );
    let mut spec = TaskSpec::new("x", 5);
    spec.claim_ttl_secs = Some(60);
    let t = fx.market.post_task(&alice, spec).await.unwrap();
    fx.market.claim(&bob, t.id).await.unwrap();
    fx.market.join_queue(&carol, t.id).await.unwrap();
    fx.market.join_queue(&dave, t.id).await.unwrap();
    fx.advance(59);
    assert_eq!(fx.market.sweep(10).await.unwrap(), 0);
    fx.advance(1);
    assert_eq!(fx.market.sweep(10).await.unwrap(), 1);
    let now = fx.market.now();
    let after = fx.market.store().task(t.id).await.unwrap().unwrap();
    assert_eq!(after.claimant(), Some(&carol));
    assert_eq!(
        after.claim.as_ref().unwrap().expires_at,
        now + chrono::Duration::seconds(60),
        "fresh lease from promotion"
    );
    let ghost = fx.market.reputation(&bob).await.unwrap();
    assert_eq!(
        (ghost.counters.ghosts, ghost.counters.open_claims, ghost.raw),
        (1, 0, 1 - 4)
    );
    assert_code(
        fx.market
            .deliver(&bob, t.id, DeliveryInput::text("too late"))
            .await,
        "not_claimant",
    );

    fx.advance(60);
    // No sweep: a command touching the task applies the deadline first.
    assert_code(fx.market.claim(&bob, t.id).await, "already_claimed");
    assert_eq!(
        fx.market.task(None, t.id).await.unwrap().claimant(),
        Some(&dave)
    );
    fx.advance(60);
    let open = fx.market.task(None, t.id).await.unwrap();
    assert_eq!((open.status, open.queue.len()), (TaskStatus::Open, 0));
    let kinds: Vec<_> = fx
        .market
        .events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| {
            matches!(
                k,
                EventKind::ClaimExpired | EventKind::QueuePromoted | EventKind::TaskReopened
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::ClaimExpired,
            EventKind::QueuePromoted,
            EventKind::ClaimExpired,
            EventKind::QueuePromoted,
            EventKind::ClaimExpired,
            EventKind::TaskReopened
        ]
    );
    fx.assert_invariants().await;
}

/// Only the live claimant delivers; artifacts must exist; `result_schema` is enforced.
pub async fn deliver_rules<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let mut spec = TaskSpec::new("structured", 5);
    spec.result_schema = Some(serde_json::json!({
        "type": "object", "required": ["score"],
        "properties": {"score": {"type": "integer", "minimum": 0}}
    }));
    let t = fx.market.post_task(&alice, spec).await.unwrap();
    assert_code(
        fx.market
            .deliver(&bob, t.id, DeliveryInput::text("r"))
            .await,
        "wrong_state",
    );
    fx.market.claim(&bob, t.id).await.unwrap();
    assert_code(
        fx.market
            .deliver(&carol, t.id, DeliveryInput::text("r"))
            .await,
        "not_claimant",
    );
    assert_code(
        fx.market
            .deliver(&bob, t.id, DeliveryInput::text("not json"))
            .await,
        "result_schema_mismatch",
    );
    assert_code(
        fx.market
            .deliver(&bob, t.id, DeliveryInput::text(r#"{"score": -1}"#))
            .await,
        "result_schema_mismatch",
    );
    let hash = format!("{}.pdf", "ab".repeat(32));
    let with_hash = |h: &str| DeliveryInput {
        text: "see file".into(),
        meta: DeliveryMeta {
            output: Some(serde_json::json!({"score": 7})),
            artifact_hash: Some(h.into()),
            artifact_url: None,
        },
    };
    assert_code(
        fx.market.deliver(&bob, t.id, with_hash(&hash)).await,
        "artifact_not_found",
    );
    assert_code(
        fx.market
            .deliver(&bob, t.id, with_hash("../etc/passwd"))
            .await,
        "invalid_input",
    );
    let url = DeliveryInput {
        text: "x".into(),
        meta: DeliveryMeta {
            artifact_url: Some("http://insecure".into()),
            ..Default::default()
        },
    };
    assert_code(fx.market.deliver(&bob, t.id, url).await, "invalid_input");
    fx.market
        .record_blob(&bob, &hash, 42_000, "application/pdf")
        .await
        .unwrap();
    let d = fx
        .market
        .deliver(&bob, t.id, with_hash(&hash))
        .await
        .unwrap();
    assert_eq!(
        d.delivery.unwrap().meta.artifact_hash.as_deref(),
        Some(hash.as_str())
    );

    let mut bad = TaskSpec::new("bad schema", 1);
    bad.result_schema = Some(serde_json::json!({"type": 12}));
    assert_code(fx.market.post_task(&alice, bad).await, "invalid_input");
    fx.assert_invariants().await;
}

/// A delivery naming the artifact `hash`.
fn naming(hash: &str) -> DeliveryInput {
    DeliveryInput {
        text: "see file".into(),
        meta: DeliveryMeta {
            artifact_hash: Some(hash.into()),
            ..Default::default()
        },
    }
}

/// Every uploader of the same bytes holds them; a record no delivery names is forgotten
/// once its grace has passed — not a second before — and one a delivery names is kept.
pub async fn artifacts_held_and_collected<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let grace = i64::try_from(fx.market.policy().blob_grace_secs).unwrap();
    let named = format!("{}.pdf", "ab".repeat(32));
    let loose = format!("{}.txt", "cd".repeat(32));
    let first = fx
        .market
        .record_blob(&bob, &named, 10, "application/pdf")
        .await
        .unwrap();
    let again = fx
        .market
        .record_blob(&carol, &named, 10, "application/pdf")
        .await
        .unwrap();
    assert_eq!(again, first, "the first record stands");
    assert!(!first.referenced);
    for (who, holds) in [(&bob, true), (&carol, true), (&alice, false)] {
        assert_eq!(fx.market.blob_holder(&named, who).await.unwrap(), holds);
    }
    fx.market
        .record_blob(&bob, &loose, 3, "text/plain")
        .await
        .unwrap();

    // Bytes no record names may go at once; a name that is no blob's is refused.
    let unrecorded = format!("{}.bin", "ef".repeat(32));
    assert!(fx.market.collect_blob(&unrecorded).await.unwrap());
    assert_code(
        fx.market.collect_blob("../etc/passwd").await,
        "invalid_input",
    );
    assert!(!fx.market.collect_blob(&named).await.unwrap(), "young");

    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("with a file", 5))
        .await
        .unwrap();
    fx.market.claim(&bob, t.id).await.unwrap();
    fx.market.deliver(&bob, t.id, naming(&named)).await.unwrap();
    assert!(fx.market.blob(&named).await.unwrap().unwrap().referenced);

    fx.advance(grace - 1);
    assert!(
        !fx.market.collect_blob(&loose).await.unwrap(),
        "a second early"
    );
    fx.advance(1);
    assert!(fx.market.collect_blob(&loose).await.unwrap(), "due");
    assert_eq!(fx.market.blob(&loose).await.unwrap(), None);
    assert!(!fx.market.blob_holder(&loose, &bob).await.unwrap());
    assert!(
        !fx.market.collect_blob(&named).await.unwrap(),
        "named: kept"
    );
    assert!(fx.market.blob_holder(&named, &carol).await.unwrap());

    // A forgotten record can't be named; uploading the bytes again starts afresh.
    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("late file", 5))
        .await
        .unwrap();
    fx.market.claim(&carol, t.id).await.unwrap();
    assert_code(
        fx.market.deliver(&carol, t.id, naming(&loose)).await,
        "artifact_not_found",
    );
    let fresh = fx
        .market
        .record_blob(&carol, &loose, 3, "text/plain")
        .await
        .unwrap();
    assert_eq!(fresh.uploader, carol);
    assert!(!fx.market.blob_holder(&loose, &bob).await.unwrap());
    assert!(!fx.market.collect_blob(&loose).await.unwrap());
    fx.market
        .deliver(&carol, t.id, naming(&loose))
        .await
        .unwrap();
    fx.assert_invariants().await;
}
