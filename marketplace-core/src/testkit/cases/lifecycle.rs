//! Posting, settlement, review paths, rejection, cancellation, expiry, follow-ups.

use rust_decimal::Decimal;

use super::{assert_code, fixture};
use crate::model::{
    AccountRef, DeliveryInput, DeliveryMode, EventKind, RejectCategory, TaskSpec, TaskStatus,
    TxType,
};
use crate::store::{LedgerQuery, Store};
use crate::testkit::{Harness, dec, snapshot};
use crate::{IdentityId, ProfileUpdate};

/// Registration opens an account with the grant; twice is refused; strangers can't act.
pub async fn register_opens_account<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let balance = fx.market.balance(&alice).await.unwrap();
    assert_eq!(balance.balance, dec("100"));
    assert_eq!(balance.credit_limit, dec("50"));
    assert_eq!(balance.available, dec("150"));
    assert_eq!(fx.market.treasury().await.unwrap(), dec("-100"));
    assert_code(
        fx.market
            .register(&alice, ProfileUpdate::alias("again"))
            .await,
        "identity_exists",
    );
    assert_code(
        fx.market
            .register(&IdentityId::from_public_key(b"x"), ProfileUpdate::default())
            .await,
        "invalid_input",
    );
    let stranger = IdentityId::from_public_key(b"stranger");
    assert_code(
        fx.market.post_task(&stranger, TaskSpec::new("x", 1)).await,
        "unknown_identity",
    );
    fx.assert_invariants().await;
}

/// Posting holds the bounty; posting beyond what is available is refused and changes nothing.
pub async fn post_escrows_bounty<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let task = fx
        .market
        .post_task(&alice, TaskSpec::new("Summarize", dec("30.5")))
        .await
        .unwrap();
    assert_eq!(task.status, TaskStatus::Open);
    assert_eq!(task.bounty, dec("30.5"));
    let balance = fx.market.balance(&alice).await.unwrap();
    assert_eq!(
        (balance.balance, balance.escrowed, balance.available),
        (dec("100"), dec("30.5"), dec("119.5"))
    );
    let lines = fx
        .market
        .transactions(&alice, Some(TxType::Escrow), None, 10)
        .await
        .unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].escrow, lines[0].task_id),
        (dec("30.5"), Some(task.id))
    );

    let before = snapshot(fx.market.store()).await;
    assert_code(
        fx.market
            .post_task(&alice, TaskSpec::new("too big", dec("119.6")))
            .await,
        "insufficient_funds",
    );
    assert_code(
        fx.market
            .post_task(&alice, TaskSpec::new("precise", dec("0.0000001")))
            .await,
        "invalid_input",
    );
    assert_code(
        fx.market
            .post_task(&alice, TaskSpec::new("negative", dec("-1")))
            .await,
        "invalid_input",
    );
    assert_code(
        fx.market.post_task(&alice, TaskSpec::new("", 1)).await,
        "invalid_input",
    );
    assert_eq!(
        snapshot(fx.market.store()).await,
        before,
        "refused posts changed state"
    );
    // Exactly what is available can be posted: the balance may go negative down to the credit limit.
    fx.market
        .post_task(&alice, TaskSpec::new("all in", dec("119.5")))
        .await
        .unwrap();
    assert_eq!(fx.available(&alice).await, Decimal::ZERO);
    fx.assert_invariants().await;
}

/// post → claim → deliver → accept moves the bounty minus 12% and counts reputation.
pub async fn lifecycle_settles_with_fee<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let task = fx
        .market
        .post_task(&alice, TaskSpec::new("Summarize", 25))
        .await
        .unwrap();
    let claimed = fx.market.claim(&bob, task.id).await.unwrap();
    assert_eq!(
        (claimed.status, claimed.claimant()),
        (TaskStatus::Claimed, Some(&bob))
    );
    let delivered = fx
        .market
        .deliver(&bob, task.id, DeliveryInput::text("summary"))
        .await
        .unwrap();
    assert_eq!(
        delivered.status,
        TaskStatus::Delivered,
        "a new agent's delivery waits for review"
    );
    let done = fx.market.accept(&alice, task.id, Some(4)).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    let payout = done.payout.clone().unwrap();
    assert_eq!((payout.amount, payout.fee), (dec("22"), dec("3")));

    let a = fx.market.balance(&alice).await.unwrap();
    let b = fx.market.balance(&bob).await.unwrap();
    assert_eq!(
        (a.balance, a.escrowed, a.total_spent),
        (dec("75"), dec("0"), dec("25"))
    );
    assert_eq!(
        (b.balance, b.total_earned, b.total_fees),
        (dec("122"), dec("22"), dec("3"))
    );
    assert_eq!(b.credit_limit, dec("52"), "credit +2 per accepted delivery");
    let e = fx.market.earnings(&bob).await.unwrap();
    assert_eq!(
        (e.earned, e.fees, e.granted, e.completed_tasks),
        (dec("22"), dec("3"), dec("100"), 1)
    );
    assert_eq!(fx.market.earnings(&alice).await.unwrap().spent, dec("25"));
    assert_eq!(fx.market.treasury().await.unwrap(), dec("-197"));

    let rep = fx.market.reputation(&bob).await.unwrap();
    assert_eq!(
        (
            rep.counters.accepted,
            rep.counters.delivered,
            rep.counters.claims
        ),
        (1, 1, 1)
    );
    assert_eq!(rep.raw, 8);
    assert_eq!(rep.average_rating, Some(dec("4")));
    assert_eq!(
        fx.market.reputation(&alice).await.unwrap().counters.total,
        1
    );

    let kinds: Vec<EventKind> = fx
        .market
        .events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.task_id == Some(task.id))
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::TaskPosted,
            EventKind::TaskClaimed,
            EventKind::TaskDelivered,
            EventKind::TaskAccepted
        ]
    );
    assert_code(fx.market.accept(&alice, task.id, None).await, "wrong_state");
    fx.assert_invariants().await;
}

