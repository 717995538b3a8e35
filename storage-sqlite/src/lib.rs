//! # storage-sqlite
//!
//! The marketplace on one SQLite file: the embedded default.
//!
//! - **Durability**: WAL journal with `synchronous = FULL` by default (a committed settlement
//!   survives power loss); `NORMAL` only when asked for ([`SqliteOptions::synchronous_normal`]).
//!   Every pragma is set explicitly.
//! - **Locking**: all writes go through one writer connection, and every write transaction
//!   starts with `BEGIN IMMEDIATE`, so a command holds the write lock from its first read to
//!   its commit and no `SQLITE_BUSY` reaches a caller. Reads use a separate pool of
//!   connections, which WAL lets run beside the writer.
//! - **Few round trips**: every statement is a hand-off to the connection's thread, so a
//!   command loads all its parties in one query and writes all its hot rows (task,
//!   accounts, reputations, ledger lines, events, search entries) in one multi-statement
//!   query over JSON arrays (`json_each`). `BEGIN IMMEDIATE` goes in the same query as the
//!   first load, and the write in the same query as `COMMIT`. A command that ended cleanly
//!   hands the writer straight to the next one, without the check the pool makes of every
//!   connection it takes back, unless another writer is already waiting on the pool.
//! - **Money** is stored as exact decimal strings and summed in Rust, never as `REAL`.
//! - **Search** uses an FTS5 index written in the same transaction as the records.
//! - **The outbox**: events are written with the command; a dispatcher leases them with one
//!   `UPDATE ... RETURNING` on the writer connection, through a partial index of the events
//!   not yet delivered.
//!
//! ```no_run
//! # async fn demo() -> Result<(), marketplace_core::StoreError> {
//! use marketplace_core::{Marketplace, Policy};
//! use storage_sqlite::{SqliteOptions, SqliteStore};
//! let store = SqliteStore::open(SqliteOptions::file("marketplace.db")).await?;
//! let market = Marketplace::new(store, Policy::agora());
//! # let _ = market; Ok(()) }
//! ```

mod codec;
mod credentials;
mod deliveries;
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

use crate::codec::{db, decimal, from_json, fts_query, micros};
pub use crate::tx::SqliteTx;
use crate::tx::account_from;
use crate::writer::Writer;

/// Where and how to open the database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    path: PathBuf,
    synchronous_normal: bool,
    readers: u32,
    busy_timeout: Duration,
}

impl SqliteOptions {
    /// A database file at `path`, created on first open.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous_normal: false,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
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
    }
}

/// The SQLite store. Cheap to clone: clones share the pools.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The one writer connection (see `writer`).
    writer: Arc<Writer>,
    reader: SqlitePool,
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
            .connect_with(connect.clone())
            .await
            .map_err(db)?;
        let store_writer = writer.clone();
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers)
            .test_before_acquire(false)
            .connect_with(connect)
            .await
            .map_err(db)?;
        let store = Self {
            writer: Arc::new(Writer::new(store_writer)),
            reader,
        };
        store.migrate().await?;
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
    /// `("wal", 2)` (2 = FULL, 1 = NORMAL).
    pub async fn durability(&self) -> Result<(String, i64), StoreError> {
        let mut writer = self.writer.acquire().await?;
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

    /// Closes both pools, waiting for connections to finish. Commands are refused afterwards
    /// ([`StoreError::Unavailable`]).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn bodies<T: serde::de::DeserializeOwned>(
        &self,
        q: &mut QueryBuilder<Sqlite>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = q.build().fetch_all(&self.reader).await.map_err(db)?;
        rows.iter().map(|r| from_json(r.get("body"))).collect()
    }

    async fn body<T: serde::de::DeserializeOwned>(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(|r| from_json(r.get("body"))).transpose()
    }
}

