//! Migrations of a database in use: what it held before is there, and means the same,
//! after.

use marketplace_core::Store;
use marketplace_core::testkit::migration::{OUTBOX_STATES, check_migrated_outbox, outbox_events};
use sqlx::postgres::PgPool;
use storage_postgres::PgStore;
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};
use storage_sql::codec::EventRow;

/// The migration that moved the outbox's state out of `events` into a table of its own:
/// an undelivered event keeps its place, its lease and its attempts; a completed one stays
/// completed; events written afterwards enter the new table.
#[tokio::test]
async fn the_outbox_keeps_its_leases_when_it_moves_to_a_table_of_its_own() {
    if !postgres_ready() {
        return;
    }
    let events = outbox_events().await;
    let (_database, url) = ScratchDatabase::create().await;

    // A database at the schema before the move, its events written as that schema kept
    // them.
    let pool = PgPool::connect(&url).await.unwrap();
    let mut before = sqlx::migrate!("./migrations");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 11)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    assert_eq!(before.migrations.len(), 10, "the schema before the move");
    before.run(&pool).await.unwrap();
    for (event, state) in events.iter().zip(OUTBOX_STATES) {
        let row = EventRow::of(event).unwrap();
        sqlx::query(
            "INSERT INTO events (body, available_at, attempts, done) VALUES ($1, $2, $3, $4)",
        )
        .bind(&row.body)
        .bind(row.available_at + state.available_after_secs * 1_000_000)
        .bind(i32::try_from(state.attempts).unwrap())
        .bind(state.done)
        .execute(&pool)
        .await
        .unwrap();
    }

    let store = PgStore::connect(&url, 4).await.unwrap();
    check_migrated_outbox(&store, &events).await;

    // A replica of the release before, still running during an upgrade, writes its events
    // as it always did: they enter the outbox too, by the trigger that stays idle for this
    // release's own writes (which put their outbox rows in themselves: a row the trigger
    // wrote too would break the outbox's key, and the store's writes above would fail).
    let depth = store.outbox_depth().await.unwrap();
    let row = EventRow::of(&events[0]).unwrap();
    sqlx::query("INSERT INTO events (body, available_at) VALUES ($1, $2)")
        .bind(&row.body)
        .bind(row.available_at)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), depth + 1);
    pool.close().await;
}