/// `auto_accept`, the quality gate (with per-task overrides), `require_review`, review TTL.
pub async fn auto_accept_paths<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let mut spec = TaskSpec::new("auto", 10);
    spec.auto_accept = true;
    let done = fx.delivered(&alice, &bob, spec, "r").await;
    assert_eq!(
        done.status,
        TaskStatus::Completed,
        "auto_accept settles at delivery"
    );

    // Two more accepted deliveries: bob has 3 accepted, 100% — the gate now passes.
    for _ in 0..2 {
        let d = fx
            .delivered(&alice, &bob, TaskSpec::new("plain", 1), "r")
            .await;
        assert_eq!(d.status, TaskStatus::Delivered, "gate not passed yet");
        fx.market.accept(&alice, d.id, None).await.unwrap();
    }
    let gated = fx
        .delivered(&alice, &bob, TaskSpec::new("gated", 1), "r")
        .await;
    assert_eq!(gated.status, TaskStatus::Completed);

    let mut strict = TaskSpec::new("strict gate", 1);
    strict.min_auto_accept_accepted = Some(5);
    let t = fx.delivered(&alice, &bob, strict, "r").await;
    assert_eq!(t.status, TaskStatus::Delivered);

    let mut review = TaskSpec::new("review", 1);
    review.require_review = true;
    review.auto_accept = true;
    let r = fx.delivered(&alice, &bob, review, "r").await;
    assert_eq!(r.status, TaskStatus::Delivered);

    // Review TTL: 48 h after delivery both are accepted by the sweep.
    fx.advance(48 * 3600 - 1);
    assert_eq!(fx.market.sweep(10).await.unwrap(), 0);
    fx.advance(1);
    assert_eq!(fx.market.sweep(10).await.unwrap(), 2);
    assert_eq!(
        fx.market.store().task(t.id).await.unwrap().unwrap().status,
        TaskStatus::Completed
    );
    assert_eq!(
        fx.market.store().task(r.id).await.unwrap().unwrap().status,
        TaskStatus::Completed
    );
    fx.assert_invariants().await;
}

/// Rejection: the queue's head takes over, else the task reopens; late rejections count.
pub async fn reject_promotes_or_reopens<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let mut spec = TaskSpec::new("careful work", 20);
    spec.max_turnaround_secs = Some(100);
    spec.claim_ttl_secs = Some(1000);
    let t = fx.market.post_task(&alice, spec).await.unwrap();
    fx.market.claim(&bob, t.id).await.unwrap();
    fx.market.join_queue(&carol, t.id).await.unwrap();
    fx.advance(101);
    let d = fx
        .market
        .deliver(&bob, t.id, DeliveryInput::text("late"))
        .await
        .unwrap();
    assert!(d.delivery.as_ref().unwrap().late);
    assert_code(
        fx.market
            .reject(&bob, t.id, "no", RejectCategory::Quality)
            .await,
        "not_poster",
    );
    let r = fx
        .market
        .reject(&alice, t.id, "too slow", RejectCategory::TooSlow)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.claimant()),
        (TaskStatus::Claimed, Some(&carol)),
        "queue head promoted"
    );
    let rejection = r.rejections.last().unwrap();
    assert_eq!(rejection.category, RejectCategory::TooSlow);
    assert_eq!(
        (rejection.text.as_str(), &rejection.agent, rejection.at),
        ("too slow", &bob, fx.market.now()),
        "the feedback is kept with who and when"
    );
    let rep = fx.market.reputation(&bob).await.unwrap();
    assert_eq!(
        (rep.counters.rejected, rep.counters.late_rejections),
        (1, 1)
    );
    assert_eq!(rep.raw, -5, "claims 1 + delivered 2 - rejected 3 - late 5");
    assert_eq!(rep.score, Decimal::ZERO, "score never below zero");
    assert_eq!(
        fx.market.balance(&alice).await.unwrap().escrowed,
        dec("20"),
        "escrow stays held"
    );

    fx.market
        .deliver(&carol, t.id, DeliveryInput::text("on time"))
        .await
        .unwrap();
    let reopened = fx
        .market
        .reject(&alice, t.id, "still no", RejectCategory::Incomplete)
        .await
        .unwrap();
    assert_eq!(
        (reopened.status, reopened.claim.is_none()),
        (TaskStatus::Open, true)
    );
    assert_eq!(
        fx.market
            .reputation(&carol)
            .await
            .unwrap()
            .counters
            .late_rejections,
        0
    );
    assert_code(
        fx.market
            .reject(&alice, t.id, "nothing to reject", RejectCategory::Other)
            .await,
        "wrong_state",
    );
    fx.assert_invariants().await;
}

