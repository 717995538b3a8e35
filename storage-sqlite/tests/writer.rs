//! The one writer connection passes from a command to the next without going back to the
//! pool. These cases check what that must not break: a write (or a migration) waiting for
//! the writer gets it when a command ends, closing the store closes it, and a store may
//! outlive its runtime.

use std::time::Duration;

use marketplace_core::store::{Store, StoreError, Transaction};
use marketplace_core::testkit::Fixture;
use marketplace_core::*;
use storage_sqlite::{SqliteOptions, SqliteStore};

/// A store in `dir` right after a command (a post by the agent returned), which left the
/// writer for the next one.
async fn after_a_command(dir: &tempfile::TempDir) -> (Fixture<SqliteStore>, IdentityId) {
    let store = SqliteStore::open(SqliteOptions::file(dir.path().join("market.db")))
        .await
        .unwrap();
    let fx = Fixture::new(store);
    let alice = fx.agent("alice").await;
    fx.market
        .post_task(&alice, TaskSpec::new("one", 2))
        .await
        .unwrap();
    (fx, alice)
}

/// Writes outside a command (here the outbox's lease) take the writer a command left, and
/// one that waits for it while a command runs gets it when the command ends.
#[tokio::test]
async fn a_write_waiting_for_the_writer_gets_it_when_a_command_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (fx, alice) = after_a_command(&dir).await;
    let store = fx.market.store().clone();
    let now = fx.market.now();
    let until = now + chrono::Duration::seconds(30);
    let leased = tokio::time::timeout(Duration::from_secs(5), store.lease_events(now, until, 100))
        .await
        .expect("a lease right after a command gets the writer")
        .unwrap();
    assert!(!leased.is_empty(), "the post's events are leased");

    let mut tx = store.begin().await.unwrap();
    assert!(tx.profile(&alice).await.unwrap().is_some());
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.lease_events(now, until, 100).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "the lease waits while the transaction holds the writer"
    );
    tx.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting lease gets the writer when the command ends")
        .unwrap()
        .unwrap();
    // And the commands after it still have a writer.
    fx.market
        .post_task(&alice, TaskSpec::new("two", 2))
        .await
        .unwrap();
}

/// Migrating a store in use (as a new release's server does on start) takes the writer a
/// command left.
#[tokio::test]
async fn migrating_takes_the_writer_a_command_left() {
    let dir = tempfile::tempdir().unwrap();
    let (fx, alice) = after_a_command(&dir).await;
    let store = fx.market.store().clone();
    tokio::time::timeout(Duration::from_secs(5), store.migrate())
        .await
        .expect("the migrator gets the writer")
        .unwrap();
    fx.market
        .post_task(&alice, TaskSpec::new("two", 2))
        .await
        .unwrap();
}

/// Closing the store also closes the writer a command left: it does not wait for it, and no
/// command runs on the store afterwards.
#[tokio::test]
async fn closing_the_store_closes_the_writer_a_command_left() {
    let dir = tempfile::tempdir().unwrap();
    let (fx, alice) = after_a_command(&dir).await;
    tokio::time::timeout(Duration::from_secs(10), fx.market.store().close())
        .await
        .expect("closing returns once every connection is closed");
    let refused = fx.market.post_task(&alice, TaskSpec::new("two", 2)).await;
    assert!(
        matches!(refused, Err(Error::Storage(StoreError::Unavailable(_)))),
        "{refused:?}"
    );
}

/// A store may be dropped after the runtime it ran on: the writer a command left is closed
/// then, without the runtime the pool would take it back on.
#[test]
fn a_store_dropped_after_its_runtime_closes_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (fx, _) = runtime.block_on(after_a_command(&dir));
    drop(runtime);
    drop(fx);
}
