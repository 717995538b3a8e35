//! The store runs with the durability DESIGN.md asks for, and keeps data across reopening.

use std::time::{Duration, Instant};

use marketplace_core::TaskSpec;
use marketplace_core::testkit::{Fixture, dec};
use storage_sqlite::{SqliteOptions, SqliteStore};

#[tokio::test]
async fn wal_with_full_sync_by_default_normal_only_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions::file(dir.path().join("a.db")))
        .await
        .unwrap();
    assert_eq!(store.durability().await.unwrap(), ("wal".to_owned(), 2));
    let relaxed = SqliteOptions::file(dir.path().join("b.db")).synchronous_normal(true);
    let store = SqliteStore::open(relaxed).await.unwrap();
    assert_eq!(store.durability().await.unwrap(), ("wal".to_owned(), 1));
}

#[tokio::test]
async fn committed_state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("market.db");
    let task = {
        let fx = Fixture::new(SqliteStore::open(SqliteOptions::file(&path)).await.unwrap());
        let alice = fx.agent("alice").await;
        let task = fx
            .market
            .post_task(&alice, TaskSpec::new("kept", 12))
            .await
            .unwrap();
        fx.market.store().close().await;
        task
    };
    // The same manual clock as before the restart: no deadline has passed.
    let store = SqliteStore::open(SqliteOptions::file(&path)).await.unwrap();
    let reopened = Fixture::new(store).market;
    let found = reopened.task(None, task.id).await.unwrap();
    assert_eq!(
        (found.bounty, found.poster.clone()),
        (dec("12"), task.poster.clone())
    );
    assert_eq!(
        reopened.balance(&task.poster).await.unwrap().escrowed,
        dec("12")
    );
}

/// Commits append their pages to the write-ahead log; the store's own thread copies them
/// into the database file while the store runs, where SQLite would have had the next
/// command's commit do it. The writers' own checkpoints start only past 10,000 pages of
/// log, far more than these commands write, so the file grows only by that thread.
#[tokio::test]
async fn the_log_is_checkpointed_off_the_commit_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("market.db");
    let fx = Fixture::new(SqliteStore::open(SqliteOptions::file(&path)).await.unwrap());
    let alice = fx.agent("alice").await;
    // Whatever the set-up wrote has reached the file once its size stays put.
    let settled = |mut size: u64| {
        let path = path.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let now = std::fs::metadata(&path).unwrap().len();
                if now == size {
                    return size;
                }
                size = now;
            }
        }
    };
    let before = settled(std::fs::metadata(&path).unwrap().len()).await;
    for i in 0..20 {
        let text: String = (0..300).map(|w| format!("word{i}x{w} ")).collect();
        fx.market
            .post_task(&alice, TaskSpec::new(text, 1))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let grown = loop {
        let size = std::fs::metadata(&path).unwrap().len();
        if size >= before + 64 * 1024 || Instant::now() > deadline {
            break size;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        grown >= before + 64 * 1024,
        "the database file grew from {before} to only {grown} bytes: the log was not checkpointed"
    );
}
