//! Group commit's lane on a thread of its own (`spawn_lane`), where the inline writer
//! commits on the lane's thread: commands sent at once behind a barrier are batched there
//! and answered as each would be alone, and the thread ends with the marketplace.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use marketplace_core::testkit::Fixture;
use marketplace_core::*;
use rust_decimal::Decimal;
use storage_sqlite::{SqliteOptions, SqliteStore, spawn_lane};
use tokio::sync::Barrier;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_on_its_own_thread_answers_each_command_as_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
        .await
        .unwrap();
    let fx = Fixture::new(store);
    let alice = fx.agent("alice").await;
    let mut racers = Vec::new();
    for i in 0..24 {
        racers.push(fx.agent(&format!("racer {i}")).await);
    }
    let mut prizes = Vec::new();
    for i in 0..4 {
        let spec = TaskSpec::new(format!("prize {i}"), 2);
        prizes.push(fx.market.post_task(&alice, spec).await.unwrap().id);
    }

    let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
    let started = threads.clone();
    let market = fx.market.clone().with_group_commit(
        GroupCommit {
            max_commands: 16,
            ..GroupCommit::default()
        },
        move |lane| started.lock().unwrap().push(spawn_lane(lane).unwrap()),
    );
    {
        let threads = threads.lock().unwrap();
        assert_eq!(threads.len(), 1, "SQLite's one lane");
        assert_eq!(threads[0].thread().name(), Some("sqlite-lane"));
        assert!(
            !threads[0].is_finished(),
            "the lane runs while its market lives"
        );
    }

    // 24 claims of 4 tasks and 24 posts under one idempotency key, all let go at once.
    let barrier = Arc::new(Barrier::new(48));
    let mut claims = Vec::new();
    for (i, racer) in racers.iter().enumerate() {
        let (market, barrier, racer) = (market.clone(), barrier.clone(), racer.clone());
        let task = prizes[i % prizes.len()];
        claims.push(tokio::spawn(async move {
            barrier.wait().await;
            market.claim(&racer, task).await
        }));
    }
    let mut duplicates = Vec::new();
    for _ in 0..24 {
        let (market, barrier, alice) = (market.clone(), barrier.clone(), alice.clone());
        duplicates.push(tokio::spawn(async move {
            barrier.wait().await;
            let post = Command::PostTask(TaskSpec::new("posted once", 3).into());
            market.execute_idempotent(&alice, post, "once").await
        }));
    }
    let within = Duration::from_secs(30);
    let mut won = 0;
    for claim in claims {
        match tokio::time::timeout(within, claim).await.unwrap().unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e.code(), "already_claimed", "{e}"),
        }
    }
    assert_eq!(won, prizes.len(), "one claim per task wins");
    let mut answers = Vec::new();
    for duplicate in duplicates {
        answers.push(
            tokio::time::timeout(within, duplicate)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let first = answers[0].as_ref().unwrap();
    assert!(
        answers.iter().all(|a| a.as_ref().ok() == Some(first)),
        "every duplicate gets the first's answer"
    );

    let stats = market.group_commit_stats().unwrap();
    assert_eq!(stats.commands, 48, "every command went through the lane");
    assert!(stats.batches <= 48);
    for task in &prizes {
        let stored = fx.market.store().task(*task).await.unwrap().unwrap();
        assert_eq!(stored.status, TaskStatus::Claimed);
    }
    let escrowed = fx.market.balance(&alice).await.unwrap().escrowed;
    assert_eq!(
        escrowed,
        Decimal::from(11),
        "four prizes of 2 and one post of 3: the duplicates took nothing"
    );
    fx.assert_invariants().await;

    // The last clone with the queue goes: the lane ends, and its thread with it.
    drop(market);
    let thread = threads.lock().unwrap().pop().unwrap();
    tokio::time::timeout(within, tokio::task::spawn_blocking(move || thread.join()))
        .await
        .expect("the lane's thread ends with its market")
        .unwrap()
        .expect("the lane's thread ends cleanly");
}
