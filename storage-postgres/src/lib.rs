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
//!   events with `FOR UPDATE SKIP LOCKED` through a partial index on availability, so no
//!   event is sent by two of them at once, and nobody waits for another's lease.
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
//! - **Money** is `NUMERIC`, exchanged with the driver as exact decimal text; ledger sums are
//!   computed by the database, exactly.
//! - **Durability**: PostgreSQL's `synchronous_commit` (on by default) is left on.
//! - **Search** uses a `tsvector` column with a GIN index (no pending list: fast update is
//!   off), written in the command's transaction. A search is planned for its words, newest
//!   first: a common word walks the time-ordered ids backwards, a rare one reads the index,
//!   and neither grows with the table.
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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, QueryBuilder, Row};

use crate::codec::{db, decimal, from_json, micros, ts_query};
pub use crate::tx::PgTx;
use crate::tx::account_from;
use crate::warm::{RECHECK_IDLE, RETURN_AFTER, Warm};

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

    async fn bodies<T: serde::de::DeserializeOwned>(
        &self,
        q: &mut QueryBuilder<Postgres>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = q.build().fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(|r| from_json(r.get("body"))).collect()
    }

    async fn body<T, K>(&self, sql: &'static str, key: K) -> Result<Option<T>, StoreError>
    where
        T: serde::de::DeserializeOwned,
        K: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
    {
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| from_json(r.get("body"))).transpose()
    }
}

const ACCOUNT_SELECT_ONE: &str = "SELECT identity, balance::text AS balance, escrowed::text AS escrowed, \
     credit_limit::text AS credit_limit, created_at FROM accounts WHERE identity = $1";
const ACCOUNT_SELECT_PAGE: &str = "SELECT identity, balance::text AS balance, escrowed::text AS escrowed, \
     credit_limit::text AS credit_limit, created_at FROM accounts WHERE identity > $1 ORDER BY identity LIMIT $2";
const LEDGER_SELECT: &str = "SELECT seq, account, tx_type, amount::text AS amount, escrow::text AS escrow, \
     fee::text AS fee, task_id, memo, created_at FROM ledger";
const LEDGER_SINCE: &str = "SELECT seq, account, tx_type, amount::text AS amount, escrow::text AS escrow, \
     fee::text AS fee, task_id, memo, created_at FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2";

