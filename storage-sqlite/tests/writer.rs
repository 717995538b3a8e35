//! The one writer connection passes from a command to the next without going back to the
//! pool. These cases check what that must not break: a write (or a migration) waiting for
//! the writer gets it when a command ends, closing the store closes it, and a store may
//! outlive its runtime — with commands' transactions inline (the default) and through the
//! driver. And a transaction dropped before its end leaves nothing behind.

use std::time::Duration;

use marketplace_core::store::{Store, StoreError, Transaction};
use marketplace_core::testkit::Fixture;
use marketplace_core::*;
use storage_sqlite::{SqliteOptions, SqliteStore};

/// A store in `dir` right after a command (a post by the agent returned), which left the
/// writer for the next one; its transactions inline or through the driver.
async fn after_a_command(
    dir: &tempfile::TempDir,
    inline_writer: bool,
) -> (Fixture<SqliteStore>, IdentityId) {
    let options = SqliteOptions::file(dir.path().join("market.db")).inline_writer(inline_writer);
    let store = SqliteStore::open(options).await.unwrap();
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
    for inline in [true, false] {
        a_write_waits_for_a_command(inline).await;
    }
}

async fn a_write_waits_for_a_command(inline: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (fx, alice) = after_a_command(&dir, inline).await;
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
    for inline in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (fx, alice) = after_a_command(&dir, inline).await;
        migrate_after_a_command(&fx, &alice).await;
    }
}

async fn migrate_after_a_command(fx: &Fixture<SqliteStore>, alice: &IdentityId) {
    let store = fx.market.store().clone();
    tokio::time::timeout(Duration::from_secs(5), store.migrate())
        .await
        .expect("the migrator gets the writer")
        .unwrap();
    fx.market
        .post_task(alice, TaskSpec::new("two", 2))
        .await
        .unwrap();
}

/// Closing the store also closes the writer a command left: it does not wait for it, and no
/// command runs on the store afterwards.
#[tokio::test]
async fn closing_the_store_closes_the_writer_a_command_left() {
    for inline in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (fx, alice) = after_a_command(&dir, inline).await;
        tokio::time::timeout(Duration::from_secs(10), fx.market.store().close())
            .await
            .expect("closing returns once every connection is closed");
        let refused = fx.market.post_task(&alice, TaskSpec::new("two", 2)).await;
        assert!(
            matches!(refused, Err(Error::Storage(StoreError::Unavailable(_)))),
            "{refused:?}"
        );
    }
}

/// A store may be dropped after the runtime it ran on: the writer a command left is closed
/// then, without the runtime the pool would take it back on.
#[test]
fn a_store_dropped_after_its_runtime_closes_quietly() {
    for inline in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (fx, _) = runtime.block_on(after_a_command(&dir, inline));
        drop(runtime);
        drop(fx);
    }
}

/// A transaction dropped after it wrote (a command cancelled half-way) leaves nothing
/// behind, and the next transaction has the writer at once; a transaction dropped while
/// its commit is on its way still leaves the writer to the next.
#[tokio::test]
async fn a_transaction_dropped_before_its_end_leaves_nothing() {
    for inline in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (fx, alice) = after_a_command(&dir, inline).await;
        let store = fx.market.store().clone();
        let now = fx.market.now();
        let record = |key: &str| store::IdempotencyRecord {
            caller: alice.clone(),
            key: key.to_owned(),
            fingerprint: "f".into(),
            response: "{}".into(),
            created_at: now,
            running_until: None,
        };
        let mut tx = store.begin().await.unwrap();
        tx.put_idempotency(record("dropped")).await.unwrap();
        drop(tx);

        let mut tx = tokio::time::timeout(Duration::from_secs(5), store.begin())
            .await
            .expect("the next transaction gets the writer")
            .unwrap();
        assert!(tx.idempotency(&alice, "dropped").await.unwrap().is_none());
        tx.put_idempotency(record("kept")).await.unwrap();
        // The commit's future dropped after its first poll: the commit may or may not
        // have happened, but the writer comes back either way.
        let commit = tx.commit();
        let _ = tokio::time::timeout(Duration::ZERO, commit).await;

        let mut tx = tokio::time::timeout(Duration::from_secs(5), store.begin())
            .await
            .expect("the writer comes back after a dropped commit")
            .unwrap();
        assert!(tx.idempotency(&alice, "dropped").await.unwrap().is_none());
        tx.rollback().await.unwrap();
        fx.market
            .post_task(&alice, TaskSpec::new("after", 2))
            .await
            .expect("commands run after dropped transactions");
    }
}
