//! How the store talks to PostgreSQL: a command's hot statements travel as `EXECUTE` calls
//! whose arguments are written as SQL literals, `BEGIN` goes out with the first of them and
//! the write with `COMMIT`. These cases drive that through the engine's public API against
//! the real server.

use std::time::Duration;

use marketplace_core::store::SearchQuery;
use marketplace_core::testkit::test_policy;
use marketplace_core::*;
use sqlx::{Connection, Executor};
use storage_postgres::PgStore;
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};

/// Texts a literal must carry unchanged: quotes, backslashes, dollar quotes, statement
/// breaks and comments, non-ASCII.
const AWKWARD: [&str; 6] = [
    "it's o''clock",
    "back\\slash \\' and \\\\",
    "$$ dollar $tag$ quotes $$",
    "'); DROP TABLE tasks; --",
    "/* open comment; SELECT 1",
    "naïve ünïcödé ✓ \u{1F600} tab\tend",
];

/// A fresh database (dropped with the guard), its URL, a marketplace on it with a pool of
/// four connections, and the agents named, registered.
async fn setup<const N: usize>(
    names: [&str; N],
) -> (
    ScratchDatabase,
    String,
    Marketplace<PgStore>,
    [IdentityId; N],
) {
    let (database, url) = ScratchDatabase::create().await;
    let market = Marketplace::new(PgStore::connect(&url, 4).await.unwrap(), test_policy());
    let mut agents = Vec::with_capacity(N);
    for name in names {
        let id = IdentityId::from_public_key(name.as_bytes());
        market
            .register(&id, ProfileUpdate::alias(name))
            .await
            .unwrap();
        agents.push(id);
    }
    let agents = agents.try_into().expect("one identity per name");
    (database, url, market, agents)
}

#[tokio::test]
async fn awkward_texts_travel_as_literals_unchanged() {
    if !postgres_ready() {
        return;
    }
    let (_database, url, market, [poster, worker]) = setup(["poster", "worker"]).await;
    for (i, text) in AWKWARD.iter().enumerate() {
        let mut spec = TaskSpec::new(format!("needle{i} {text}"), 1);
        spec.title = Some((*text).to_owned());
        spec.skill = Some(format!("o'skill{i}"));
        // Tags go to the broker's rule match as well as to the task.
        spec.required_capabilities = vec![format!("it's{i}"), "back\\slash".to_owned()];
        let posted = market.post_task(&poster, spec.clone()).await.unwrap();
        let stored = market.task(Some(&poster), posted.id).await.unwrap();
        assert_eq!(stored, posted, "{text:?}");
        assert_eq!(stored.spec.title.as_deref(), Some(*text));
        assert_eq!(stored.spec.text, spec.text);
        assert_eq!(
            stored.spec.required_capabilities,
            spec.required_capabilities
        );

        market.claim(&worker, posted.id).await.unwrap();
        let delivered = market
            .deliver(&worker, posted.id, DeliveryInput::text(*text))
            .await
            .unwrap();
        if delivered.status == TaskStatus::Delivered {
            market.accept(&poster, posted.id, Some(5)).await.unwrap();
        }
        let read = market.task_result(&poster, posted.id).await.unwrap();
        assert_eq!(read.status, TaskStatus::Completed);
        assert_eq!(read.delivery, delivered.delivery, "{text:?}");

        let found = market
            .search(SearchQuery {
                text: format!("needle{i}"),
                kind: None,
                topic: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "the search entry of {text:?}");
    }
    let mut check = sqlx::PgConnection::connect(&url).await.unwrap();
    let (tasks,): (i64,) = sqlx::query_as("SELECT count(*) FROM tasks")
        .fetch_one(&mut check)
        .await
        .unwrap();
    assert_eq!(tasks, i64::try_from(AWKWARD.len()).unwrap());
}

/// A refused command ends its transaction, and an abandoned one (its future dropped while
/// it waits for a row) does not return its connection to the pool inside a transaction.
#[tokio::test]
async fn a_refused_or_abandoned_command_holds_nothing() {
    if !postgres_ready() {
        return;
    }
    let (_database, url, market, [poster, worker, rival]) =
        setup(["poster", "worker", "rival"]).await;
    let task = market
        .post_task(&poster, TaskSpec::new("contested", 2))
        .await
        .unwrap();
    market.claim(&worker, task.id).await.unwrap();
    // Refused after its load: the task and both agents were locked, then released.
    let refused = market.claim(&rival, task.id).await;
    assert!(refused.is_err(), "{refused:?}");

    // Another connection can lock every row the refused claim had locked.
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    other.execute("BEGIN").await.unwrap();
    other
        .execute("SET LOCAL lock_timeout = '2s'")
        .await
        .unwrap();
    sqlx::query("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE")
        .bind(task.id.0)
        .execute(&mut other)
        .await
        .expect("the task is not held by the refused claim");
    sqlx::query("SELECT 1 FROM accounts FOR UPDATE")
        .execute(&mut other)
        .await
        .expect("no account is held");

    // While that connection holds the task, a delivery waits, and is abandoned. Once the
    // row is free, the next delivery goes through.
    let waiting = tokio::time::timeout(
        Duration::from_millis(300),
        market.deliver(&worker, task.id, DeliveryInput::text("done")),
    )
    .await;
    assert!(waiting.is_err(), "the delivery waits for the task's row");
    other.execute("ROLLBACK").await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        let delivered = market
            .deliver(&worker, task.id, DeliveryInput::text("done"))
            .await
            .unwrap();
        assert_eq!(delivered.status, TaskStatus::Delivered);
        // The abandoned delivery (its future dropped while it waited) left no transaction
        // open: the store answers within the pool of four connections, repeatedly.
        for _ in 0..8 {
            market.task(Some(&poster), task.id).await.unwrap();
            assert!(market.claim(&rival, task.id).await.is_err());
        }
    })
    .await
    .expect("the store answers after the abandoned command");
    let mut audit = sqlx::PgConnection::connect(&url).await.unwrap();
    let (open,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut audit)
    .await
    .unwrap();
    assert_eq!(open, 0, "no connection is left inside a transaction");
}

