//! # storage-sqlite
//!
//! The marketplace on one SQLite file: the embedded default.
//!
//! - **Durability**: WAL journal with `synchronous = FULL` by default (a committed settlement
//!   survives power loss); `NORMAL` only when asked for ([`SqliteOptions::synchronous_normal`]).
//!   Every pragma is set explicitly. The log is copied into the database file by a thread
//!   of the store's own every 100 ms ([`SqliteOptions::checkpoint_thread`], on by default),
//!   not by the committing writer that every command waits behind.
//! - **Locking**: all writes go through one writer connection, and every write transaction
//!   starts with `BEGIN IMMEDIATE`, so a command holds the write lock from its first read to
//!   its commit and no `SQLITE_BUSY` reaches a caller. Reads use a separate pool of
//!   connections, which WAL lets run beside the writer.
//! - **Commands inline** ([`SqliteOptions::inline_writer`], on by default): sqlx runs each
//!   query on its connection's own thread and answers through a channel, a hand-off that
//!   costs more than most statements (46 µs against 3.5 µs for a task's read in the
//!   `driver` benchmark). So commands' transactions run on a second connection to the file,
//!   opened with rusqlite, whose statements are calls on the deciding thread; the store's
//!   sqlx writer is held, unused, for as long as one lasts, so there is still one writer.
//!   `COMMIT` (the `fsync`) runs on the runtime's blocking threads, or on the lane's own
//!   thread when group commit's lane runs on one ([`spawn_lane`]); a transaction dropped
//!   before its end rolls back. Reads, leases, credentials, deliveries and migrations stay
//!   on sqlx.
//! - **Few round trips** through the driver (inline off): every statement is a hand-off to
//!   the connection's thread, so a
//!   command loads all its parties in one query and writes all its hot rows (task,
//!   accounts, reputations, ledger lines, events, search entries) in one multi-statement
//!   query over JSON arrays (`json_each`), with a statement only for each table it has rows
//!   for (a claim: its task, with the search index and tags; a reputation; an event).
//!   `BEGIN IMMEDIATE` goes in the same query as the
//!   first load, and the write in the same query as `COMMIT`. A command that ended cleanly
//!   hands the writer straight to the next one, without the check the pool makes of every
//!   connection it takes back, unless another writer is already waiting on the pool. Inline,
//!   the same statements run one call each.
//! - **Group commit** ([`GroupCommit`]): a transaction reads
//!   its own writes, so a batch of commands in one transaction (one `BEGIN IMMEDIATE`, one
//!   `COMMIT`, one `fsync` of the WAL for all) has each see the ones before it; a write held
//!   back for `COMMIT` goes in the same query as the next command's first load instead
//!   (through the driver). A
//!   command on a task loads the task and its parties in one query (a `parties` column
//!   beside each task names its involved agents). One writer: one lane, best run on a
//!   thread of its own ([`spawn_lane`]), where each batch's commit costs no hand-off.
//! - **Money** is stored as exact decimal strings and summed in Rust, never as `REAL`.
//! - **Search** uses an FTS5 index written in the same transaction as the records.
//! - **The outbox**: events are written with the command; a dispatcher leases them with one
//!   `UPDATE ... RETURNING` on the writer connection, through a partial index of the events
//!   not yet delivered.
//! - **Statements** are `.sql` files under `sql/`, embedded at compile time with
//!   [`storage_sql::sql!`]; what both stores say alike is `storage-sql`'s.
//!
//! ```no_run
//! # async fn demo() -> Result<(), marketplace_core::StoreError> {
//! use marketplace_core::{Marketplace, Policy};
//! use storage_sqlite::{SqliteOptions, SqliteStore};
//! let store = SqliteStore::open(SqliteOptions::file("marketplace.db")).await?;
//! let market = Marketplace::new(store, Policy::agora());
//! # let _ = market; Ok(()) }
//! ```

mod checkpoint;
mod codec;
mod credentials;
mod deliveries;
mod inline;
mod lane;
mod transaction;
mod tx;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use marketplace_core::store::*;
use marketplace_core::*;
use rust_decimal::Decimal;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use sqlx::pool::PoolConnection;
use storage_sql::{Dialect, Sql, int, push_search_tail};