/// Cancel refunds (open or claimed, poster only); lifetime end refunds.
pub async fn cancel_and_expiry_refund<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let open = fx
        .market
        .post_task(&alice, TaskSpec::new("a", 10))
        .await
        .unwrap();
    assert_code(fx.market.cancel(&bob, open.id).await, "not_poster");
    assert_eq!(
        fx.market.cancel(&alice, open.id).await.unwrap().status,
        TaskStatus::Cancelled
    );
    let refunds = fx
        .market
        .transactions(&alice, Some(TxType::Refund), None, 10)
        .await
        .unwrap();
    assert_eq!(refunds[0].escrow, dec("-10"));

    let claimed = fx
        .market
        .post_task(&alice, TaskSpec::new("b", 10))
        .await
        .unwrap();
    fx.market.claim(&bob, claimed.id).await.unwrap();
    fx.market.cancel(&alice, claimed.id).await.unwrap();
    let rep = fx.market.reputation(&bob).await.unwrap();
    assert_eq!(
        (rep.counters.open_claims, rep.counters.ghosts),
        (0, 0),
        "no penalty for the claimant"
    );

    let delivered = fx
        .market
        .post_task(&alice, TaskSpec::new("c", 10))
        .await
        .unwrap();
    fx.market.claim(&bob, delivered.id).await.unwrap();
    fx.market
        .deliver(&bob, delivered.id, DeliveryInput::text("r"))
        .await
        .unwrap();
    assert_code(fx.market.cancel(&alice, delivered.id).await, "wrong_state");

    let mut short = TaskSpec::new("short", 7);
    short.expires_in_secs = Some(60);
    let short = fx.market.post_task(&alice, short).await.unwrap();
    let long = fx
        .market
        .post_task(&alice, TaskSpec::new("week", 3))
        .await
        .unwrap();
    fx.advance(60);
    fx.market.sweep(10).await.unwrap();
    assert_eq!(
        fx.market
            .store()
            .task(short.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        TaskStatus::Expired
    );
    assert_eq!(
        fx.market
            .store()
            .task(long.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        TaskStatus::Open
    );
    fx.advance(7 * 86_400);
    // Read-side touch applies the deadline too.
    assert_eq!(
        fx.market.task(None, long.id).await.unwrap().status,
        TaskStatus::Expired
    );
    let escrowed = fx.market.balance(&alice).await.unwrap().escrowed;
    assert_eq!(escrowed, dec("10"), "only the delivered task is still held");
    fx.assert_invariants().await;
}

/// `chain_next` posts the follow-up with `{{result}}`; `recurring` reposts; unfunded skips.
pub async fn chain_and_recurring<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let mut spec = TaskSpec::new("step one", 10);
    spec.chain_next = Some(Box::new(TaskSpec::new("step two, given: {{result}}", 5)));
    let t = fx.delivered(&alice, &bob, spec, "42").await;
    fx.market.accept(&alice, t.id, None).await.unwrap();
    let newest = fx.newest_task().await;
    let got = (newest.spec.text.as_str(), newest.parent, newest.bounty);
    assert_eq!(got, ("step two, given: 42", Some(t.id), dec("5")));

    let mut rec = TaskSpec::new("daily report", 100);
    rec.recurring = true;
    let r = fx.delivered(&alice, &bob, rec, "report").await;
    // After paying 10 and holding 5, alice can spend 35 with her credit: no second 100.
    fx.market.accept(&alice, r.id, None).await.unwrap();
    let events = fx.market.events(0, 200).await.unwrap();
    let skipped = |e: &crate::Event| e.kind == EventKind::RepostSkipped && e.task_id == Some(r.id);
    assert!(events.iter().any(skipped));

    let mut cheap = TaskSpec::new("weekly", 1);
    cheap.recurring = true;
    let c = fx.delivered(&alice, &bob, cheap, "done").await;
    fx.market.accept(&alice, c.id, None).await.unwrap();
    let newest = fx.newest_task().await;
    let got = (newest.spec.text.as_str(), newest.parent, newest.status);
    assert_eq!(got, ("weekly", Some(c.id), TaskStatus::Open));
    fx.assert_invariants().await;
}

