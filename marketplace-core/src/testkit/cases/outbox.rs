//! The outbox as a dispatcher sees it: leases, completion, retries with backoff, fencing of
//! lost leases, and concurrent dispatchers that never share an event.

use std::collections::BTreeSet;

use futures::future::join_all;

use super::{assert_code, fixture};
use crate::model::TaskSpec;
use crate::testkit::Harness;

/// Every event is leased once per lease; completed events are gone; a lease that runs out
/// hands the event to the next dispatcher, and the old lease can no longer finish it.
pub async fn leases_complete_and_expire<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    fx.delivered(&alice, &bob, TaskSpec::new("t", 5), "r").await;
    let all = fx.market.events(0, 200).await.unwrap();
    assert!(all.len() >= 5, "registrations, post, claim, delivery");

    let depth = fx.market.outbox_depth().await.unwrap();
    assert_eq!(depth, all.len() as u64, "every event waits");
    let leased = fx.market.lease_events(30, 200).await.unwrap();
    let seqs: Vec<u64> = leased.iter().map(|l| l.event.seq).collect();
    let expected: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, expected, "every event, in seq order");
    assert!(leased.iter().all(|l| l.attempt == 1));
    assert_eq!(leased[0].event, all[0], "the event as written");
    assert!(
        fx.market.lease_events(30, 200).await.unwrap().is_empty(),
        "leased events are hidden until the lease runs out"
    );

    let (done, kept) = leased.split_at(leased.len() / 2);
    for l in done {
        assert!(fx.market.complete_event(l).await.unwrap());
        assert!(
            !fx.market.complete_event(l).await.unwrap(),
            "completed once"
        );
    }
    let depth = fx.market.outbox_depth().await.unwrap();
    assert_eq!(
        depth,
        kept.len() as u64,
        "leased but unfinished events still count"
    );
    fx.advance(31);
    let again = fx.market.lease_events(30, 200).await.unwrap();
    let again_seqs: Vec<u64> = again.iter().map(|l| l.event.seq).collect();
    let kept_seqs: Vec<u64> = kept.iter().map(|l| l.event.seq).collect();
    assert_eq!(again_seqs, kept_seqs, "only the unfinished come back");
    assert!(again.iter().all(|l| l.attempt == 2));
    for (old, new) in kept.iter().zip(&again) {
        assert!(
            !fx.market.complete_event(old).await.unwrap(),
            "a lost lease cannot complete"
        );
        assert!(
            !fx.market.retry_event(old, 1).await.unwrap(),
            "a lost lease cannot reschedule"
        );
        assert!(fx.market.complete_event(new).await.unwrap());
    }
    fx.advance(86_400);
    assert!(fx.market.lease_events(30, 200).await.unwrap().is_empty());
}

/// A retry puts the event back at the time asked; leases respect their limit and take the
/// earliest available first; bad lease lengths are refused.
pub async fn retries_back_off<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    fx.market
        .post_task(&alice, TaskSpec::new("t", 5))
        .await
        .unwrap();
    let total = fx.market.events(0, 200).await.unwrap().len();
    assert!(total >= 2);
    assert_code(fx.market.lease_events(0, 10).await, "invalid_input");
    assert_code(fx.market.lease_events(3_601, 10).await, "invalid_input");

    let first = fx.market.lease_events(30, 1).await.unwrap();
    assert_eq!(first.len(), 1, "limit respected");
    assert_eq!(first[0].event.seq, 1, "earliest first");
    assert!(fx.market.retry_event(&first[0], 60).await.unwrap());

    let rest = fx.market.lease_events(300, 200).await.unwrap();
    assert_eq!(rest.len(), total - 1, "the retried event waits");
    assert!(rest.iter().all(|l| l.event.seq != 1));
    fx.advance(45);
    assert!(
        fx.market.lease_events(30, 200).await.unwrap().is_empty(),
        "not before its time"
    );
    fx.advance(20);
    let retried = fx.market.lease_events(30, 200).await.unwrap();
    assert_eq!(retried.len(), 1, "back after its backoff, alone");
    assert_eq!((retried[0].event.seq, retried[0].attempt), (1, 2));
    fx.advance(300);
    let all = fx.market.lease_events(30, 200).await.unwrap();
    assert_eq!(all.len(), total, "every lease ran out");
    assert_eq!(all[0].attempt, 3);
    assert!(all[1..].iter().all(|l| l.attempt == 2));
    for l in &all {
        assert!(fx.market.complete_event(l).await.unwrap());
        assert!(!fx.market.retry_event(l, 5).await.unwrap(), "done is done");
    }
}