/// Most rows a read decodes before filtering in Rust (search hits, feed windows).
const SCAN_ROWS_MAX: usize = marketplace_core::limits::PAGE_LIMIT_MAX * 5;

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The filters of `q` other than capabilities, on tasks aliased `t`; `id` names the column
/// the `before` cursor applies to.
fn push_task_filters(b: &mut QueryBuilder<Postgres>, q: &TaskQuery, id: &str) {
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
        b.push(format_args!(" AND {id} < ")).push_bind(before.0);
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
        self.body("SELECT body FROM tasks WHERE id = $1", id.0)
            .await
    }

    async fn tasks(&self, q: &TaskQuery) -> Result<Vec<Task>, StoreError> {
        let mut b = QueryBuilder::<Postgres>::new("SELECT t.body FROM tasks t WHERE 1 = 1");
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
                b.push("(SELECT g.task_id FROM task_tags g JOIN tasks t ON t.id = g.task_id WHERE g.tag = ")
                    .push_bind(cap.clone());
                push_task_filters(&mut b, q, "g.task_id");
                // A literal, not a parameter: planned for a page, not for a tenth of the
                // table (which draws a parallel plan that costs more than the page).
                b.push(format_args!(
                    " ORDER BY g.task_id DESC LIMIT {})",
                    limit(q.limit)
                ));
            }
            b.push(")");
        }
        b.push(" ORDER BY t.id DESC LIMIT ")
            .push_bind(limit(q.limit));
        self.bodies(&mut b).await
    }

    async fn messages(&self, task: TaskId, n: usize) -> Result<Vec<Message>, StoreError> {
        let mut b = QueryBuilder::<Postgres>::new("SELECT body FROM messages WHERE task_id = ");
        b.push_bind(task.0)
            .push(" ORDER BY id LIMIT ")
            .push_bind(limit(n));
        self.bodies(&mut b).await
    }

    async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(ACCOUNT_SELECT_ONE)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| account_from(&r)).transpose()
    }

    async fn accounts(
        &self,
        after: Option<&IdentityId>,
        n: usize,
    ) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(ACCOUNT_SELECT_PAGE)
            .bind(after.map_or(String::new(), ToString::to_string))
            .bind(limit(n))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(account_from).collect()
    }

    async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError> {
        self.body(
            "SELECT body FROM reputations WHERE identity = $1",
            id.to_string(),
        )
        .await
    }

    async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        self.body(
            "SELECT body FROM profiles WHERE identity = $1",
            id.to_string(),
        )
        .await
    }

    async fn profiles(&self, q: &ProfileQuery) -> Result<Vec<Profile>, StoreError> {
        let mut b = QueryBuilder::<Postgres>::new("SELECT body FROM profiles WHERE identity > ");
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
        let mut b = QueryBuilder::<Postgres>::new(LEDGER_SELECT);
        b.push(" WHERE account = ");
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
        let rows = b.build().fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(ledger_from).collect()
    }

    async fn ledger_since(&self, after: u64, n: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        let rows = sqlx::query(LEDGER_SINCE)
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(limit(n))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(ledger_from).collect()
    }

    async fn ledger_totals(&self, account: &AccountRef) -> Result<LedgerTotals, StoreError> {
        // NUMERIC sums are exact; read back as text into exact decimals.
        let r = sqlx::query(
            "SELECT COALESCE(SUM(amount), 0)::text AS balance, COALESCE(SUM(escrow), 0)::text AS escrowed, \
             COALESCE(SUM(fee), 0)::text AS fees, COUNT(*) AS entries, \
             COALESCE(SUM(amount) FILTER (WHERE tx_type = 'release' AND amount > 0), 0)::text AS earned, \
             COALESCE(-SUM(amount) FILTER (WHERE tx_type = 'release' AND amount <= 0), 0)::text AS spent, \
             COALESCE(SUM(amount) FILTER (WHERE tx_type = 'grant' AND amount > 0), 0)::text AS granted \
             FROM ledger WHERE account = $1",
        )
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
        let mut b = QueryBuilder::<Postgres>::new("SELECT body FROM rules WHERE owner = ");
        b.push_bind(owner.to_string())
            .push(" ORDER BY created_at, id");
        self.bodies(&mut b).await
    }

    async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError> {
        let mut b = QueryBuilder::<Postgres>::new("SELECT body FROM contracts WHERE poster = ");
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
            let mut b = QueryBuilder::<Postgres>::new("SELECT body FROM tasks WHERE 1 = 1");
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
            let mut b = QueryBuilder::<Postgres>::new("SELECT body FROM posts WHERE 1 = 1");
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
        let Some(tsq) = ts_query(&q.text) else {
            return Ok(Vec::new());
        };
        // Newest first (ids are time-ordered), bodies in the same query. Planned for these
        // words rather than generically: the planner then walks the ids backwards for a
        // common word and reads the GIN index for a rare one, so neither costs the table.
        let mut b = QueryBuilder::<Postgres>::new(
            "SELECT s.kind, COALESCE(t.body, p.body) AS body FROM search_index s \
             LEFT JOIN tasks t ON s.kind = 'task' AND t.id = s.item_id \
             LEFT JOIN posts p ON s.kind = 'post' AND p.id = s.item_id \
             WHERE s.tsv @@ to_tsquery('simple', ",
        );
        b.push_bind(tsq).push(")");
        match q.kind {
            Some(FeedKind::Task) => {
                b.push(" AND s.kind = 'task'");
            }
            Some(FeedKind::Post(_)) => {
                b.push(" AND s.kind = 'post'");
            }
            None => {}
        }
        // The topic is filtered after decoding: look further then.
        let window = if q.topic.is_some() {
            SCAN_ROWS_MAX
        } else {
            q.limit
        };
        b.push(" ORDER BY s.item_id DESC LIMIT ")
            .push_bind(limit(window));
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let rows = b.build().fetch_all(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
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
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let tasks = rows
            .iter()
            .map(|r| from_json::<Task>(r.get("body")))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query(
            "SELECT capability, COUNT(*) AS agents FROM profile_capabilities GROUP BY capability",
        )
        .fetch_all(&self.pool)
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
        self.body("SELECT body FROM blobs WHERE hash = $1", hash.to_owned())
            .await
    }

    async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 AS held FROM blob_holders WHERE hash = $1 AND identity = $2")
                .bind(hash)
                .bind(identity.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(row.is_some())
    }

    async fn events(&self, after: u64, n: usize) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(limit(n))
            .fetch_all(&self.pool)
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
        // Rows another replica is leasing right now are skipped, not waited for: each event
        // goes to one dispatcher at a time, and nobody blocks.
        let rows = sqlx::query(
            "WITH picked AS (SELECT seq FROM events WHERE NOT done AND available_at <= $2 \
               ORDER BY available_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE events e SET available_at = $1, attempts = e.attempts + 1 \
             FROM picked WHERE e.seq = picked.seq \
             RETURNING e.seq, e.body, e.attempts",
        )
        .bind(micros(until))
        .bind(micros(now))
        .bind(limit(n))
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
        let done = sqlx::query(
            "UPDATE events SET done = TRUE WHERE seq = $1 AND attempts = $2 AND NOT done",
        )
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry_event(&self, seq: u64, attempt: u32, at: Timestamp) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE events SET available_at = $1 WHERE seq = $2 AND attempts = $3 AND NOT done",
        )
        .bind(micros(at))
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(moved.rows_affected() == 1)
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        let depth: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE NOT done")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(u64::try_from(depth).unwrap_or(0))
    }

    async fn credit_exposure(&self) -> Result<Decimal, StoreError> {
        let sum: String = sqlx::query_scalar(
            "SELECT COALESCE(SUM(-balance), 0)::text FROM accounts WHERE balance < 0",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        decimal(&sum)
    }
}

fn ledger_from(r: &PgRow) -> Result<LedgerEntry, StoreError> {
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
        task_id: r.get::<Option<uuid::Uuid>, _>("task_id").map(TaskId),
        memo: std::borrow::Cow::Owned(r.get("memo")),
        created_at: codec::time(r.get("created_at"))?,
    })
}
