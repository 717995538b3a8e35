//! # storage-postgres
//!
//! The marketplace on PostgreSQL: one database shared by many stateless server replicas.
//!
//! - **Locking**: a command loads every task, account and contract it decides on with
//!   `SELECT ... FOR UPDATE`; the engine loads accounts in identity order, so two settlements
//!   never wait on each other in opposite orders. Serialization failures, deadlocks and
//!   unique violations (two replicas inserting the same key) are reported as conflicts and
//!   the engine retries the command a bounded number of times.
//! - **The sweep** takes due tasks with `FOR UPDATE SKIP LOCKED`: several replicas sweep at
//!   once and never apply a deadline twice.
//! - **The outbox lease** works the same way: dispatchers on any replica lease undelivered
//!   events with `FOR UPDATE SKIP LOCKED` from the `outbox` table (an undelivered event's
//!   row: when it may next be leased, how often it has been), so no event is sent by two of
//!   them at once, and nobody waits for another's lease. The statement that writes a
//!   command's events writes their outbox rows; a trigger does it for events written
//!   otherwise (by a replica of an earlier release during a rolling upgrade), and stays
//!   idle for the store's own connections, which say so with the setting
//!   `marketplace.outbox_written`.
//! - **Few round trips**: a command loads its task and all its parties in one `FOR UPDATE`
//!   query (the task, then the parties in identity order; a `parties` column beside each
//!   task names its involved agents) and writes all its hot rows in one statement of
//!   data-modifying CTEs over JSON arrays (`jsonb_array_elements`), holding only the
//!   tables it writes. `BEGIN` travels with the first load and the write with `COMMIT`
//!   (several statements in one message of the simple query protocol, calling statements
//!   each connection prepares when it opens), so a claim is two round trips: the load and
//!   the write. A transaction that ended cleanly hands its connection straight to the next
//!   command, without the check the pool makes of every connection it takes back; at most
//!   half the pool waits that way, so reads always find the rest. Connections plan each
//!   statement once (`plan_cache_mode = force_generic_plan`): every query is a short lookup
//!   on indexed keys. PostgreSQL plans a statement again when the statistics of its tables
//!   change, so the database needs autovacuum (on by default) or a periodic `ANALYZE`:
//!   plans made while the tables were empty scan them whole.
//! - **Group commit** ([`GroupCommit`]): a transaction reads
//!   its own writes, so a batch of commands in one transaction has each see the ones before
//!   it; a write held back for `COMMIT` goes in front of the next command's first load
//!   instead (a write answers no rows). Each replica batches its own commands, in several
//!   lanes (transactions) at once; row locks and `SKIP LOCKED` keep the guarantees across
//!   lanes and replicas. A transaction holding a batch waits at most 20 ms for a row lock
//!   (`lock_timeout`): two batches can each hold a row the other wants, which no single
//!   command can, and rather than wait for PostgreSQL's deadlock check (a second) the batch
//!   gives up as a conflict and the engine runs its commands one by one.
//! - **Money** is `NUMERIC`, exchanged with the driver as exact decimal text; ledger sums are
//!   computed by the database, exactly.
//! - **Durability**: PostgreSQL's `synchronous_commit` (on by default) is left on.
//! - **Search** uses a `tsvector` column with a GIN index (no pending list: fast update is
//!   off), written in the command's transaction. A search is planned for its words, newest
//!   first: a common word walks the time-ordered ids backwards, a rare one reads the index,
//!   and neither grows with the table.
//! - **Statements** are `.sql` files under `sql/`, embedded at compile time with
//!   [`storage_sql::sql!`]; what both stores say alike is `storage-sql`'s.
//!
//! ```no_run
//! # async fn demo() -> Result<(), marketplace_core::StoreError> {
//! use marketplace_core::{Marketplace, Policy};
//! use storage_postgres::PgStore;
//! let store = PgStore::connect("postgres://postgres@127.0.0.1:5432/marketplace", 16).await?;
//! let market = Marketplace::new(store, Policy::agora());
//! # let _ = market; Ok(()) }
//! ```

