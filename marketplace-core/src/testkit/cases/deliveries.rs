//! Webhook settings and deliveries: first secret wins, subscribers found by capability,
//! fan-out fenced by the outbox lease, delivery leases that never share, retries, attempts
//! recorded even from a lost lease (one at a time or many in one transaction), and the
//! recipient's newest-first listing.

use std::collections::BTreeSet;

use futures::future::join_all;

use super::fixture;
use crate::Timestamp;
use crate::ids::IdentityId;
use crate::store::{
    Channel, Deliveries, DeliveryAttempt, DeliveryStatus, FanOut, FinishedAttempt, LeasedEvent,
    NewDelivery, NextStep, WebhookSettings,
};
use crate::testkit::Harness;

fn settings(identity: &IdentityId, secret: &str, now: Timestamp) -> WebhookSettings {
    WebhookSettings {
        identity: identity.clone(),
        sealed_secret: secret.to_owned(),
        events: vec!["task.posted".to_owned()],
        updated_at: now,
    }
}

fn delivery(seq: u64, to: &IdentityId, channel: Channel, now: Timestamp) -> NewDelivery {
    NewDelivery {
        event_seq: seq,
        recipient: to.clone(),
        channel,
        event: "task.posted".to_owned(),
        body: format!("{{\"seq\":{seq}}}"),
        created_at: now,
    }
}

fn attempt(n: u32, at: Timestamp, status: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt: n,
        at,
        url: Some("https://hooks.example/in".to_owned()),
        status_code: status,
        latency_ms: 12,
        error: status
            .filter(|s| *s >= 300)
            .map(|s| format!("answered {s}")),
    }
}

/// The first stored secret wins; a put replaces it; subscribers are the identities with
/// settings whose capabilities overlap, in identity order, paged.
pub async fn webhook_settings<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let now = fx.market.now();
    let coder = fx.agent_with("coder", &["code", "rust"]).await;
    let writer = fx.agent_with("writer", &["prose"]).await;
    let silent = fx.agent_with("silent", &["code"]).await;
    assert_eq!(store.webhook(&coder).await.unwrap(), None);

    let first = settings(&coder, "aa", now);
    assert_eq!(
        store.add_webhook(&first).await.unwrap(),
        (first.clone(), true)
    );
    let (kept, added) = store
        .add_webhook(&settings(&coder, "bb", now))
        .await
        .unwrap();
    assert_eq!((kept, added), (first.clone(), false), "first secret wins");
    let mut rotated = first.clone();
    rotated.sealed_secret = "cc".to_owned();
    rotated.events.push("task.claimed".to_owned());
    store.put_webhook(&rotated).await.unwrap();
    assert_eq!(store.webhook(&coder).await.unwrap(), Some(rotated));
    store
        .add_webhook(&settings(&writer, "dd", now))
        .await
        .unwrap();

    let caps = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let code = store.subscribers(&caps(&["code"]), None, 10).await.unwrap();
    assert_eq!(
        code,
        vec![coder.clone()],
        "without settings, not a subscriber"
    );
    assert!(!code.contains(&silent));
    let mut both = vec![coder.clone(), writer.clone()];
    both.sort();
    let all = store
        .subscribers(&caps(&["rust", "prose", "nothing"]), None, 10)
        .await
        .unwrap();
    assert_eq!(all, both, "any overlap, identity order");
    let page = store
        .subscribers(&caps(&["rust", "prose"]), Some(&both[0]), 10)
        .await
        .unwrap();
    assert_eq!(page, vec![both[1].clone()]);
    let one = store
        .subscribers(&caps(&["rust", "prose"]), None, 1)
        .await
        .unwrap();
    assert_eq!(one, vec![both[0].clone()]);
    assert!(store.subscribers(&[], None, 10).await.unwrap().is_empty());
}

/// Fans one leased event out with `plan`: whether it did.
async fn fan_out_one(store: &impl Deliveries, leased: &LeasedEvent, plan: &[NewDelivery]) -> bool {
    let event = FanOut {
        seq: leased.event.seq,
        attempt: leased.attempt,
        deliveries: plan.to_vec(),
    };
    let answers = store.fan_out(&[event]).await.unwrap();
    assert_eq!(answers.len(), 1);
    answers[0]
}