pub use crate::codec::SqliteSyntax;
use crate::codec::{db, decimal, fts_query, micros};
use crate::inline::{InlineConn, InlineTx};
pub use crate::lane::spawn_lane;
pub use crate::transaction::SqliteTx;
use crate::tx::DriverTx;
use crate::writer::Writer;
use storage_sql::sql;

/// Where and how to open the database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    path: PathBuf,
    synchronous_normal: bool,
    readers: u32,
    busy_timeout: Duration,
    inline_writer: bool,
    checkpoint_thread: bool,
}

impl SqliteOptions {
    /// A database file at `path`, created on first open.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous_normal: false,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            inline_writer: true,
            checkpoint_thread: true,
        }
    }

    /// Whether commands' transactions run inline (the default): their statements are calls
    /// into SQLite on the thread that decides the command, on a connection of the writer's
    /// own, rather than queries handed to the driver's connection thread and back. Off,
    /// every statement goes through sqlx as before; both write the same rows the same way.
    pub fn inline_writer(mut self, on: bool) -> Self {
        self.inline_writer = on;
        self
    }

    /// Whether the write-ahead log is checkpointed by a thread of the store's own (the
    /// default), every 100 ms, rather than by SQLite on the committing writer whenever the
    /// log passes 1,000 pages (`false`, SQLite's default): the commands' one writer then
    /// neither copies pages into the database file nor waits for its `fsync`, and a page
    /// changed by many commits between two checkpoints is copied once. The writers still
    /// checkpoint past 10,000 pages, should the thread fall behind. Durability is the same
    /// either way: a commit is durable once its log frames are synced.
    pub fn checkpoint_thread(mut self, on: bool) -> Self {
        self.checkpoint_thread = on;
        self
    }

    /// Trades durability of the last commits before a power loss for speed
    /// (`synchronous = NORMAL`). Off by default.
    pub fn synchronous_normal(mut self, on: bool) -> Self {
        self.synchronous_normal = on;
        self
    }

    /// Connections for the read side (default 4).
    pub fn readers(mut self, readers: u32) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// The driver options these settings stand for (every pragma explicit): also what
    /// benchmarks use for their raw baseline on the same settings.
    pub fn connect_options(&self) -> SqliteConnectOptions {
        let synchronous = if self.synchronous_normal {
            SqliteSynchronous::Normal
        } else {
            SqliteSynchronous::Full
        };
        SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(self.busy_timeout)
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .statement_cache_capacity(STATEMENT_CACHE_CAPACITY)
    }
}

/// Prepared statements a connection keeps. The writer's queries are joined texts (a
/// held-back write — its statements for the set of tables it writes — in front of the
/// next load, or of `COMMIT`), a few hundred distinct ones in a mixed workload, where the
/// driver's default of 100 would prepare some of them again and again.
const STATEMENT_CACHE_CAPACITY: usize = 512;

