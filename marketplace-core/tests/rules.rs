//! One test per rule with a number in it: fee rounding, credit limit and cap, reputation and
//! decay floor, the quality gate, the queue maximum, TTL bounds, amount validation.

use chrono::{DateTime, Duration};
use marketplace_core::money::{AMOUNT_MAX, fee, validate_amount};
use marketplace_core::testkit::{Fixture, dec};
use marketplace_core::*;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn t0() -> Timestamp {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn rep(accepted: u64, rejected: u64) -> Reputation {
    let mut r = Reputation::new(IdentityId::from_public_key(b"r"), t0());
    r.accepted = accepted;
    r.rejected = rejected;
    r
}

#[test]
fn fee_rounds_half_even_at_six_places() {
    let twelve = dec("0.12");
    assert_eq!(fee(dec("25"), twelve), dec("3"));
    assert_eq!(
        fee(dec("0.000025"), dec("0.1")),
        dec("0.000002"),
        "2.5e-6 rounds to even"
    );
    assert_eq!(
        fee(dec("0.000035"), dec("0.1")),
        dec("0.000004"),
        "3.5e-6 rounds to even"
    );
    assert_eq!(fee(dec("0.000001"), twelve), dec("0"), "1.2e-7 rounds down");
    assert_eq!(fee(dec("1000000000000"), twelve), dec("120000000000"));
}

proptest! {
    #[test]
    fn fee_is_exact_and_bounded(micros in 0u64..1_000_000_000_000u64, rate_pct in 0u32..=100) {
        let bounty = Decimal::new(micros as i64, 6);
        let rate = Decimal::new(i64::from(rate_pct), 2);
        let f = fee(bounty, rate);
        prop_assert!(f >= Decimal::ZERO && f <= bounty);
        prop_assert!(f.scale() <= 6);
        prop_assert!((f - bounty * rate).abs() <= dec("0.0000005"));
    }

    #[test]
    fn rate_threshold_agrees_with_the_rate(
        accepted in 0u64..1_000,
        rejected in 0u64..1_000,
        rate_bp in -100i64..=10_100,
    ) {
        // The gate and the credit rule compare without dividing: checked against the
        // exact answer in integers, the rate given in basis points.
        let r = rep(accepted, rejected);
        let rate = Decimal::new(rate_bp, 4);
        let exact = accepted * 10_000 >= rate_bp.max(0) as u64 * (accepted + rejected);
        let expected = if accepted + rejected == 0 { rate <= Decimal::ZERO } else { exact };
        prop_assert_eq!(r.accept_rate_at_least(rate), expected);
    }

    #[test]
    fn the_work_score_stays_in_0_to_5_and_moves_with_the_work(
        rated in 0u64..200,
        unrated in 0u64..200,
        rejected in 0u64..200,
        ratings in proptest::collection::vec(1u64..=5, 200),
    ) {
        let mut r = rep(rated + unrated, rejected);
        r.rating_count = rated;
        r.rating_sum = ratings[..rated as usize].iter().sum();
        let score = r.work_score();
        prop_assert!(score >= Decimal::ZERO && score <= Decimal::from(5));
        // Exactly the average, before rounding to two places.
        let reviewed = rated + unrated + rejected;
        if reviewed > 0 {
            let exact = Decimal::from(r.rating_sum + 5 * unrated) / Decimal::from(reviewed);
            prop_assert!((score - exact).abs() <= dec("0.005"));
        } else {
            prop_assert_eq!(score, Decimal::ZERO);
        }
        // Another accepted, unrated delivery never lowers it; another rejection never
        // raises it (rounding to two places keeps their order).
        let mut better = r.clone();
        better.accepted += 1;
        prop_assert!(better.work_score() >= score);
        let mut worse = r.clone();
        worse.rejected += 1;
        prop_assert!(worse.work_score() <= score);
    }

    #[test]
    fn amounts_over_six_places_are_refused(units in 1i64..1_000_000, scale in 7u32..12) {
        prop_assert!(validate_amount("bounty", Decimal::new(units * 10 + 1, scale)).is_err());
    }
}

#[test]
fn amount_bounds() {
    assert!(validate_amount("x", AMOUNT_MAX).is_ok());
    assert!(validate_amount("x", AMOUNT_MAX + dec("0.000001")).is_err());
    assert!(validate_amount("x", dec("-0.000001")).is_err());
    assert_eq!(
        validate_amount("x", dec("1.500000")).unwrap().to_string(),
        "1.5"
    );
}

#[test]
fn credit_limit_formula_and_cap() {
    let p = Policy::agora();
    assert_eq!(p.credit_limit(&rep(0, 0), t0()), dec("50"));
    // 2 accepted: +4, below the reputation gate.
    let mut r = rep(2, 0);
    assert_eq!(p.credit_limit(&r, t0()), dec("54"));
    // 3 accepted, 100%: +6 + 0.5 * raw(15).
    r.accepted = 3;
    assert_eq!(p.credit_limit(&r, t0()), dec("63.5"));
    // 3 accepted, 3 rejected: 50% is enough: raw 15 - 9 = 6 → +3.
    r.rejected = 3;
    assert_eq!(p.credit_limit(&r, t0()), dec("59"));
    // 3 accepted, 4 rejected: 42.9% is not.
    r.rejected = 4;
    assert_eq!(p.credit_limit(&r, t0()), dec("56"));
    // Capped at 10,000.
    let big = rep(10_000, 0);
    assert_eq!(p.credit_limit(&big, t0()), dec("10000"));
    assert_eq!(Policy::agentmarket().credit_limit(&big, t0()), dec("0"));
}

#[test]
fn reputation_formula() {
    let mut r = Reputation::new(IdentityId::from_public_key(b"f"), t0());
    (r.accepted, r.delivered, r.answers, r.claims, r.total) = (1, 2, 3, 4, 5);
    (r.rejected, r.late_rejections, r.ghosts) = (1, 1, 1);
    assert_eq!(r.raw(), 5 + 4 + 6 + 4 + 5 - 3 - 5 - 4);
    assert_eq!(r.score(t0()), dec("12"));
    r.ghosts = 10;
    assert_eq!(r.score(t0()), dec("0"), "never below zero");
}

#[test]
fn decay_steps_and_floor() {
    let r = Reputation::new(IdentityId::from_public_key(b"d"), t0());
    let at = |days: i64| r.decay(t0() + Duration::days(days) + Duration::hours(1));
    assert_eq!(at(0), dec("1"));
    assert_eq!(at(7), dec("1"), "active within 7 days");
    assert_eq!(at(8), dec("0.98"));
    assert_eq!(at(17), dec("0.8"));
    assert_eq!(at(51), dec("0.12"));
    assert_eq!(at(52), dec("0.1"));
    assert_eq!(at(1000), dec("0.1"), "floor 10%");
}

#[test]
fn quality_gate_thresholds() {
    let p = Policy::agora();
    assert!(!p.passes_gate(&rep(2, 0), None, None), "needs 3 accepted");
    assert!(p.passes_gate(&rep(3, 0), None, None));
    assert!(p.passes_gate(&rep(3, 2), None, None), "60% is enough");
    assert!(!p.passes_gate(&rep(5, 4), None, None), "55.6% is not");
    assert!(
        !p.passes_gate(&rep(3, 0), Some(4), None),
        "per-task minimum"
    );
    assert!(
        !p.passes_gate(&rep(9, 1), None, Some(dec("0.95"))),
        "per-task rate"
    );
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn ttl_bounds_are_enforced() {
    block_on(async {
        let fx = Fixture::new(MemoryStore::new());
        let alice = fx.agent("alice").await;
        let post = |f: fn(&mut TaskSpec)| {
            let mut spec = TaskSpec::new("x", 1);
            f(&mut spec);
            fx.market.post_task(&alice, spec)
        };
        assert!(post(|s| s.claim_ttl_secs = Some(0)).await.is_err());
        assert!(post(|s| s.claim_ttl_secs = Some(1)).await.is_ok());
        assert!(post(|s| s.claim_ttl_secs = Some(30 * 86_400)).await.is_ok());
        assert!(
            post(|s| s.claim_ttl_secs = Some(30 * 86_400 + 1))
                .await
                .is_err()
        );
        assert!(post(|s| s.expires_in_secs = Some(59)).await.is_err());
        assert!(post(|s| s.expires_in_secs = Some(60)).await.is_ok());
        assert!(
            post(|s| s.expires_in_secs = Some(365 * 86_400 + 1))
                .await
                .is_err()
        );
        assert!(post(|s| s.max_turnaround_secs = Some(0)).await.is_err());
        let t = post(|_| {}).await.unwrap();
        assert_eq!(
            (t.expires_at - t.created_at).num_seconds(),
            7 * 86_400,
            "default lifetime 7 days"
        );
        let bob = fx.agent("bob").await;
        let claimed = fx.market.claim(&bob, t.id).await.unwrap();
        let claim = claimed.claim.unwrap();
        assert_eq!(
            (claim.expires_at - claim.claimed_at).num_seconds(),
            300,
            "default claim TTL"
        );
        fx.market
            .deliver(&bob, t.id, DeliveryInput::text("r"))
            .await
            .unwrap();
        let d = fx.market.task(None, t.id).await.unwrap().delivery.unwrap();
        assert_eq!(
            (d.review_deadline - d.delivered_at).num_seconds(),
            48 * 3600,
            "review TTL 48 h"
        );
    });
}

#[test]
fn queue_maximum_follows_the_policy() {
    block_on(async {
        let fx = Fixture::with_policy(
            MemoryStore::new(),
            Policy {
                queue_max: 2,
                ..testkit::test_policy()
            },
        );
        let alice = fx.agent("alice").await;
        let t = fx
            .market
            .post_task(&alice, TaskSpec::new("x", 1))
            .await
            .unwrap();
        let agents = [
            fx.agent("a").await,
            fx.agent("b").await,
            fx.agent("c").await,
            fx.agent("d").await,
        ];
        fx.market.claim(&agents[0], t.id).await.unwrap();
        fx.market.join_queue(&agents[1], t.id).await.unwrap();
        fx.market.join_queue(&agents[2], t.id).await.unwrap();
        assert_eq!(
            fx.market
                .join_queue(&agents[3], t.id)
                .await
                .unwrap_err()
                .code(),
            "queue_full"
        );
    });
}

#[test]
fn open_claims_are_limited() {
    block_on(async {
        let fx = Fixture::with_policy(
            MemoryStore::new(),
            Policy {
                open_claims_max: 2,
                ..testkit::test_policy()
            },
        );
        let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
        for i in 0..3 {
            let t = fx
                .market
                .post_task(&alice, TaskSpec::new(format!("t{i}"), 1))
                .await
                .unwrap();
            let r = fx.market.claim(&bob, t.id).await;
            assert_eq!(r.is_ok(), i < 2, "claim {i}");
        }
    });
}
