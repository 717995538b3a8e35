//! Group commit: commands decided and written in one transaction, made durable by one
//! commit ([`Marketplace::execute_batch`], [`Marketplace::with_group_commit`]).

use std::sync::{Arc, Mutex};

use futures::future::join_all;

use super::{assert_code, fixture};
use crate::command::{Command, Outcome};
use crate::engine::{GroupCommit, Lane, Marketplace, Submission};
use crate::error::Error;
use crate::ids::{IdAllocator, IdentityId, SequentialIds, TaskId};
use crate::model::{DeliveryInput, ProfileUpdate, Task, TaskSpec, TaskStatus};
use crate::store::{SearchQuery, Store, StoreError};
use crate::testkit::{FailingCommits, Fixture, Harness, dec};

/// The fixture's marketplace, its seeds counted from `start` (the first is `start + 1`):
/// the ids a batch's commands create can be known before it runs.
fn seeded<S: Store + Clone>(fx: &Fixture<S>, start: u64) -> Marketplace<S> {
    fx.market
        .clone()
        .with_ids(Arc::new(SequentialIds::starting_at(start)))
}

/// The id of the task a post creates with `seed`, at the fixture's (standing) time.
fn task_id_of<S: Store>(fx: &Fixture<S>, seed: u64) -> TaskId {
    TaskId(IdAllocator::new(fx.market.now(), seed).next_uuid())
}

fn post(text: &str, bounty: u32, review: bool) -> Command {
    let mut spec = TaskSpec::new(text, bounty);
    spec.require_review = review;
    Command::PostTask(spec.into())
}

fn claim(task: TaskId) -> Command {
    Command::Claim { task, note: None }
}

#[track_caller]
fn task_of(answer: &Result<Outcome, Error>) -> Task {
    match answer {
        Ok(Outcome::Task(task)) => (**task).clone(),
        other => panic!("expected a task, got {other:?}"),
    }
}

/// Commands of one batch see each other's effects in order: an identity registered, a task
/// posted, then claimed by the newcomer, delivered, accepted and paid, in one commit.
pub async fn later_commands_see_earlier<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let dave = IdentityId::from_public_key(b"dave");
    let market = seeded(&fx, 9000);
    // Seeds are drawn in order: the post (second) gets 9002.
    let id = task_id_of(&fx, 9002);
    let answers = market
        .execute_batch(vec![
            Submission::new(&dave, Command::Register(ProfileUpdate::alias("dave"))),
            Submission::new(&alice, post("in one batch", 10, true)),
            Submission::new(&dave, claim(id)),
            Submission::new(
                &dave,
                Command::Deliver {
                    task: id,
                    delivery: DeliveryInput::text("done"),
                },
            ),
            Submission::new(
                &alice,
                Command::Accept {
                    task: id,
                    rating: Some(5),
                },
            ),
        ])
        .await;
    assert_eq!(answers.len(), 5);
    for (i, answer) in answers.iter().enumerate() {
        assert!(answer.is_ok(), "command {i} of the batch: {answer:?}");
    }
    assert_eq!(
        task_of(&answers[1]).id,
        id,
        "the post made the task predicted"
    );
    assert_eq!(task_of(&answers[4]).status, TaskStatus::Completed);
    let stored = fx.market.store().task(id).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Completed);
    // Indexed once, as posted: the later writes of the batch updated the task.
    let query = SearchQuery {
        text: "batch".into(),
        kind: None,
        topic: None,
        limit: 10,
    };
    let hits = fx.market.store().search(&query).await.unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        fx.available(&dave).await > dec("0"),
        "the newcomer was paid in the batch that registered it"
    );
    assert_eq!(fx.market.balance(&alice).await.unwrap().escrowed, dec("0"));
    fx.assert_invariants().await;
}

/// A command refused by the rules fails alone and writes nothing; those before and after it
/// commit.
pub async fn refused_alone<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let open = fx
        .market
        .post_task(&alice, TaskSpec::new("open", 5))
        .await
        .unwrap();
    let carol_before = fx.available(&carol).await;
    let missing = task_id_of(&fx, 424_242);
    let answers = fx
        .market
        .execute_batch(vec![
            Submission::new(&bob, claim(open.id)),
            Submission::new(&carol, claim(open.id)),
            Submission::new(&carol, claim(missing)),
            Submission::new(&carol, post("after the refusals", 3, false)),
        ])
        .await;
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    let mut answers = answers.into_iter();
    let first = answers.next().unwrap();
    assert_code(answers.next().unwrap(), "already_claimed");
    assert_code(answers.next().unwrap(), "task_not_found");
    let posted = task_of(&answers.next().unwrap());
    assert_eq!(task_of(&first).claimant(), Some(&bob));
    let stored = fx.market.store().task(open.id).await.unwrap().unwrap();
    assert_eq!(
        stored.claimant(),
        Some(&bob),
        "the refused claim changed nothing"
    );
    assert!(fx.market.store().task(posted.id).await.unwrap().is_some());
    assert_eq!(
        fx.available(&carol).await,
        carol_before - dec("3"),
        "carol paid for her post only"
    );
    fx.assert_invariants().await;
}

