//! A group-commit lane on a thread of its own ([`spawn_lane`]), where the inline writer's
//! `COMMIT` runs on the deciding thread itself.
//!
//! SQLite has one writer, so its one lane's work is serial: decide a batch, commit it,
//! decide the next. On the runtime's threads the commit goes to the blocking pool, since
//! its `fsync` must not hold up the tasks that share those threads: a hand-off there and
//! back for every batch, and the lane waits for both. On a thread that runs nothing but the
//! lane, nothing else waits for it, so the commit is a call like the batch's statements.

use std::cell::Cell;
use std::io;
use std::thread::JoinHandle;

use marketplace_core::Lane;

thread_local! {
    /// Whether this thread runs a lane and nothing else: its commits may wait on the disk.
    static LANE_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is a lane's own, started by [`spawn_lane`].
pub(crate) fn on_lane_thread() -> bool {
    LANE_THREAD.get()
}

/// Runs `lane` on a new thread of its own, on a single-threaded runtime, until the lane
/// ends (every clone of its marketplace dropped). There, an inline transaction's
/// `COMMIT` — its `fsync` — runs on that thread instead of the runtime's blocking pool,
/// which saves the batch two thread hand-offs; elsewhere (the runtime's threads, every
/// transaction outside a lane) commits stay off the calling thread.
///
/// The spawner to give [`Marketplace::with_group_commit`](marketplace_core::Marketplace::with_group_commit)
/// for a marketplace on a [`SqliteStore`](crate::SqliteStore). Should the thread not
/// start, the lane is dropped, and the marketplace runs each command alone, as without
/// group commit.
///
/// ```no_run
/// # async fn demo() -> Result<(), marketplace_core::StoreError> {
/// use marketplace_core::{GroupCommit, Marketplace, Policy};
/// use storage_sqlite::{SqliteOptions, SqliteStore};
/// let store = SqliteStore::open(SqliteOptions::file("marketplace.db")).await?;
/// let market = Marketplace::new(store, Policy::agora())
///     .with_group_commit(GroupCommit::default(), |lane| {
///         if let Err(e) = storage_sqlite::spawn_lane(lane) {
///             eprintln!("no lane thread ({e}): commands commit one by one");
///         }
///     });
/// # let _ = market; Ok(()) }
/// ```
///
/// # Errors
///
/// When the thread or its runtime cannot be made.
pub fn spawn_lane(lane: Lane) -> io::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("sqlite-lane".into())
        .spawn(move || {
            LANE_THREAD.set(true);
            runtime.block_on(lane);
        })
}
