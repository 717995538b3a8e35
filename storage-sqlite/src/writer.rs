//! The writer connection, handed from one command to the next.
//!
//! sqlx's pool pings every connection it takes back: on SQLite a trip to the connection's
//! thread and back, and a task spawned to make it, before the next command can have the
//! one writer. A command's transaction knows when it has left the writer clean (nothing
//! sent, or its `COMMIT` or `ROLLBACK` done), so it keeps the connection here for the next
//! writer, still checked out of the pool.
//!
//! - **Nobody waits on it**: every user of the writer asks here first, and one that finds
//!   nothing here registers before it waits on the pool. A transaction keeps the writer
//!   here only while nobody is registered; otherwise it returns it to the pool, which hands
//!   it to the one waiting.
//! - Writes other than a command's transaction (leases, credentials, deliveries,
//!   migrations) return the writer to the pool as usual: the pool's ping also finishes
//!   whatever a cancelled one left half-done.
//! - **Closed with the store**: [`Writer::close`] returns the connection kept here and
//!   keeps none afterwards.

use std::sync::{Mutex, MutexGuard, PoisonError};

use marketplace_core::store::StoreError;
use sqlx::Sqlite;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqlitePool;

use crate::codec::db;

/// The one writer connection's pool, and the connection a command left for the next.
#[derive(Debug)]
pub(crate) struct Writer {
    pool: SqlitePool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The writer, left clean by a command's transaction.
    kept: Option<PoolConnection<Sqlite>>,
    /// How many are waiting on the pool for the writer.
    waiting: usize,
    closed: bool,
}

/// One registered waiter, for as long as it waits (also when its future is dropped).
struct Waiting<'a>(&'a Writer);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.state().waiting -= 1;
    }
}

impl Writer {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent between any two statements: a panic elsewhere leaves
        // nothing half-done in it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer: the one a command left here, or the pool's, waiting for it if it is in
    /// use.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        {
            let mut state = self.state();
            if let Some(conn) = state.kept.take() {
                return Ok(conn);
            }
            state.waiting += 1;
        }
        let _waiting = Waiting(self);
        self.pool.acquire().await.map_err(db)
    }

    /// Runs `migrator` on the writer. It takes the writer from the pool, as a migrator does,
    /// and is registered as waiting for it all along, so no command keeps it meanwhile.
    pub(crate) async fn migrate(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        let kept = {
            let mut state = self.state();
            state.waiting += 1;
            state.kept.take()
        };
        let _waiting = Waiting(self);
        drop(kept);
        migrator.run(&self.pool).await
    }

    /// Keeps a writer a transaction left clean for the next one, unless somebody waits on
    /// the pool for it, or the store is closed: then it goes back to the pool.
    pub(crate) fn put(&self, conn: PoolConnection<Sqlite>) {
        let mut state = self.state();
        let back = if state.closed || state.waiting > 0 {
            Some(conn)
        } else {
            state.kept = Some(conn);
            None
        };
        drop(state);
        // Dropped outside the lock: the pool's return of a connection spawns a task.
        drop(back);
    }

    /// Closes the pool, after returning the connection kept here to it; none is kept
    /// afterwards.
    pub(crate) async fn close(&self) {
        let kept = {
            let mut state = self.state();
            state.closed = true;
            state.kept.take()
        };
        drop(kept);
        self.pool.close().await;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The pool takes a connection back in a task of the runtime. Without one (a store
        // dropped after its runtime), the kept connection is closed here: the pool is going
        // away with the store.
        if tokio::runtime::Handle::try_current().is_err() {
            let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
            if let Some(conn) = state.kept.take() {
                drop(conn.leak());
            }
        }
    }
}