/// Ten dispatchers lease at once: no event goes to two of them, none takes more than it
/// asked for, and what they left is still there for the next lease.
pub async fn concurrent_leases_never_share<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    for i in 0..50 {
        fx.market
            .post_task(&alice, TaskSpec::new(format!("task {i}"), 1))
            .await
            .unwrap();
    }
    let total = fx.market.events(0, 200).await.unwrap().len();
    let batches = join_all((0..10).map(|_| fx.market.lease_events(60, 4))).await;
    let mut seen = BTreeSet::new();
    for batch in batches {
        let batch = batch.unwrap();
        assert!(batch.len() <= 4);
        for l in batch {
            assert!(
                seen.insert(l.event.seq),
                "event {} leased twice",
                l.event.seq
            );
            assert_eq!(l.attempt, 1);
        }
    }
    assert!(!seen.is_empty());
    for l in fx.market.lease_events(60, 200).await.unwrap() {
        assert!(
            seen.insert(l.event.seq),
            "event {} leased twice",
            l.event.seq
        );
    }
    assert_eq!(seen.len(), total, "every event leased exactly once");
}

/// The last sequence is 0 before any event, then the highest one stored: the last event's.
pub async fn last_event_seq_is_the_newest_events<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    assert_eq!(fx.market.last_event_seq().await.unwrap(), 0);
    let alice = fx.agent("alice").await;
    fx.market
        .post_task(&alice, TaskSpec::new("t", 1))
        .await
        .unwrap();
    let events = fx.market.events(0, 200).await.unwrap();
    let newest = events.last().expect("events were written").seq;
    assert_eq!(fx.market.last_event_seq().await.unwrap(), newest);
    // Completing events (the dispatcher's side) does not move it.
    for leased in fx.market.lease_events(30, 200).await.unwrap() {
        fx.market.complete_event(&leased).await.unwrap();
    }
    assert_eq!(fx.market.last_event_seq().await.unwrap(), newest);
    assert!(fx.market.events(newest, 10).await.unwrap().is_empty());
}

/// An event carries its task as its command left it, stored and leased with it: a claim's
/// event still shows the claim after the task was delivered and accepted; a message's
/// event (which changes no task) shows the task as it stood. Events without a task carry
/// none.
pub async fn events_carry_their_task_as_of_their_command<H: Harness>(h: &H) {
    use crate::model::{EventKind, TaskStatus};
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let mut spec = TaskSpec::new("t", 5);
    spec.require_review = true;
    let t = fx.market.post_task(&alice, spec).await.unwrap();
    fx.market.claim(&bob, t.id).await.unwrap();
    fx.market
        .message(&alice, t.id, "how is it going?", false)
        .await
        .unwrap();
    fx.market
        .deliver(&bob, t.id, crate::model::DeliveryInput::text("r"))
        .await
        .unwrap();
    fx.market.accept(&alice, t.id, Some(5)).await.unwrap();
    let expected = [
        (EventKind::TaskPosted, TaskStatus::Open),
        (EventKind::TaskClaimed, TaskStatus::Claimed),
        (EventKind::MessagePosted, TaskStatus::Claimed),
        (EventKind::TaskDelivered, TaskStatus::Delivered),
        (EventKind::TaskAccepted, TaskStatus::Completed),
    ];
    let leased = fx.market.lease_events(30, 200).await.unwrap();
    let mut seen = Vec::new();
    for event in leased.iter().map(|l| &l.event) {
        match (event.task_id, &event.task) {
            (Some(id), Some(task)) => {
                assert_eq!(task.id, id);
                seen.push((event.kind, task.status));
            }
            (None, None) => {}
            other => panic!("{:?}: task {other:?}", event.kind),
        }
    }
    assert_eq!(seen, expected);
    let delivered = leased
        .iter()
        .find(|l| l.event.kind == EventKind::TaskDelivered)
        .and_then(|l| l.event.task.as_ref())
        .unwrap();
    assert_eq!(delivered.delivery.as_ref().unwrap().text, "r");
}