/// Claims of one task in one batch: the first wins, every other is refused.
pub async fn one_claim_wins_in_a_batch<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let mut agents = Vec::new();
    for i in 0..12 {
        agents.push(fx.agent(&format!("batch-racer-{i}")).await);
    }
    let t = fx
        .market
        .post_task(&alice, TaskSpec::new("one prize", 4))
        .await
        .unwrap();
    let batch = agents.iter().map(|a| Submission::new(a, claim(t.id)));
    let answers = fx.market.execute_batch(batch.collect()).await;
    let mut answers = answers.into_iter();
    assert!(answers.next().unwrap().is_ok(), "the first claim wins");
    for answer in answers {
        assert_code(answer, "already_claimed");
    }
    let stored = fx.market.store().task(t.id).await.unwrap().unwrap();
    assert_eq!(stored.claimant(), Some(&agents[0]));
    fx.assert_invariants().await;
}

/// Idempotency keys in a batch: a duplicate later in the batch replays the first's answer,
/// the key's record commits with the batch (a retry after it replays too), the same key
/// with another command is refused, and keys stay per caller.
pub async fn keys_in_a_batch<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let once = post("once per key", 10, false);
    let answers = fx
        .market
        .execute_batch(vec![
            Submission::new(&alice, once.clone()).with_key("k-1"),
            Submission::new(&alice, once.clone()).with_key("k-1"),
            Submission::new(&alice, post("another", 10, false)).with_key("k-1"),
            Submission::new(&bob, once.clone()).with_key("k-1"),
            Submission::new(&alice, once.clone()).with_key(""),
        ])
        .await;
    let mut answers = answers.into_iter();
    let first = answers.next().unwrap().unwrap();
    assert_eq!(answers.next().unwrap().unwrap(), first, "replayed");
    assert_code(answers.next().unwrap(), "idempotency_conflict");
    let bobs = answers.next().unwrap().unwrap();
    assert_ne!(bobs, first, "keys are per caller");
    assert_code(answers.next().unwrap(), "invalid_input");
    assert_eq!(
        fx.market.balance(&alice).await.unwrap().escrowed,
        dec("10"),
        "executed once"
    );
    let again = fx.market.execute_idempotent(&alice, once, "k-1").await;
    assert_eq!(again.unwrap(), first, "the record committed with the batch");
    fx.assert_invariants().await;
}

/// A batch whose commit fails: every command it would have acknowledged gets the store's
/// error, a refused one its refusal, and none of them took effect.
pub async fn failed_commit_fails_all<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob) = (fx.agent("alice").await, fx.agent("bob").await);
    let open = fx
        .market
        .post_task(&alice, TaskSpec::new("stays open", 5))
        .await
        .unwrap();
    let before = fx.market.balance(&alice).await.unwrap();
    let store = fx.market.store().clone();
    let failed = StoreError::Unavailable("the disk is gone".into());
    let failing = Marketplace::new(
        FailingCommits::new(store, usize::MAX, failed),
        fx.market.policy().clone(),
    )
    .with_clock(fx.clock.clone())
    .with_ids(Arc::new(SequentialIds::starting_at(5000)));
    let answers = failing
        .execute_batch(vec![
            Submission::new(&alice, post("never posted", 7, false)),
            Submission::new(&bob, claim(open.id)),
            Submission::new(&bob, claim(task_id_of(&fx, 777))),
            Submission::new(&alice, post("nor this", 1, false)).with_key("k-failed"),
        ])
        .await;
    let mut answers = answers.into_iter();
    for _ in 0..2 {
        assert!(matches!(
            answers.next().unwrap(),
            Err(Error::Storage(StoreError::Unavailable(_)))
        ));
    }
    assert_code(answers.next().unwrap(), "task_not_found");
    assert!(answers.next().unwrap().is_err());
    assert!(
        fx.market
            .store()
            .task(task_id_of(&fx, 5001))
            .await
            .unwrap()
            .is_none()
    );
    let stored = fx.market.store().task(open.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        TaskStatus::Open,
        "the claim did not take effect"
    );
    assert_eq!(fx.market.balance(&alice).await.unwrap(), before);
    // The key was not kept: the command runs when retried.
    let retried = fx
        .market
        .execute_idempotent(&alice, post("nor this", 1, false), "k-failed")
        .await;
    assert!(retried.is_ok(), "{retried:?}");
    fx.assert_invariants().await;
}