/// A command ends by handing its connection to the next command, past the pool's check. A
/// connection the server closed meanwhile is noticed before a command is sent on it, once
/// it has waited a second (`RECHECK_IDLE`), whether it waited in the pool or kept warm.
#[tokio::test]
async fn connections_the_server_closed_are_replaced() {
    if !postgres_ready() {
        return;
    }
    let (_database, url, market, [poster, worker]) = setup(["poster", "worker"]).await;
    let task = market
        .post_task(&poster, TaskSpec::new("before the restart", 2))
        .await
        .unwrap();
    market.claim(&worker, task.id).await.unwrap();

    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let ended: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ended.is_empty(), "the store had connections to end");
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let delivered = market
        .deliver(&worker, task.id, DeliveryInput::text("after the restart"))
        .await
        .expect("a command after the server closed every connection");
    assert_eq!(delivered.status, TaskStatus::Delivered);
    market.accept(&poster, task.id, Some(5)).await.unwrap();
    let again = market
        .post_task(&poster, TaskSpec::new("and the next", 2))
        .await
        .unwrap();
    market.claim(&worker, again.id).await.unwrap();
    assert_eq!(
        market.task(Some(&poster), task.id).await.unwrap().status,
        TaskStatus::Completed
    );
}

/// Closing the store also closes the connections commands keep warm for one another: it
/// does not wait for them, and no command runs on the store afterwards.
#[tokio::test]
async fn closing_the_store_closes_its_warm_connections() {
    if !postgres_ready() {
        return;
    }
    let (_database, url, market, [poster]) = setup(["poster"]).await;
    market
        .post_task(&poster, TaskSpec::new("one command", 2))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), market.store().close())
        .await
        .expect("closing returns once every connection is closed");
    let refused = market
        .post_task(&poster, TaskSpec::new("after closing", 2))
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::Storage(store::StoreError::Unavailable(_)))
        ),
        "{refused:?}"
    );
    // A backend leaves `pg_stat_activity` shortly after its client said goodbye.
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut left = i64::MAX;
    for _ in 0..50 {
        (left,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "no connection of the store is left open");
}

/// A store may be dropped after the runtime it ran on: the connections kept warm are closed
/// then, without the runtime the pool would take them back on.
#[test]
fn a_store_dropped_after_its_runtime_closes_quietly() {
    if !postgres_ready() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (database, _url, market, [poster]) = runtime.block_on(setup(["poster"]));
    runtime
        .block_on(market.post_task(&poster, TaskSpec::new("one command", 2)))
        .unwrap();
    drop(runtime);
    drop(market);
    drop(database);
}

/// Commands keep at most half the pool warm: with every connection of a small pool busy in
/// commands that then end, reads (which take their connections from the pool) still find
/// one at once.
#[tokio::test]
async fn reads_find_a_connection_while_commands_keep_theirs_warm() {
    if !postgres_ready() {
        return;
    }
    for size in [1_u32, 2, 4] {
        let (_database, url) = ScratchDatabase::create().await;
        let store = PgStore::connect(&url, size).await.unwrap();
        let market = Marketplace::new(store.clone(), test_policy());
        let poster = IdentityId::from_public_key(b"poster");
        market
            .register(&poster, ProfileUpdate::alias("poster"))
            .await
            .unwrap();
        let task = market
            .post_task(&poster, TaskSpec::new("read me", 2))
            .await
            .unwrap();
        // Every connection of the pool in a transaction at once, each ended cleanly.
        let mut open = Vec::new();
        for _ in 0..size {
            let mut tx = store.begin().await.unwrap();
            assert!(tx.profile(&poster).await.unwrap().is_some());
            open.push(tx);
        }
        for tx in open {
            tx.rollback().await.unwrap();
        }
        let read = tokio::time::timeout(Duration::from_secs(5), store.task(task.id))
            .await
            .unwrap_or_else(|_| panic!("a read waited for a connection (pool of {size})"))
            .unwrap();
        assert_eq!(read.map(|t| t.id), Some(task.id));
        // And the warm connections serve the next commands.
        market
            .post_task(&poster, TaskSpec::new("and a command", 2))
            .await
            .unwrap();
    }
}