/// The SQLite store. Cheap to clone: clones share the pools.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The one writer connection (see `writer`).
    writer: Arc<Writer>,
    /// The connection commands' transactions run on inline, if they do (see `inline`).
    inline: Option<InlineConn>,
    reader: SqlitePool,
    /// The thread that checkpoints the log, if one does (see `checkpoint`).
    checkpoints: Option<Arc<checkpoint::Checkpointer>>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database.
    pub async fn open(options: SqliteOptions) -> Result<Self, StoreError> {
        let connect = options.connect_options();
        // A connection to a file does not break while it waits in the pool: checking it as
        // the pool hands it out would only cost a trip to its thread and back.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(false)
            .connect_with(connect.clone().pragma(
                "wal_autocheckpoint",
                checkpoint::autocheckpoint_pages(options.checkpoint_thread).to_string(),
            ))
            .await
            .map_err(db)?;
        let store_writer = writer.clone();
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers)
            .test_before_acquire(false)
            .connect_with(connect)
            .await
            .map_err(db)?;
        let synchronous = if options.synchronous_normal {
            "NORMAL"
        } else {
            "FULL"
        };
        let mut store = Self {
            writer: Arc::new(Writer::new(store_writer)),
            inline: None,
            reader,
            checkpoints: if options.checkpoint_thread {
                Some(Arc::new(checkpoint::spawn(&options.path, synchronous)?))
            } else {
                None
            },
        };
        store.migrate().await?;
        if options.inline_writer {
            store.inline = Some(inline::open(
                &options.path,
                synchronous,
                options.busy_timeout,
                checkpoint::autocheckpoint_pages(options.checkpoint_thread),
                STATEMENT_CACHE_CAPACITY,
            )?);
        }
        Ok(store)
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.writer
            .migrate(&sqlx::migrate!("./migrations"))
            .await
            .map_err(|e| StoreError::Other(format!("migration: {e}")))
    }

    /// The durability settings in force on the writer: `(journal_mode, synchronous)`, e.g.
    /// `("wal", 2)` (2 = FULL, 1 = NORMAL) — on the connection commands commit on.
    pub async fn durability(&self) -> Result<(String, i64), StoreError> {
        let mut writer = self.writer.acquire().await?;
        if let Some(inline) = &self.inline {
            return inline::durability(&*inline.lock().await);
        }
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *writer)
            .await
            .map_err(db)?;
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *writer)
            .await
            .map_err(db)?;
        Ok((mode, sync))
    }

    /// Closes both pools, waiting for connections to finish, and stops the checkpoint
    /// thread. Commands are refused afterwards ([`StoreError::Unavailable`]).
    pub async fn close(&self) {
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.stop();
        }
        self.reader.close().await;
        self.writer.close().await;
    }
}

storage_sql::statements_as!(SqliteStore => SqliteSyntax);

impl Dialect for SqliteStore {
    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    async fn writer(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        self.writer.acquire().await
    }
}

#[async_trait]
impl Store for SqliteStore {
    type Tx<'a> = SqliteTx;

    // Not `async fn`: in an `#[async_trait]` impl that would box the future.
    #[allow(clippy::manual_async_fn)]
    fn begin(&self) -> impl Future<Output = Result<SqliteTx, StoreError>> + Send {
        async move {
            let conn = self.writer.acquire().await?;
            let writer = Arc::clone(&self.writer);
            Ok(match &self.inline {
                Some(inline) => InlineTx::begin(inline, conn, writer).await.into(),
                None => DriverTx::new(conn, writer).into(),
            })
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
        // Summed in Rust: SQLite's SUM over decimal text would go through floating point.
        let rows = sqlx::query(sql!("ledger_lines"))
            .bind(String::from(account.clone()))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        let mut t = LedgerTotals::default();
        for r in &rows {
            let amount = decimal(r.get("amount"))?;
            t.balance += amount;
            t.escrowed += decimal(r.get("escrow"))?;
            t.fees += decimal(r.get("fee"))?;
            t.entries += 1;
            match (r.get::<&str, _>("tx_type"), amount > Decimal::ZERO) {
                ("release", true) => t.earned += amount,
                ("release", false) => t.spent -= amount,
                ("grant", true) => t.granted += amount,
                _ => {}
            }
        }
        Ok(t)
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
        let Some(fts) = fts_query(&q.text) else {
            return Ok(Vec::new());
        };
        // Newest first (rows are indexed as items are created), bodies in the same query:
        // FTS5 walks the matches in descending rowid order and stops at the limit.
        let mut b = QueryBuilder::<Sqlite>::new(sql!("search_head"));
        b.push_bind(fts);
        push_search_tail(&mut b, q, "search_index.kind", "search_index.rowid");
        let rows = b.build().fetch_all(&self.reader).await.map_err(db)?;
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
        // One statement on the one writer connection: atomic, and serialized with every
        // other write, so two leases never take the same event.
        let rows = sqlx::query(sql!("events_lease"))
            .bind(micros(until))
            .bind(micros(now))
            .bind(int(n))
            .fetch_all(&mut *self.writer.acquire().await?)
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
        // Balances are exact decimal text: the rows are picked in SQL, summed exactly here.
        let negative: Vec<String> = sqlx::query_scalar(sql!("negative_balances"))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        negative.into_iter().map(|b| decimal(&b).map(|d| -d)).sum()
    }
}