/// Fanning out stores each recipient and channel once and takes the event out of the
/// outbox; a lost lease stores nothing; several events fan out in one call, each on its
/// own lease.
pub async fn fan_out_is_fenced<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let alice = fx.agent("alice").await;
    let bob = fx.agent("bob").await;
    let leased = fx.market.lease_events(30, 10).await.unwrap();
    assert_eq!(leased.len(), 2, "two registrations");
    let now = fx.market.now();

    fx.advance(31);
    let again = fx.market.lease_events(30, 10).await.unwrap();
    let stale = &leased[0];
    let plan = [
        delivery(stale.event.seq, &alice, Channel::Webhook, now),
        delivery(stale.event.seq, &alice, Channel::Callback, now),
        delivery(stale.event.seq, &bob, Channel::Webhook, now),
        delivery(stale.event.seq, &bob, Channel::Webhook, now),
    ];
    assert!(
        !fan_out_one(store, stale, &plan).await,
        "a lost lease fans out nothing"
    );
    assert_eq!(store.deliveries_pending().await.unwrap(), 0);

    let fresh = &again[0];
    assert!(fan_out_one(store, fresh, &plan).await);
    assert_eq!(
        store.deliveries_pending().await.unwrap(),
        3,
        "one per recipient and channel"
    );
    assert!(
        !fan_out_one(store, fresh, &plan).await,
        "the event is out of the outbox"
    );
    assert_eq!(store.deliveries_pending().await.unwrap(), 3);
    assert_eq!(fx.market.outbox_depth().await.unwrap(), 1, "bob's is left");

    let to_bob = store.deliveries(&bob, None, 10).await.unwrap();
    assert_eq!(to_bob.len(), 1);
    let stored = &to_bob[0].delivery;
    assert_eq!(stored.spec, plan[2]);
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!((stored.attempts, stored.finished_at), (0, None));
    assert!(to_bob[0].attempts.is_empty());

    // Two at once, the first on a lost lease: the second alone fans out.
    let to_carol = |seq| vec![delivery(seq, &alice, Channel::Webhook, now)];
    let (lost, last) = (&leased[1], &again[1]);
    let both = [
        FanOut {
            seq: lost.event.seq,
            attempt: lost.attempt,
            deliveries: to_carol(lost.event.seq),
        },
        FanOut {
            seq: last.event.seq,
            attempt: last.attempt,
            deliveries: to_carol(last.event.seq),
        },
    ];
    assert_eq!(store.fan_out(&both).await.unwrap(), vec![false, true]);
    assert_eq!(fx.market.outbox_depth().await.unwrap(), 0);
    assert_eq!(store.deliveries_pending().await.unwrap(), 4);
    assert!(store.fan_out(&[]).await.unwrap().is_empty());
    // Nothing lingers: the fixture's audit checks the marketplace's invariants.
    fx.assert_invariants().await;
}