/// A batch whose commit loses a race (the store rolled it back): its commands run again
/// one by one, each acknowledged once, with the ids and keys they had.
pub async fn conflicted_batch_runs_one_by_one<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let (alice, bob, carol) = (
        fx.agent("alice").await,
        fx.agent("bob").await,
        fx.agent("carol").await,
    );
    let open = fx
        .market
        .post_task(&alice, TaskSpec::new("claimed after a retry", 5))
        .await
        .unwrap();
    let lost = StoreError::Conflict("a lost race".into());
    let market = Marketplace::new(
        FailingCommits::new(fx.market.store().clone(), 1, lost),
        fx.market.policy().clone(),
    )
    .with_clock(fx.clock.clone())
    .with_ids(Arc::new(SequentialIds::starting_at(6000)));
    let answers = market
        .execute_batch(vec![
            Submission::new(&alice, post("posted once", 7, false)).with_key("k-retried"),
            Submission::new(&bob, claim(open.id)),
            Submission::new(&carol, claim(open.id)),
        ])
        .await;
    let mut answers = answers.into_iter();
    let posted = task_of(&answers.next().unwrap());
    assert_eq!(
        posted.id,
        task_id_of(&fx, 6001),
        "the same ids on the retry"
    );
    assert_eq!(task_of(&answers.next().unwrap()).claimant(), Some(&bob));
    assert_code(answers.next().unwrap(), "already_claimed");
    assert_eq!(
        fx.market.balance(&alice).await.unwrap().escrowed,
        dec("12"),
        "the open task's 5 and the post's 7, once"
    );
    let again = fx
        .market
        .execute_idempotent(&alice, post("posted once", 7, false), "k-retried")
        .await;
    assert_eq!(
        task_of(&again).id,
        posted.id,
        "the key committed with the retry"
    );
    fx.assert_invariants().await;
}

/// Commands sent at once to a marketplace with group commit (two lanes, batches of up to 8):
/// duplicates of one key execute once, one claim per task wins, every answer is the one
/// the command would get alone.
pub async fn lanes_answer_each_command<H: Harness>(h: &H) {
    let fx = fixture(h).await;
    let alice = fx.agent("alice").await;
    let mut agents = Vec::new();
    for i in 0..20 {
        agents.push(fx.agent(&format!("lane-racer-{i}")).await);
    }
    let mut tasks = Vec::new();
    for i in 0..5 {
        let spec = TaskSpec::new(format!("prize {i}"), 2);
        tasks.push(fx.market.post_task(&alice, spec).await.unwrap().id);
    }
    // The lanes run in this test's task beside the commands: the store's runtime, whatever it is.
    let lanes: Arc<Mutex<Vec<Lane>>> = Arc::default();
    let spawned = lanes.clone();
    let config = GroupCommit {
        max_commands: 8,
        lanes: 2,
        ..GroupCommit::default()
    };
    let market = fx
        .market
        .clone()
        .with_group_commit(config, move |lane| spawned.lock().unwrap().push(lane));
    let lanes = std::mem::take(&mut *lanes.lock().unwrap());
    assert_eq!(lanes.len(), 2);
    let once = post("posted once", 3, false);
    let poster = alice.clone();
    let commands = async move {
        let alice = poster;
        let claims = agents
            .iter()
            .enumerate()
            .map(|(i, a)| market.claim(a, tasks[i % tasks.len()]));
        let duplicates = (0..20).map(|_| market.execute_idempotent(&alice, once.clone(), "dup"));
        let (claims, duplicates) = futures::join!(join_all(claims), join_all(duplicates));
        let alone = market.post_task(&alice, TaskSpec::new("alone", 1)).await;
        // The last clone with the queue goes: the lanes end.
        drop(market);
        (claims, duplicates, alone, tasks)
    };
    let (_, (claims, duplicates, alone, tasks)) = futures::join!(join_all(lanes), commands);
    let won = claims.iter().filter(|c| c.is_ok()).count();
    assert_eq!(won, tasks.len(), "one claim per task wins");
    for refused in claims.into_iter().filter(Result::is_err) {
        assert_code(refused, "already_claimed");
    }
    let first = duplicates[0].as_ref().unwrap();
    assert!(duplicates.iter().all(|d| d.as_ref().ok() == Some(first)));
    assert!(alone.is_ok(), "a command alone is answered");
    for t in tasks {
        let stored = fx.market.store().task(t).await.unwrap().unwrap();
        assert_eq!(stored.status, TaskStatus::Claimed);
    }
    assert_eq!(
        fx.market.balance(&alice).await.unwrap().escrowed,
        dec("14"),
        "five prizes of 2, one duplicate post of 3, one of 1"
    );
    fx.assert_invariants().await;
}
