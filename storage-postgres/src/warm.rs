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
//! - **Back through the pool now and then**: a connection held out of the pool for
//!   [`RETURN_AFTER`] or more goes back to it when its command ends, so the pool's own
//!   policies reach busy connections too: one past the pool's `max_lifetime` is closed
//!   there and replaced, as an idle one would be.
//! - **Closed with the store**: [`Warm::close`] empties the stack and keeps it empty.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

/// How long a connection may wait, in the pool or here, before it is checked again when
/// handed out.
pub(crate) const RECHECK_IDLE: Duration = Duration::from_secs(1);

/// How long a connection may be held out of the pool, handed from command to command,
/// before it goes back to the pool at the end of its command.
pub(crate) const RETURN_AFTER: Duration = Duration::from_secs(60);

/// Clean connections waiting for the next command (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Warm {
    stack: Mutex<Stack>,
    cap: usize,
    return_after: Duration,
}

#[derive(Debug, Default)]
struct Stack {
    idle: Vec<Idle>,
    closed: bool,
}

/// A connection waiting here.
#[derive(Debug)]
struct Idle {
    conn: PoolConnection<Postgres>,
    /// When it was put here.
    since: Instant,
    /// When it left the pool.
    out_since: Instant,
}

impl Warm {
    /// A stack for a pool of `pool_size` connections: it holds at most half of them, each
    /// for at most `return_after` out of the pool ([`RETURN_AFTER`] in the store).
    pub(crate) fn new(pool_size: u32, return_after: Duration) -> Self {
        Self {
            stack: Mutex::default(),
            cap: usize::try_from(pool_size / 2).unwrap_or(usize::MAX),
            return_after,
        }
    }

    fn stack(&self) -> MutexGuard<'_, Stack> {
        // The stack is consistent between any two statements: a panic elsewhere leaves
        // nothing half-done in it.
        self.stack.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection that waited least, checked first if it waited long, with when it
    /// left the pool; `None` when none is waiting.
    pub(crate) async fn take(&self) -> Option<(PoolConnection<Postgres>, Instant)> {
        loop {
            let Idle {
                mut conn,
                since,
                out_since,
            } = self.stack().idle.pop()?;
            if since.elapsed() < RECHECK_IDLE || conn.ping().await.is_ok() {
                return Some((conn, out_since));
            }
            // The server closed it meanwhile: close it on our side too, and try the next.
            conn.close_on_drop();
        }
    }

    /// Keeps a clean connection, out of the pool since `out_since`, for the next command;
    /// when the stack is full or closed, or the connection has been out for `return_after`,
    /// it goes back to the pool instead.
    pub(crate) fn put(&self, conn: PoolConnection<Postgres>, out_since: Instant) {
        let mut stack = self.stack();
        let back = if stack.closed
            || stack.idle.len() >= self.cap
            || out_since.elapsed() >= self.return_after
        {
            Some(conn)
        } else {
            stack.idle.push(Idle {
                conn,
                since: Instant::now(),
                out_since,
            });
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
            for idle in stack.idle.drain(..) {
                drop(idle.conn.leak());
            }
        }
    }
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use super::*;
    use crate::testkit::{postgres_ready, server_url};
    use sqlx::postgres::PgPoolOptions;

    async fn backend(conn: &mut PoolConnection<Postgres>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
    }

    /// A connection handed from command to command goes back to the pool once it has been
    /// out for `return_after`; there the pool's `max_lifetime` closes it, and the next
    /// command gets a new backend.
    #[tokio::test]
    async fn a_busy_connection_goes_back_through_the_pool_and_is_replaced_there() {
        if !postgres_ready() {
            return;
        }
        let lifetime = Duration::from_millis(300);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .max_lifetime(lifetime)
            .connect(&server_url())
            .await
            .unwrap();
        let warm = Warm::new(2, lifetime);

        let out_since = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        let first = backend(&mut conn).await;
        warm.put(conn, out_since);
        // Within its time out of the pool, the next command gets the same connection, with
        // the time it left the pool.
        let (mut conn, kept_since) = warm.take().await.expect("kept for the next command");
        assert_eq!(backend(&mut conn).await, first);
        assert_eq!(kept_since, out_since);

        tokio::time::sleep(lifetime + Duration::from_millis(100)).await;
        warm.put(conn, kept_since);
        assert!(warm.take().await.is_none(), "past its time it is not kept");
        // The pool closes it as it takes it back (past `max_lifetime`), in a task of its
        // own; the next command gets a new backend.
        for _ in 0..200 {
            if pool.size() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pool.size(), 0, "the pool closed it, past its max_lifetime");
        let mut next = pool.acquire().await.unwrap();
        assert_ne!(backend(&mut next).await, first);
        drop(next);
        pool.close().await;
    }

    /// A full stack or a closed one sends connections back to the pool.
    #[tokio::test]
    async fn the_stack_keeps_at_most_half_the_pool_and_nothing_once_closed() {
        if !postgres_ready() {
            return;
        }
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&server_url())
            .await
            .unwrap();
        let warm = Warm::new(4, RETURN_AFTER);
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(pool.acquire().await.unwrap());
        }
        for conn in conns {
            warm.put(conn, Instant::now());
        }
        assert_eq!(warm.stack().idle.len(), 2);
        warm.close();
        assert!(warm.take().await.is_none());
        warm.put(pool.acquire().await.unwrap(), Instant::now());
        assert!(warm.take().await.is_none(), "a closed stack keeps nothing");
        pool.close().await;
    }
}
