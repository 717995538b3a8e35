//! The deadline sweep and lazy deadline application.

use super::{assert_code, fixture};
use crate::model::{TaskSpec, TaskStatus};
use crate::store::Store;
use crate::testkit::Harness;

/// The sweep advances due tasks earliest first, at most `limit` per call, and leaves tasks
/// that are not due alone.
pub async fn sweep_in_deadline_order<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let mut ids = Vec::new();
    for ttl in [50u64, 10, 40, 20, 30] {
        let mut spec = TaskSpec::new(format!("ttl {ttl}"), 1);
        spec.claim_ttl_secs = Some(ttl);
        let t = fx.market.post_task(&alice, spec).await.unwrap();
        fx.market.claim(&bob, t.id).await.unwrap();
        ids.push((ttl, t.id));
    }
    let idle = fx
        .market
        .post_task(&alice, TaskSpec::new("not due", 1))
        .await
        .unwrap();
    fx.advance(45);
    assert_eq!(fx.market.sweep(2).await.unwrap(), 2);
    let market = &fx.market;
    let status = |ttl: u64| {
        let id = ids
            .iter()
            .find(|(t, _)| *t == ttl)
            .map(|(_, id)| *id)
            .unwrap();
        async move { market.store().task(id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(10).await, TaskStatus::Open);
    assert_eq!(status(20).await, TaskStatus::Open);
    assert_eq!(
        status(30).await,
        TaskStatus::Claimed,
        "limit reached before the third"
    );
    assert_eq!(fx.market.sweep(100).await.unwrap(), 2);
    assert_eq!(status(40).await, TaskStatus::Open);
    assert_eq!(status(50).await, TaskStatus::Claimed, "not due yet");
    assert_eq!(fx.market.sweep(100).await.unwrap(), 0);
    assert_eq!(
        fx.market
            .store()
            .task(idle.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        idle.updated_at
    );
    assert_eq!(fx.market.reputation(&bob).await.unwrap().counters.ghosts, 4);
    fx.assert_invariants().await;
}

/// Without any sweep, reads and commands see deadlines applied.
pub async fn lazy_application<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let mut spec = TaskSpec::new("x", 5);
    spec.claim_ttl_secs = Some(30);
    let t = fx.market.post_task(&alice, spec).await.unwrap();
    fx.market.claim(&bob, t.id).await.unwrap();
    fx.advance(30);
    // The stored task still says claimed; the command sees the expiry and lets carol in.
    assert_eq!(
        fx.market.store().task(t.id).await.unwrap().unwrap().status,
        TaskStatus::Claimed
    );
    assert_eq!(
        fx.market.claim(&carol, t.id).await.unwrap().claimant(),
        Some(&carol)
    );
    assert_eq!(fx.market.reputation(&bob).await.unwrap().counters.ghosts, 1);
    fx.advance(30);
    let listed = fx
        .market
        .tasks(
            None,
            crate::store::TaskQuery {
                status: Some(TaskStatus::Claimed),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        listed.is_empty(),
        "a listing never shows a lapsed claim as live"
    );
    assert_code(
        fx.market
            .deliver(&carol, t.id, crate::DeliveryInput::text("r"))
            .await,
        "wrong_state",
    );
    fx.assert_invariants().await;
}