/// Deliveries lease like outbox events; an attempt is recorded whatever became of its
/// lease; a retry waits until its time; delivered and given-up deliveries are done.
pub async fn delivery_attempts<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let carol = fx.agent("carol").await;
    let dave = fx.agent("dave").await;
    let now = fx.market.now();
    let mut ids = Vec::new();
    for to in [&carol, &dave, &carol] {
        let d = store
            .add_delivery(&delivery(0, to, Channel::Webhook, now), None)
            .await
            .unwrap();
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, 0));
        ids.push(d.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow");

    let until = fx.market.now() + chrono::Duration::seconds(60);
    let first = store.lease_deliveries(now, until, 2).await.unwrap();
    assert_eq!(first.len(), 2, "the limit holds");
    assert!(first.iter().all(|l| l.attempt == 1));
    let rest = store.lease_deliveries(now, until, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "leased deliveries are hidden");
    let mut seen: Vec<u64> = first.iter().chain(&rest).map(|l| l.delivery.id).collect();
    seen.sort_unstable();
    assert_eq!(seen, ids);
    let by_id = |id: u64| {
        first
            .iter()
            .chain(&rest)
            .find(|l| l.delivery.id == id)
            .unwrap()
            .clone()
    };

    // Delivered at once.
    let ok = by_id(ids[0]);
    assert!(
        store
            .finish_delivery(
                ok.delivery.id,
                &attempt(1, now, Some(200)),
                NextStep::Delivered
            )
            .await
            .unwrap()
    );
    // Failed, retried in 100 s.
    let retry_at = now + chrono::Duration::seconds(100);
    let bad = by_id(ids[1]);
    assert!(
        store
            .finish_delivery(
                bad.delivery.id,
                &attempt(1, now, Some(500)),
                NextStep::RetryAt(retry_at)
            )
            .await
            .unwrap()
    );
    // The third's lease runs out before it reports.
    fx.advance(61);
    let later = fx.market.now();
    let late_until = later + chrono::Duration::seconds(60);
    let relet = store.lease_deliveries(later, late_until, 10).await.unwrap();
    assert_eq!(relet.len(), 1, "only the lapsed lease comes back");
    assert_eq!(
        (relet[0].delivery.id, relet[0].attempt),
        (ids[2], 2),
        "a second attempt"
    );
    assert!(
        !store
            .finish_delivery(ids[2], &attempt(1, now, None), NextStep::Delivered)
            .await
            .unwrap(),
        "a lost lease moves nothing on"
    );
    assert!(
        store
            .finish_delivery(ids[2], &attempt(2, later, Some(410)), NextStep::GiveUp)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_delivery(ids[2], &attempt(3, later, Some(200)), NextStep::Delivered)
            .await
            .unwrap(),
        "a finished delivery stays finished"
    );

    fx.advance(40);
    let retried = store
        .lease_deliveries(fx.market.now(), fx.market.now(), 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1, "the retry is due");
    assert_eq!((retried[0].delivery.id, retried[0].attempt), (ids[1], 2));
    assert_eq!(store.deliveries_pending().await.unwrap(), 1);

    let to_carol = store.deliveries(&carol, None, 10).await.unwrap();
    let listed: Vec<u64> = to_carol.iter().map(|r| r.delivery.id).collect();
    assert_eq!(listed, vec![ids[2], ids[0]], "newest first, only carol's");
    let gave_up = &to_carol[0];
    assert_eq!(gave_up.delivery.status, DeliveryStatus::Failed);
    assert_eq!(gave_up.delivery.finished_at, Some(later));
    assert_eq!(gave_up.delivery.next_attempt_at, None);
    let codes: Vec<(u32, Option<u16>)> = gave_up
        .attempts
        .iter()
        .map(|a| (a.attempt, a.status_code))
        .collect();
    assert_eq!(
        codes,
        vec![(1, None), (2, Some(410)), (3, Some(200))],
        "every attempt recorded, oldest first"
    );
    assert_eq!(gave_up.attempts[1], attempt(2, later, Some(410)));
    assert_eq!(to_carol[1].delivery.status, DeliveryStatus::Delivered);
    let older = store.deliveries(&carol, Some(ids[2]), 10).await.unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].delivery.id, ids[0], "the cursor pages back");
}

