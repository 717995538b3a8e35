//! Concurrent commands on the same records: exactly one wins, nothing is lost.

use futures::future::join_all;

use super::{assert_code, fixture};
use crate::command::{Command, Outcome};
use crate::engine::Reservation;
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

/// How many duplicates of one request the idempotency races send at once.
const DUPLICATES: usize = 24;

/// Duplicates under one `Idempotency-Key` sent at once execute exactly once: every one of
/// them gets the first outcome (a post escrows once, a claim answers the claim, not
/// `already_claimant`); different requests under one key: one runs, the rest are refused
/// with `idempotency_conflict`.
pub async fn idempotent_duplicates_execute_once<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    // Reads at once first, so a pooled store has connections open for every racer.
    join_all((0..DUPLICATES).map(|_| fx.market.balance(&alice))).await;
    let post = Command::PostTask(TaskSpec::new("once", 10).into());
    let posts = join_all(
        (0..DUPLICATES).map(|_| fx.market.execute_idempotent(&alice, post.clone(), "post-1")),
    )
    .await;
    let first = posts[0].as_ref().expect("the post runs").clone();
    for p in &posts {
        assert_eq!(
            p.as_ref().ok(),
            Some(&first),
            "every duplicate replays the post"
        );
    }
    assert_eq!(fx.market.balance(&alice).await.unwrap().escrowed, dec("10"));
    let Outcome::Task(task) = first else {
        panic!("a post answers a task")
    };

    let claim = Command::Claim {
        task: task.id,
        note: None,
    };
    let claims = join_all(
        (0..DUPLICATES).map(|_| fx.market.execute_idempotent(&bob, claim.clone(), "claim-1")),
    )
    .await;
    let first = claims[0].as_ref().expect("the claim runs").clone();
    for c in &claims {
        assert_eq!(
            c.as_ref().ok(),
            Some(&first),
            "every duplicate replays the claim"
        );
    }

    // Another body under one key: exactly one runs.
    let mixed = join_all((1..=DUPLICATES).map(|bounty| {
        let post = Command::PostTask(TaskSpec::new("mixed", bounty as u64).into());
        fx.market.execute_idempotent(&alice, post, "mixed-1")
    }))
    .await;
    let ran: Vec<_> = mixed.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ran.len(), 1, "one of the bodies runs");
    for e in mixed.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(e.code(), "idempotency_conflict");
    }
    let Outcome::Task(mixed) = ran[0] else {
        panic!("a post answers a task")
    };
    assert_eq!(
        fx.market.balance(&alice).await.unwrap().escrowed,
        dec("10") + mixed.bounty
    );
    fx.assert_invariants().await;
}

/// A request that runs beyond one command reserves its key: of duplicates reserving at
/// once exactly one runs, the others find it running until it finishes, then replay its
/// answer. A key let go is free again; a hold that runs out (its server died) lets the
/// next reservation run, at the hold's end exactly and not a microsecond before; a
/// command under a running key is refused with `idempotency_in_progress`.
pub async fn reservations_run_once<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let market = &fx.market;
    // Reads at once first, so a pooled store has connections open for every racer.
    join_all((0..DUPLICATES).map(|_| market.balance(&alice))).await;
    let tries = join_all((0..DUPLICATES).map(|_| market.reserve(&alice, "job-1", "job", 60))).await;
    let runs = tries
        .iter()
        .filter(|r| matches!(r, Ok(Reservation::Run)))
        .count();
    assert_eq!(runs, 1, "one reservation runs: {tries:?}");
    let held_until = market.now() + chrono::Duration::seconds(60);
    for t in &tries {
        match t {
            Ok(Reservation::Run) => {}
            Ok(Reservation::Running { until }) => assert_eq!(*until, held_until),
            other => panic!("a duplicate found {other:?}"),
        }
    }
    let post = Command::PostTask(TaskSpec::new("under a running key", 1).into());
    assert_code(
        market
            .execute_idempotent(&alice, post.clone(), "job-1")
            .await,
        "idempotency_conflict",
    );
    assert_code(
        market.reserve(&alice, "job-1", "another job", 60).await,
        "idempotency_conflict",
    );
    market
        .finish(&alice, "job-1", "job", Some("the answer".into()))
        .await
        .unwrap();
    let replays =
        join_all((0..DUPLICATES).map(|_| market.reserve(&alice, "job-1", "job", 60))).await;
    for r in replays {
        assert_eq!(r.unwrap(), Reservation::Done("the answer".into()));
    }

    // Let go: the next reservation runs.
    assert_eq!(
        market.reserve(&alice, "job-2", "job", 60).await.unwrap(),
        Reservation::Run
    );
    market.finish(&alice, "job-2", "job", None).await.unwrap();
    assert_eq!(
        market.reserve(&alice, "job-2", "job", 60).await.unwrap(),
        Reservation::Run
    );

    // A hold that runs out.
    assert_eq!(
        market.reserve(&alice, "job-3", "job", 60).await.unwrap(),
        Reservation::Run
    );
    fx.clock
        .set(market.now() + chrono::Duration::microseconds(60_000_000 - 1));
    assert!(matches!(
        market.reserve(&alice, "job-3", "job", 60).await.unwrap(),
        Reservation::Running { .. }
    ));
    fx.clock
        .set(market.now() + chrono::Duration::microseconds(1));
    assert_eq!(
        market.reserve(&alice, "job-3", "job", 60).await.unwrap(),
        Reservation::Run
    );
    assert_eq!(fx.market.balance(&alice).await.unwrap().escrowed, dec("0"));
    fx.assert_invariants().await;
}

/// A delivery naming a blob races its collection at the very end of its grace: either the
/// delivery wins and the blob is kept, or the collection wins and the delivery is refused —
/// never a delivery naming bytes that are gone.
pub async fn deliver_vs_collect<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let grace = i64::try_from(fx.market.policy().blob_grace_secs).unwrap();
    let mut rounds = Vec::new();
    for round in 0..20u8 {
        let hash = format!("{}.txt", hex_of(round));
        fx.market
            .record_blob(&bob, &hash, 1, "text/plain")
            .await
            .unwrap();
        let t = fx
            .market
            .post_task(&alice, TaskSpec::new(format!("round {round}"), 1))
            .await
            .unwrap();
        rounds.push((hash, t.id));
    }
    fx.advance(grace);
    for (hash, task) in &rounds {
        fx.market.claim(&bob, *task).await.unwrap();
        let delivery = DeliveryInput {
            text: "file".into(),
            meta: crate::model::DeliveryMeta {
                artifact_hash: Some(hash.clone()),
                ..Default::default()
            },
        };
        let (delivered, removed) = futures::join!(
            fx.market.deliver(&bob, *task, delivery),
            fx.market.collect_blob(hash),
        );
        let removed = removed.unwrap();
        let kept = fx.market.blob(hash).await.unwrap();
        if removed {
            assert_code(delivered, "artifact_not_found");
            assert_eq!(kept, None);
        } else {
            delivered.unwrap();
            assert!(kept.unwrap().referenced, "{hash}: delivered and kept");
        }
    }
    fx.assert_invariants().await;
}

/// 64 hex digits standing for round `n`.
fn hex_of(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}