/// Private deliveries are shown only to the poster and the deliverer.
pub async fn private_delivery<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, eve) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("eve").await,
    );
    let mut spec = TaskSpec::new("secret", 5);
    spec.delivery = DeliveryMode::Private;
    spec.require_review = true;
    let t = fx.market.post_task(&alice, spec).await.unwrap();
    fx.market.claim(&bob, t.id).await.unwrap();
    fx.market
        .deliver(&bob, t.id, DeliveryInput::text("the answer"))
        .await
        .unwrap();
    for viewer in [None, Some(&eve)] {
        let seen = fx.market.task(viewer, t.id).await.unwrap();
        assert_eq!(seen.delivery.unwrap().text, "", "leaked to {viewer:?}");
    }
    assert_eq!(
        fx.market
            .task(Some(&alice), t.id)
            .await
            .unwrap()
            .delivery
            .unwrap()
            .text,
        "the answer"
    );
    assert_eq!(
        fx.market
            .task_result(&bob, t.id)
            .await
            .unwrap()
            .delivery
            .unwrap()
            .text,
        "the answer"
    );
    assert_code(fx.market.task_result(&eve, t.id).await, "not_participant");
    let listed = fx
        .market
        .tasks(Some(&eve), Default::default())
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .all(|t| t.delivery.as_ref().is_none_or(|d| d.text.is_empty()))
    );
    let lines = fx
        .market
        .store()
        .ledger(&LedgerQuery {
            account: AccountRef::Treasury,
            tx_type: None,
            before_seq: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(lines.len(), 3, "three signup grants");
    fx.assert_invariants().await;
}

/// With a minimum account age for base credit, a young account holds only what it owns;
/// from the moment it is old enough (to the microsecond), its base credit too.
pub async fn young_accounts_hold_no_base_credit<H: Harness>(h: &H) {
    let (store, guard) = h.store().await;
    let policy = crate::Policy {
        base_credit_min_age_secs: 3600,
        ..crate::testkit::test_policy()
    };
    let fx = crate::testkit::Fixture::with_policy(store, policy).with_guard(guard);
    let alice = fx.agent("alice").await;
    // 100 granted + 50 base credit: 150 available, 100 of it its own.
    assert_eq!(fx.available(&alice).await, dec("150"));
    assert_code(
        fx.market
            .post_task(&alice, TaskSpec::new("on credit", 101))
            .await,
        "insufficient_funds",
    );
    fx.market
        .post_task(&alice, TaskSpec::new("its own", 100))
        .await
        .unwrap();
    fx.clock
        .set(fx.market.now() + chrono::Duration::seconds(3600) - chrono::Duration::microseconds(1));
    assert_code(
        fx.market
            .post_task(&alice, TaskSpec::new("a moment early", 1))
            .await,
        "insufficient_funds",
    );
    fx.clock
        .set(fx.market.now() + chrono::Duration::microseconds(1));
    fx.market
        .post_task(&alice, TaskSpec::new("old enough", 50))
        .await
        .unwrap();
    assert_eq!(fx.available(&alice).await, dec("0"));
    fx.assert_invariants().await;
}

/// The credit exposure is the sum of every negative balance, exact.
pub async fn credit_exposure_sums_negative_balances<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    assert_eq!(fx.market.credit_exposure().await.unwrap(), dec("0"));
    // 100 granted + 50 credit: a bounty of 120.5 settles 20.5 below zero.
    let spec = TaskSpec::new("on credit", dec("120.5"));
    let t = fx.delivered(&alice, &bob, spec, "done").await;
    fx.market.accept(&alice, t.id, None).await.unwrap();
    let spec = TaskSpec::new("a little", dec("100.000001"));
    let t = fx.delivered(&carol, &bob, spec, "done").await;
    fx.market.accept(&carol, t.id, None).await.unwrap();
    assert_eq!(fx.market.credit_exposure().await.unwrap(), dec("20.500001"));
    fx.assert_invariants().await;
}