/// Attempts finished together are taken in order in one transaction, each as it would be
/// alone: a lost lease or a finished delivery moves nothing but is still recorded (once
/// per attempt); a batch larger than one `INSERT`'s chunk commits whole.
pub async fn finished_attempts_commit_together<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let gus = fx.agent("gus").await;
    let hal = fx.agent("hal").await;
    let now = fx.market.now();
    assert_eq!(
        store.finish_deliveries(&[]).await.unwrap(),
        Vec::<bool>::new()
    );
    for _ in 0..4 {
        store
            .add_delivery(&delivery(0, &gus, Channel::Webhook, now), None)
            .await
            .unwrap();
    }
    let until = now + chrono::Duration::seconds(60);
    let leased = store.lease_deliveries(now, until, 10).await.unwrap();
    let ids: Vec<u64> = leased.iter().map(|l| l.delivery.id).collect();
    assert_eq!(ids.len(), 4);
    let retry_at = now + chrono::Duration::seconds(100);
    let finished =
        |id: u64, record: DeliveryAttempt, next: NextStep| FinishedAttempt { id, record, next };
    let moved = store
        .finish_deliveries(&[
            finished(ids[0], attempt(1, now, Some(200)), NextStep::Delivered),
            finished(
                ids[1],
                attempt(1, now, Some(503)),
                NextStep::RetryAt(retry_at),
            ),
            finished(ids[2], attempt(2, now, Some(200)), NextStep::Delivered),
            finished(ids[3], attempt(1, now, Some(410)), NextStep::GiveUp),
            finished(ids[0], attempt(1, now, Some(500)), NextStep::GiveUp),
        ])
        .await
        .unwrap();
    assert_eq!(
        moved,
        vec![true, true, false, true, false],
        "a lease not the latest, and a delivery already done, move nothing"
    );
    let listed = store.deliveries(&gus, None, 10).await.unwrap();
    let of = |id: u64| listed.iter().find(|r| r.delivery.id == id).unwrap();
    assert_eq!(of(ids[0]).delivery.status, DeliveryStatus::Delivered);
    assert_eq!(
        of(ids[0]).attempts,
        vec![attempt(1, now, Some(200))],
        "an attempt is recorded once, the first report of it kept"
    );
    assert_eq!(of(ids[1]).delivery.status, DeliveryStatus::Pending);
    assert_eq!(of(ids[1]).delivery.next_attempt_at, Some(retry_at));
    assert_eq!(of(ids[2]).delivery.status, DeliveryStatus::Pending);
    assert_eq!(
        of(ids[2]).attempts,
        vec![attempt(2, now, Some(200))],
        "a lost lease's attempt is still on record"
    );
    assert_eq!(of(ids[3]).delivery.status, DeliveryStatus::Failed);
    assert_eq!(of(ids[3]).delivery.finished_at, Some(now));

    // More attempts than one `INSERT` carries, in one call.
    let many = 510;
    for _ in 0..many {
        store
            .add_delivery(&delivery(0, &hal, Channel::Callback, now), None)
            .await
            .unwrap();
    }
    let leased = store.lease_deliveries(now, until, many + 10).await.unwrap();
    assert_eq!(
        leased.len(),
        many,
        "gus's are leased or done; hal's all due"
    );
    let all: Vec<FinishedAttempt> = leased
        .iter()
        .map(|l| {
            finished(
                l.delivery.id,
                attempt(1, now, Some(204)),
                NextStep::Delivered,
            )
        })
        .collect();
    let moved = store.finish_deliveries(&all).await.unwrap();
    assert!(moved.len() == many && moved.iter().all(|m| *m), "{moved:?}");
    assert_eq!(
        store.deliveries_pending().await.unwrap(),
        2,
        "gus's retry and his lost lease stay pending; hal's are all delivered"
    );
    let hals = store.deliveries(&hal, None, 10).await.unwrap();
    assert!(
        hals.iter()
            .all(|r| r.delivery.status == DeliveryStatus::Delivered
                && r.attempts == vec![attempt(1, now, Some(204))])
    );
}

/// Senders racing for deliveries never get the same one at once.
pub async fn concurrent_delivery_leases_never_share<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let erin = fx.agent("erin").await;
    let now = fx.market.now();
    for _ in 0..40 {
        store
            .add_delivery(&delivery(0, &erin, Channel::Callback, now), None)
            .await
            .unwrap();
    }
    let until = now + chrono::Duration::seconds(60);
    let batches = join_all((0..4).map(|_| store.lease_deliveries(now, until, 15))).await;
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for batch in batches {
        for leased in batch.unwrap() {
            total += 1;
            assert!(seen.insert(leased.delivery.id), "leased twice at once");
        }
    }
    assert_eq!(total, 40, "every delivery leased once");
}

/// A delivery added already leased is the caller's first attempt: hidden from senders
/// until the lease ends, and finished by the caller.
pub async fn added_leased<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let store = fx.market.store();
    let frank = fx.agent("frank").await;
    let now = fx.market.now();
    let until = now + chrono::Duration::seconds(30);
    let mine = store
        .add_delivery(&delivery(0, &frank, Channel::Webhook, now), Some(until))
        .await
        .unwrap();
    assert_eq!((mine.attempts, mine.next_attempt_at), (1, Some(until)));
    assert!(
        store
            .lease_deliveries(now, until, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased to its maker"
    );
    assert!(
        store
            .finish_delivery(mine.id, &attempt(1, now, Some(204)), NextStep::Delivered)
            .await
            .unwrap()
    );
    fx.advance(60);
    let later = fx.market.now();
    assert!(
        store
            .lease_deliveries(later, later, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let listed = store.deliveries(&frank, None, 10).await.unwrap();
    assert_eq!(listed[0].delivery.status, DeliveryStatus::Delivered);
    assert_eq!(listed[0].attempts, vec![attempt(1, now, Some(204))]);
}