mod codec;
mod credentials;
mod deliveries;
#[cfg(feature = "testkit")]
pub mod testkit;
mod tx;
mod warm;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use marketplace_core::store::*;
use marketplace_core::*;
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, QueryBuilder, Row};

use sqlx::pool::PoolConnection;
use storage_sql::{Dialect, Sql, int, push_search_tail};

pub use crate::codec::PgSyntax;
use crate::codec::{db, decimal, micros, ts_query};
pub use crate::tx::PgTx;
use crate::warm::{RECHECK_IDLE, RETURN_AFTER, Warm};
use storage_sql::sql;

/// The embedded migrations.
fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// The PostgreSQL store. Cheap to clone: clones share the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Connections that commands hand to one another, checked out of `pool`.
    warm: Arc<Warm>,
}

impl PgStore {
    /// Connects with up to `max_connections` connections and migrates the database.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        // Every statement is a short OLTP query on indexed keys: plan it once per
        // connection, not on every execution (array and JSON parameters otherwise keep
        // PostgreSQL re-planning custom plans).
        let options = url.parse::<PgConnectOptions>().map_err(db)?.options([
            ("plan_cache_mode", "force_generic_plan"),
            // Literals in `EXECUTE` calls escape nothing but quotes (see `tx`).
            ("standard_conforming_strings", "on"),
            // The commands' statement writes their events' outbox rows itself: the trigger
            // that does it for an earlier release's writes stays idle (migration 0012).
            ("marketplace.outbox_written", "on"),
        ]);
        // The statements each connection prepares need the tables: migrate first, on a
        // connection of its own.
        let first = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(db)?;
        let migrated = migrator().run(&first).await;
        first.close().await;
        migrated.map_err(|e| StoreError::Other(format!("migration: {e}")))?;
        let max_connections = max_connections.max(1);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            // The pool pings a connection as it takes it back; pinging it again as it hands
            // it out would cost every command one more round trip. Only a connection idle
            // for a while, which the server may have closed meanwhile, is checked again.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= RECHECK_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(tx::prepare_statements())
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(db)?;
        Ok(Self {
            pool,
            warm: Arc::new(Warm::new(max_connections, RETURN_AFTER)),
        })
    }

    /// Applies the embedded migrations that have not run yet. Safe to run from several
    /// replicas at once (the migrator takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator()
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration: {e}")))
    }

    /// Closes the pool, waiting for connections to finish. Commands are refused afterwards
    /// ([`StoreError::Unavailable`]).
    pub async fn close(&self) {
        self.warm.close();
        self.pool.close().await;
    }
}

storage_sql::statements_as!(PgStore => PgSyntax);

impl Dialect for PgStore {
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn writer(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(db)
    }
}

#[async_trait]
impl Store for PgStore {
    type Tx<'a> = PgTx;

    // Not `async fn`: in an `#[async_trait]` impl that would box the future.
    #[allow(clippy::manual_async_fn)]
    fn begin(&self) -> impl Future<Output = Result<PgTx, StoreError>> + Send {
        async move {
            let (conn, out_since) = match self.warm.take().await {
                Some(warm) => warm,
                None => (self.pool.acquire().await.map_err(db)?, Instant::now()),
            };
            Ok(PgTx::new(conn, out_since, Arc::clone(&self.warm)))
        }
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        Sql(self).task(id).await
    }

    async fn tasks(&self, q: &TaskQuery) -> Result<Vec<Task>, StoreError> {
        Sql(self).tasks(q).await
    }

    async fn messages(&self, task: TaskId, n: usize) -> Result<Vec<Message>, StoreError> {
        Sql(self).messages(task, n).await
    }

    async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError> {
        Sql(self).account(id).await
    }

    async fn accounts(
        &self,
        after: Option<&IdentityId>,
        n: usize,
    ) -> Result<Vec<Account>, StoreError> {
        Sql(self).accounts(after, n).await
    }