/// Most rows a read decodes before filtering in Rust (search hits, feed windows).
const SCAN_ROWS_MAX: usize = marketplace_core::limits::PAGE_LIMIT_MAX * 5;

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The filters of `q` other than capabilities, on tasks aliased `t`; `id` names the column
/// the `before` cursor applies to.
fn push_task_filters(b: &mut QueryBuilder<Sqlite>, q: &TaskQuery, id: &str) {
    if let Some(status) = q.status {
        b.push(" AND t.status = ").push_bind(status.as_str());
    }
    if let Some(skill) = &q.skill {
        b.push(" AND t.skill = ").push_bind(skill.clone());
    }
    if let Some(poster) = &q.poster {
        b.push(" AND t.poster = ").push_bind(poster.to_string());
    }
    if let Some(claimant) = &q.claimant {
        b.push(" AND t.claimant = ").push_bind(claimant.to_string());
    }
    if let Some(before) = q.before {
        b.push(format_args!(" AND {id} < "))
            .push_bind(before.to_string());
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
            Ok(SqliteTx::new(conn, Arc::clone(&self.writer)))
        }
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.body("SELECT body FROM tasks WHERE id = ?", &id.to_string())
            .await
    }

    async fn tasks(&self, q: &TaskQuery) -> Result<Vec<Task>, StoreError> {
        let mut b = QueryBuilder::<Sqlite>::new("SELECT t.body FROM tasks t WHERE 1 = 1");
        if q.capabilities.is_empty() {
            push_task_filters(&mut b, q, "t.id");
        } else {
            // One branch per capability, each reading the (tag, task_id) key backwards and
            // stopping at a page: a page costs the same however many tasks have the tag.
            b.push(" AND t.id IN (");
            for (i, cap) in q.capabilities.iter().enumerate() {
                if i > 0 {
                    b.push(" UNION ALL ");
                }
                b.push(
                    "SELECT task_id FROM (SELECT g.task_id FROM task_tags g \
                     JOIN tasks t ON t.id = g.task_id WHERE g.tag = ",
                )
                .push_bind(cap.clone());
                push_task_filters(&mut b, q, "g.task_id");
                b.push(" ORDER BY g.task_id DESC LIMIT ")
                    .push_bind(limit(q.limit))
                    .push(")");
            }
            b.push(")");
        }
        b.push(" ORDER BY t.id DESC LIMIT ")
            .push_bind(limit(q.limit));
        self.bodies(&mut b).await
    }

    async fn messages(&self, task: TaskId, n: usize) -> Result<Vec<Message>, StoreError> {
        let mut b = QueryBuilder::<Sqlite>::new("SELECT body FROM messages WHERE task_id = ");
        b.push_bind(task.to_string())
            .push(" ORDER BY id LIMIT ")
            .push_bind(limit(n));
        self.bodies(&mut b).await
    }

    async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query("SELECT * FROM accounts WHERE identity = ?")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(|r| account_from(&r)).transpose()
    }

    async fn accounts(
        &self,
        after: Option<&IdentityId>,
        n: usize,
    ) -> Result<Vec<Account>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM accounts WHERE identity > ? ORDER BY identity LIMIT ?")
                .bind(after.map_or("", IdentityId::as_str))
                .bind(limit(n))
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        rows.iter().map(account_from).collect()
    }

    async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError> {
        self.body(
            "SELECT body FROM reputations WHERE identity = ?",
            id.as_str(),
        )
        .await
    }

    async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        self.body("SELECT body FROM profiles WHERE identity = ?", id.as_str())
            .await
    }

    async fn profiles(&self, q: &ProfileQuery) -> Result<Vec<Profile>, StoreError> {
        let mut b = QueryBuilder::<Sqlite>::new("SELECT body FROM profiles WHERE identity > ");
        b.push_bind(q.after.as_ref().map_or(String::new(), ToString::to_string));
        if let Some(cap) = &q.capability {
            b.push(
                " AND identity IN (SELECT identity FROM profile_capabilities WHERE capability = ",
            )
            .push_bind(cap.clone())
            .push(")");
        }
        b.push(" ORDER BY identity LIMIT ")
            .push_bind(limit(q.limit));
        self.bodies(&mut b).await
    }

    async fn ledger(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        let mut b = QueryBuilder::<Sqlite>::new("SELECT * FROM ledger WHERE account = ");
        b.push_bind(String::from(q.account.clone()));
        if let Some(t) = q.tx_type {
            b.push(" AND tx_type = ").push_bind(t.as_str());
        }
        if let Some(before) = q.before_seq {
            b.push(" AND seq < ")
                .push_bind(i64::try_from(before).unwrap_or(i64::MAX));
        }
        b.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(limit(q.limit));
        let rows = b.build().fetch_all(&self.reader).await.map_err(db)?;
        rows.iter().map(ledger_from).collect()
    }

    async fn ledger_since(&self, after: u64, n: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(limit(n))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.iter().map(ledger_from).collect()
    }

    async fn ledger_totals(&self, account: &AccountRef) -> Result<LedgerTotals, StoreError> {
        // Summed in Rust: SQLite's SUM over decimal text would go through floating point.
        let rows = sqlx::query("SELECT tx_type, amount, escrow, fee FROM ledger WHERE account = ?")
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
        let mut b = QueryBuilder::<Sqlite>::new("SELECT body FROM rules WHERE owner = ");
        b.push_bind(owner.to_string())
            .push(" ORDER BY created_at, id");
        self.bodies(&mut b).await
    }

    async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError> {
        let mut b = QueryBuilder::<Sqlite>::new("SELECT body FROM contracts WHERE poster = ");
        b.push_bind(identity.to_string())
            .push(" OR agent = ")
            .push_bind(identity.to_string())
            .push(" ORDER BY id DESC");
        self.bodies(&mut b).await
    }

    async fn feed(&self, q: &FeedQuery) -> Result<Vec<FeedItem>, StoreError> {
        if let Some(text) = &q.text {
            let search = SearchQuery {
                text: text.clone(),
                kind: q.kind,
                topic: q.topic.clone(),
                limit: SCAN_ROWS_MAX,
            };
            let mut hits = self.search(&search).await?;
            hits.retain(|i| q.author.as_ref().is_none_or(|a| a == i.author()));
            hits.retain(|i| q.before.is_none_or(|b| i.created_at() < b));
            hits.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
            hits.truncate(q.limit);
            return Ok(hits);
        }
        let mut items = Vec::new();
        if q.kind.is_none_or(|k| k == FeedKind::Task) {
            let mut b = QueryBuilder::<Sqlite>::new("SELECT body FROM tasks WHERE 1 = 1");
            if let Some(author) = &q.author {
                b.push(" AND poster = ").push_bind(author.to_string());
            }
            // Topic and time filters apply after decoding: scan a bounded window.
            b.push(" ORDER BY id DESC LIMIT ")
                .push_bind(limit(SCAN_ROWS_MAX));
            // Topic and time filters apply to the decoded tasks: pages are short.
            for t in self.bodies::<Task>(&mut b).await? {
                let item = FeedItem::Task(t);
                if item.matches(q.kind, q.topic.as_ref())
                    && q.before.is_none_or(|b| item.created_at() < b)
                {
                    items.push(item);
                    if items.len() >= q.limit {
                        break;
                    }
                }
            }
        }
        if !matches!(q.kind, Some(FeedKind::Task)) {
            let mut b = QueryBuilder::<Sqlite>::new("SELECT body FROM posts WHERE 1 = 1");
            if let Some(FeedKind::Post(kind)) = q.kind {
                b.push(" AND kind = ").push_bind(kind.as_str());
            }
            if let Some(author) = &q.author {
                b.push(" AND author = ").push_bind(author.to_string());
            }
            if let Some(topic) = &q.topic {
                b.push(" AND topic = ").push_bind(topic.clone());
            }
            b.push(" ORDER BY id DESC LIMIT ").push_bind(limit(q.limit));
            for p in self.bodies::<BoardPost>(&mut b).await? {
                let item = FeedItem::Post(p);
                if q.before.is_none_or(|b| item.created_at() < b) {
                    items.push(item);
                }
            }
        }
        items.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
        items.truncate(q.limit);
        Ok(items)
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<FeedItem>, StoreError> {
        let Some(fts) = fts_query(&q.text) else {
            return Ok(Vec::new());
        };
        // Newest first (rows are indexed as items are created), bodies in the same query:
        // FTS5 walks the matches in descending rowid order and stops at the limit.
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT search_index.kind AS kind, COALESCE(t.body, p.body) AS body \
             FROM search_index \
             LEFT JOIN tasks t ON search_index.kind = 'task' AND t.id = search_index.item_id \
             LEFT JOIN posts p ON search_index.kind = 'post' AND p.id = search_index.item_id \
             WHERE search_index MATCH ",
        );
        b.push_bind(fts);
        match q.kind {
            Some(FeedKind::Task) => {
                b.push(" AND search_index.kind = 'task'");
            }
            Some(FeedKind::Post(_)) => {
                b.push(" AND search_index.kind = 'post'");
            }
            None => {}
        }
        // The topic is filtered after decoding: look further then.
        let window = if q.topic.is_some() {
            SCAN_ROWS_MAX
        } else {
            q.limit
        };
        b.push(" ORDER BY search_index.rowid DESC LIMIT ")
            .push_bind(limit(window));
        let rows = b.build().fetch_all(&self.reader).await.map_err(db)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let body: Option<&str> = row.get("body");
            let Some(body) = body else { continue };
            items.push(if row.get::<&str, _>("kind") == "task" {
                FeedItem::Task(from_json(body)?)
            } else {
                FeedItem::Post(from_json(body)?)
            });
        }
        items.retain(|i| i.matches(q.kind, q.topic.as_ref()));
        items.truncate(q.limit);
        Ok(items)
    }

    async fn market_signals(&self, n: usize) -> Result<MarketSignals, StoreError> {
        let rows = sqlx::query(
            "SELECT status, skill, body FROM tasks WHERE status IN ('open', 'completed')",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let tasks = rows
            .iter()
            .map(|r| from_json::<Task>(r.get("body")))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query(
            "SELECT capability, COUNT(*) AS agents FROM profile_capabilities GROUP BY capability",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let supply = rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("capability"),
                    u64::try_from(r.get::<i64, _>("agents")).unwrap_or(0),
                )
            })
            .collect();
        Ok(MarketSignals::from_tasks(&tasks, supply, n))
    }

    async fn blob(&self, hash: &str) -> Result<Option<Blob>, StoreError> {
        self.body("SELECT body FROM blobs WHERE hash = ?", hash)
            .await
    }

    async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS held FROM blob_holders WHERE hash = ? AND identity = ?")
            .bind(hash)
            .bind(identity.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        Ok(row.is_some())
    }

    async fn events(&self, after: u64, n: usize) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(limit(n))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| codec::event(r.get("body"), r.get("seq")))
            .collect()
    }

    async fn lease_events(
        &self,
        now: Timestamp,
        until: Timestamp,
        n: usize,
    ) -> Result<Vec<LeasedEvent>, StoreError> {
        // One statement on the one writer connection: atomic, and serialized with every
        // other write, so two leases never take the same event.
        let rows = sqlx::query(
            "UPDATE events SET available_at = ?1, attempts = attempts + 1 WHERE seq IN \
             (SELECT seq FROM events WHERE done = 0 AND available_at <= ?2 \
              ORDER BY available_at, seq LIMIT ?3) \
             RETURNING seq, body, attempts",
        )
        .bind(micros(until))
        .bind(micros(now))
        .bind(limit(n))
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
        let done =
            sqlx::query("UPDATE events SET done = 1 WHERE seq = ? AND attempts = ? AND done = 0")
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .bind(i64::from(attempt))
                .execute(&mut *self.writer.acquire().await?)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry_event(&self, seq: u64, attempt: u32, at: Timestamp) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE events SET available_at = ? WHERE seq = ? AND attempts = ? AND done = 0",
        )
        .bind(micros(at))
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(i64::from(attempt))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        Ok(moved.rows_affected() == 1)
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        let depth: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE done = 0")
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        Ok(u64::try_from(depth).unwrap_or(0))
    }

    async fn credit_exposure(&self) -> Result<Decimal, StoreError> {
        // Balances are exact decimal text: the rows are picked in SQL, summed exactly here.
        let negative: Vec<String> =
            sqlx::query_scalar("SELECT balance FROM accounts WHERE balance LIKE '-%'")
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        negative.into_iter().map(|b| decimal(&b).map(|d| -d)).sum()
    }
}

fn ledger_from(r: &sqlx::sqlite::SqliteRow) -> Result<LedgerEntry, StoreError> {
    let account = AccountRef::try_from(r.get::<String, _>("account"))
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let tx_type =
        TxType::parse(r.get("tx_type")).ok_or_else(|| StoreError::Corrupt("tx_type".into()))?;
    Ok(LedgerEntry {
        seq: u64::try_from(r.get::<i64, _>("seq")).unwrap_or(0),
        account,
        tx_type,
        amount: decimal(r.get("amount"))?,
        escrow: decimal(r.get("escrow"))?,
        fee: decimal(r.get("fee"))?,
        task_id: r
            .get::<Option<&str>, _>("task_id")
            .map(codec::uuid)
            .transpose()?
            .map(TaskId),
        memo: std::borrow::Cow::Owned(r.get("memo")),
        created_at: codec::time(r.get("created_at"))?,
    })
}
