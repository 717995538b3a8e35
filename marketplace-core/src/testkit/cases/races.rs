//! Concurrent commands on the same records: exactly one wins, nothing is lost.

use futures::future::join_all;

use super::fixture;
use crate::model::{DeliveryInput, RejectCategory, TaskSpec, TaskStatus};
use crate::store::Store;
use crate::testkit::{Harness, dec};

/// 50 agents claim one task at once: exactly one wins, the others get `already_claimed`.
pub async fn fifty_claims_one_wins<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let mut agents = Vec::new();
    for i in 0..50 {
        agents.push(fx.agent(&format!("racer-{i}")).await);
    }
    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("prize", 10))
        .await
        .unwrap();
    let results = join_all(agents.iter().map(|a| fx.market.claim(a, t.id))).await;
    let winners: Vec<_> = results
        .iter()
        .zip(&agents)
        .filter(|(r, _)| r.is_ok())
        .map(|(_, a)| a)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one claim wins");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), "already_claimed");
    }
    let stored = fx.market.store().task(t.id).await.unwrap().unwrap();
    assert_eq!(stored.claimant(), Some(winners[0]));
    fx.assert_invariants().await;
}

/// A delivery that settles at once races a cancel: exactly one takes effect, every time.
pub async fn deliver_vs_cancel<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    for round in 0..20 {
        let mut spec = TaskSpec::new(format!("round {round}"), 2);
        spec.auto_accept = true;
        let t = fx.market.post_task(&alice, spec).await.unwrap();
        fx.market.claim(&bob, t.id).await.unwrap();
        let (delivered, cancelled) = futures::join!(
            fx.market.deliver(&bob, t.id, DeliveryInput::text("r")),
            fx.market.cancel(&alice, t.id),
        );
        assert!(
            delivered.is_ok() != cancelled.is_ok(),
            "round {round}: both or neither took effect"
        );
        let status = fx.market.store().task(t.id).await.unwrap().unwrap().status;
        let expected = if delivered.is_ok() {
            TaskStatus::Completed
        } else {
            TaskStatus::Cancelled
        };
        assert_eq!(status, expected);
    }
    fx.assert_invariants().await;
}

/// Accept and reject of one delivery race: exactly one takes effect.
pub async fn accept_vs_reject<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    for round in 0..20 {
        let mut spec = TaskSpec::new(format!("round {round}"), 1);
        spec.require_review = true;
        let t = fx.delivered(&alice, &bob, spec, "r").await;
        let (accepted, rejected) = futures::join!(
            fx.market.accept(&alice, t.id, None),
            fx.market
                .reject(&alice, t.id, "no", RejectCategory::Quality),
        );
        assert!(
            accepted.is_ok() != rejected.is_ok(),
            "round {round}: both or neither took effect"
        );
        if rejected.is_ok() {
            fx.market.cancel(&alice, t.id).await.unwrap();
        }
    }
    let rep = fx.market.reputation(&bob).await.unwrap().counters;
    assert_eq!(rep.accepted + rep.rejected, 20);
    fx.assert_invariants().await;
}

/// Twenty concurrent posts of 10 from an account that can cover fifteen: exactly fifteen
/// are escrowed, never more.
pub async fn concurrent_posts_never_overdraw<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    // available: 100 grant + 50 credit = 150 → fifteen posts of 10.
    let posts = join_all((0..20).map(|i| {
        fx.market
            .post_task(&alice, TaskSpec::new(format!("p{i}"), 10))
    }))
    .await;
    let ok = posts.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 15);
    assert!(
        posts
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| e.code() == "insufficient_funds")
    );
    let balance = fx.market.balance(&alice).await.unwrap();
    assert_eq!(
        (balance.escrowed, balance.available),
        (dec("150"), dec("0"))
    );
    fx.assert_invariants().await;
}

/// A future that is ready after it has been polled `0` more times: the deadline of an
/// abandoned command, counted in polls rather than time.
struct Polls(u32);

impl std::future::Future for Polls {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 == 0 {
            return std::task::Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Commands dropped part-way (a client that hung up, a timeout) at every depth: each either
/// happened whole or not at all, and none keeps a lock or a connection from the commands
/// after it.
pub async fn abandoned_commands_hold_nothing<H: Harness>(h: &H) {
    use futures::future::{Either, select};
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    // Bounties of 1: the poster's grant of 100 pays for every post, dropped ones included.
    for depth in 0..40 {
        let t = fx
            .market
            .post_task(&alice, TaskSpec::new(format!("task {depth}"), 1))
            .await
            .unwrap();
        let claim = Box::pin(fx.market.claim(&bob, t.id));
        match select(claim, Polls(depth)).await {
            Either::Left((done, _)) => {
                done.unwrap();
            }
            Either::Right(((), _)) => {}
        }
        let post = Box::pin(fx.market.post_task(&alice, TaskSpec::new("dropped", 1)));
        let _ = select(post, Polls(depth)).await;
        // The abandoned claim happened whole or not at all (a store may still finish it
        // after its caller has gone): claiming again either claims or finds bob claimant.
        match fx.market.claim(&bob, t.id).await {
            Ok(_) | Err(crate::Error::AlreadyClaimant) => {}
            Err(e) => panic!("claim after an abandoned one: {e}"),
        }
        fx.market
            .deliver(&bob, t.id, DeliveryInput::text("done"))
            .await
            .unwrap();
    }
    // A store that never waits (in memory) finishes each command at its first poll: there,
    // nothing is abandoned and the case checks the plain course.
    fx.assert_invariants().await;
}
