//! Connections kept warm between commands.
//!
//! sqlx's pool pings every connection it takes back: one more round trip per command, and a
//! task spawned to make it. A command's transaction knows when it has left its connection
//! clean (nothing sent, or its `COMMIT` or `ROLLBACK` answered), so it hands the connection
//! to the next command itself, through this stack, still checked out of the pool.
//!
//! - **Bounded**: at most `cap` connections wait here, half the pool. The rest always go
//!   back to the pool, so readers, which take connections from the pool, can never be left
//!   waiting on connections that sit here unused.
//! - **Checked when stale**: a connection that waited [`RECHECK_IDLE`] or more is pinged
//!   before it is handed out, as the pool does with its own; one that fails is closed.
//! - **Last in, first out**: busy commands reuse the same few connections.
//! - **Closed with the store**: [`Warm::close`] empties the stack and keeps it empty.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

/// How long a connection may wait, in the pool or here, before it is checked again when
/// handed out.
pub(crate) const RECHECK_IDLE: Duration = Duration::from_secs(1);

/// Clean connections waiting for the next command (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Warm {
    stack: Mutex<Stack>,
    cap: usize,
}

#[derive(Debug, Default)]
struct Stack {
    idle: Vec<(PoolConnection<Postgres>, Instant)>,
    closed: bool,
}

impl Warm {
    /// A stack for a pool of `pool_size` connections: it holds at most half of them.
    pub(crate) fn new(pool_size: u32) -> Self {
        Self {
            stack: Mutex::default(),
            cap: usize::try_from(pool_size / 2).unwrap_or(usize::MAX),
        }
    }

    fn stack(&self) -> MutexGuard<'_, Stack> {
        // The stack is consistent between any two statements: a panic elsewhere leaves
        // nothing half-done in it.
        self.stack.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection that waited least, checked first if it waited long; `None` when none
    /// is waiting.
    pub(crate) async fn take(&self) -> Option<PoolConnection<Postgres>> {
        loop {
            let (mut conn, since) = self.stack().idle.pop()?;
            if since.elapsed() < RECHECK_IDLE || conn.ping().await.is_ok() {
                return Some(conn);
            }
            // The server closed it meanwhile: close it on our side too, and try the next.
            conn.close_on_drop();
        }
    }

    /// Keeps a clean connection for the next command; when the stack is full or closed,
    /// the connection goes back to the pool instead.
    pub(crate) fn put(&self, conn: PoolConnection<Postgres>) {
        let mut stack = self.stack();
        let back = if stack.closed || stack.idle.len() >= self.cap {
            Some(conn)
        } else {
            stack.idle.push((conn, Instant::now()));
            None
        };
        drop(stack);
        // Dropped outside the lock: the pool's return of a connection spawns a task.
        drop(back);
    }

    /// Empties the stack for good, handing its connections back to the pool (which can then
    /// close them).
    pub(crate) fn close(&self) {
        let idle = {
            let mut stack = self.stack();
            stack.closed = true;
            std::mem::take(&mut stack.idle)
        };
        drop(idle);
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        // The pool takes a connection back in a task of the runtime. Without one (a store
        // dropped after its runtime), the connections are closed here: the pool is going
        // away with the store.
        if tokio::runtime::Handle::try_current().is_err() {
            let stack = self.stack.get_mut().unwrap_or_else(PoisonError::into_inner);
            for (conn, _) in stack.idle.drain(..) {
                drop(conn.leak());
            }
        }
    }
}