    async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError> {
        Sql(self).reputation(id).await
    }

    async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        Sql(self).profile(id).await
    }

    async fn profiles(&self, q: &ProfileQuery) -> Result<Vec<Profile>, StoreError> {
        Sql(self).profiles(q).await
    }

    async fn ledger(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        Sql(self).ledger(q).await
    }

    async fn ledger_since(&self, after: u64, n: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        Sql(self).ledger_since(after, n).await
    }

    async fn ledger_totals(&self, account: &AccountRef) -> Result<LedgerTotals, StoreError> {
        // NUMERIC sums are exact; read back as text into exact decimals.
        let r = sqlx::query(sql!("ledger_totals"))
            .bind(String::from(account.clone()))
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(LedgerTotals {
            balance: decimal(r.get("balance"))?,
            escrowed: decimal(r.get("escrowed"))?,
            earned: decimal(r.get("earned"))?,
            spent: decimal(r.get("spent"))?,
            fees: decimal(r.get("fees"))?,
            granted: decimal(r.get("granted"))?,
            entries: u64::try_from(r.get::<i64, _>("entries")).unwrap_or(0),
        })
    }

    async fn rules(&self, owner: &IdentityId) -> Result<Vec<AutoClaimRule>, StoreError> {
        Sql(self).rules(owner).await
    }

    async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError> {
        Sql(self).contracts(identity).await
    }

    async fn feed(&self, q: &FeedQuery) -> Result<Vec<FeedItem>, StoreError> {
        Sql(self).feed(q).await
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<FeedItem>, StoreError> {
        let Some(tsq) = ts_query(&q.text) else {
            return Ok(Vec::new());
        };
        // Newest first (ids are time-ordered), bodies in the same query. Planned for these
        // words rather than generically: the planner then walks the ids backwards for a
        // common word and reads the GIN index for a rare one, so neither costs the table.
        let mut b = QueryBuilder::<Postgres>::new(sql!("search_head"));
        b.push_bind(tsq).push(")");
        push_search_tail(&mut b, q, "s.kind", "s.item_id");
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let rows = b.build().fetch_all(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Sql::<Self>::search_hits(&rows, q)
    }

    async fn market_signals(&self, n: usize) -> Result<MarketSignals, StoreError> {
        Sql(self).market_signals(n).await
    }

    async fn blob(&self, hash: &str) -> Result<Option<Blob>, StoreError> {
        Sql(self).blob(hash).await
    }

    async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError> {
        Sql(self).blob_holder(hash, identity).await
    }

    async fn events(&self, after: u64, n: usize) -> Result<Vec<Event>, StoreError> {
        Sql(self).events(after, n).await
    }

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        Sql(self).last_event_seq().await
    }

    async fn lease_events(
        &self,
        now: Timestamp,
        until: Timestamp,
        n: usize,
    ) -> Result<Vec<LeasedEvent>, StoreError> {
        // Rows another replica is leasing right now are skipped, not waited for: each event
        // goes to one dispatcher at a time, and nobody blocks.
        let rows = sqlx::query(sql!("events_lease"))
            .bind(micros(until))
            .bind(micros(now))
            .bind(int(n))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut leased = rows
            .iter()
            .map(|r| codec::leased(r.get("body"), r.get("seq"), r.get("attempts")))
            .collect::<Result<Vec<_>, _>>()?;
        leased.sort_by_key(|l| l.event.seq);
        Ok(leased)
    }

    async fn complete_event(&self, seq: u64, attempt: u32) -> Result<bool, StoreError> {
        Sql(self).complete_event(seq, attempt).await
    }

    async fn retry_event(&self, seq: u64, attempt: u32, at: Timestamp) -> Result<bool, StoreError> {
        Sql(self).retry_event(seq, attempt, at).await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        Sql(self).outbox_depth().await
    }

    async fn credit_exposure(&self) -> Result<Decimal, StoreError> {
        let sum: String = sqlx::query_scalar(sql!("credit_exposure"))
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        decimal(&sum)
    }
}
