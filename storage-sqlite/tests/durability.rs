//! The store runs with the durability DESIGN.md asks for, and keeps data across reopening.

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
