//! The write transaction: every record a command decides on is loaded `FOR UPDATE` and
//! stays locked until commit. The engine loads accounts in identity order, so two
//! settlements lock in the same order; lost races are retried by the engine.
//!
//! **Round trips.** A command's usual course is: its loads, its write, its commit. The
//! transaction saves two round trips on it:
//! - `BEGIN` is not sent on its own: it travels in front of the first statement;
//! - the write of the hot tables is held back and travels with `COMMIT`.
//!
//! Both need several statements in one message, which only PostgreSQL's simple query
//! protocol carries. Its statements take no parameters, so the hot statements are prepared
//! by name on every connection (`PREPARE`, when the pool opens it) and called with
//! `EXECUTE name(literal, ...)`. The store's connections set `standard_conforming_strings`,
//! so a quote doubled is a literal's only escape. The plans are made once per connection,
//! as for every other statement.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use marketplace_core::decide::{Changes, Party, View};
use marketplace_core::store::{IdempotencyRecord, StoreError, TaskParties, Transaction};
use marketplace_core::*;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row};
use storage_sql::codec::Batch;

use crate::codec::{db, from_json, json, micros};
use crate::warm::Warm;
use storage_sql::Sql;
use storage_sql::sql;

/// The statements both stores share, in this store's syntax.
type Shared<'a> = Sql<'a, crate::codec::PgSyntax>;

/// A write transaction on the PostgreSQL store (rows locked with `SELECT ... FOR UPDATE` as
/// they are loaded). Dropping it without committing rolls it back: the connection is
/// closed rather than returned to the pool, which ends the transaction on the server. A
/// transaction that ended cleanly hands its connection to the next command (see `warm`).
pub struct PgTx {
    /// The connection, taken only when the transaction is dropped.
    conn: Option<PoolConnection<Postgres>>,
    /// When the connection left the pool (it may have served other commands since).
    out_since: Instant,
    warm: Arc<Warm>,
    /// Whether the connection is inside the transaction, or waiting for the answer to its
    /// end: from the moment `BEGIN` goes out until `COMMIT` or `ROLLBACK` is answered.
    open: bool,
    /// The write of the hot tables (an `EXECUTE`), held back to go with `COMMIT`.
    pending: Option<String>,
    /// A setting to send with the next statement (see [`Transaction::holds_batch`]).
    setting: Option<&'static str>,
}

/// How long a transaction that holds a batch waits for a row lock before it gives up
/// (`lock_not_available`, a conflict: the engine runs the batch's commands one by one).
/// Without it, two batches that each hold a row the other wants wait for PostgreSQL's
/// deadlock check, a second by default.
const BATCH_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '20ms';";

impl Drop for PgTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.open {
            conn.close_on_drop();
        } else {
            self.warm.put(conn, self.out_since);
        }
    }
}

impl PgTx {
    pub(crate) fn new(conn: PoolConnection<Postgres>, out_since: Instant, warm: Arc<Warm>) -> Self {
        Self {
            conn: Some(conn),
            out_since,
            warm,
            open: false,
            pending: None,
            setting: None,
        }
    }

    /// The connection, as it is: inside the transaction or not.
    fn link(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .expect("a transaction's connection is taken only when it is dropped")
    }

    /// The connection, inside the transaction, with nothing held back: sends `BEGIN` and a
    /// held-back write first, if there are any.
    async fn conn(&mut self) -> Result<&mut PgConnection, StoreError> {
        if !self.open || self.pending.is_some() || self.setting.is_some() {
            self.simple(String::new()).await?;
        }
        Ok(self.link())
    }

    /// Runs `sql` (statements of the simple protocol) inside the transaction, in one round
    /// trip: with `BEGIN` in front if nothing has been sent yet, and a write held back in
    /// front of that (a batch of commands in one transaction: the next command reads what
    /// the one before wrote; a write answers no rows).
    async fn simple(&mut self, sql: String) -> Result<Vec<PgRow>, StoreError> {
        let mut text = String::new();
        if !self.open {
            self.open = true;
            text.push_str("BEGIN;");
        }
        if let Some(setting) = self.setting.take() {
            text.push_str(setting);
        }
        if let Some(write) = self.pending.take() {
            text.push_str(&write);
            text.push(';');
        }
        let text = if text.is_empty() {
            sql
        } else {
            text.push_str(&sql);
            text
        };
        sqlx::raw_sql(AssertSqlSafe(text))
            .fetch_all(self.link())
            .await
            .map_err(db)
    }

    /// Ends the transaction: `COMMIT`, after the held-back write, or `ROLLBACK`, which
    /// drops it. A transaction that sent nothing has nothing to end.
    async fn finish(&mut self, commit: bool) -> Result<(), StoreError> {
        let write = self.pending.take().filter(|_| commit);
        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        let text = match (write, self.open) {
            (None, false) => return Ok(()),
            (None, true) => end.to_owned(),
            (Some(mut write), true) => {
                write.push_str("; ");
                write.push_str(end);
                write
            }
            (Some(write), false) => format!("BEGIN; {write}; {end}"),
        };
        self.open = true;
        let done = sqlx::raw_sql(AssertSqlSafe(text))
            .execute(self.link())
            .await;
        match done {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(e) => {
                // A statement before `COMMIT` failed, so the transaction is aborted but
                // open: end it here, and keep the connection if that works.
                if sqlx::raw_sql("ROLLBACK").execute(self.link()).await.is_ok() {
                    self.open = false;
                }
                Err(db(e))
            }
        }
    }
}

/// The hot tables of a command, from the arrays of [`Batch`]: `$1` tasks, `$2` accounts,
/// `$3` reputations, `$4` ledger lines, `$5` events. One common table expression per
/// table; a command's statement holds only those of the tables it writes (see
/// [`write_batch`]), so PostgreSQL neither plans nor opens the others.
const WRITE_PARTS: [&str; 5] = [
    sql!("write_tasks"),
    sql!("write_accounts"),
    sql!("write_reputations"),
    sql!("write_ledger"),
    sql!("write_events"),
];

/// The write statement for the tables whose bit is set in `tables` (bit `i`:
/// [`WRITE_PARTS`]'s `i`-th): one prepared statement per set, named by it.
fn write_name(tables: usize) -> String {
    format!("marketplace_write_{tables}")
}

/// Rules naming any tag of a JSON array (`$1`), oldest first.
const RULES_MATCHING: &str = sql!("rules_matching");

/// Prepares, on a new connection, the statements a transaction calls by name with
/// `EXECUTE`: the load of a task with its parties, the rule match, the load of one party,
/// and one write per set of hot tables (31 sets). One message, one round trip; run after
/// the migrations.
pub(crate) fn prepare_statements() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = format!(
            "PREPARE {LOAD}(uuid, text, boolean, bigint) AS {TASK_WITH_PARTIES}; \
             PREPARE {RULES}(text) AS {RULES_MATCHING}; \
             PREPARE {PARTY}(text) AS {PARTY_LOCKED}; \
             PREPARE {KEY_LOCK}(text, text) AS {KEY_LOCKED}; \
             PREPARE {KEY}(text, text) AS {KEY_RECORD};"
        );
        for set in 1..1usize << WRITE_PARTS.len() {
            let parts: Vec<&str> = WRITE_PARTS
                .iter()
                .enumerate()
                .filter(|(i, _)| set & (1 << i) != 0)
                .map(|(_, part)| *part)
                .collect();
            let _ = write!(
                text,
                " PREPARE {}(text, text, text, text, text) AS WITH {} SELECT 1 WHERE false;",
                write_name(set),
                parts.join(", ")
            );
        }
        text
    })
}

/// The prepared name of [`TASK_WITH_PARTIES`].
const LOAD: &str = "marketplace_load";
/// The prepared name of [`RULES_MATCHING`].
const RULES: &str = "marketplace_rules";
/// The prepared name of [`PARTY_LOCKED`].
const PARTY: &str = "marketplace_party";

/// The prepared name of [`KEY_LOCKED`].
const KEY_LOCK: &str = "marketplace_key_lock";
/// The prepared name of [`KEY_RECORD`].
const KEY: &str = "marketplace_key";

/// Locks an idempotency key (`$1` the caller, `$2` the key) until the transaction ends,
/// whether or not its record exists: a transaction-scoped advisory lock, in a class of its
/// own (the two-number form, apart from the one-number locks of the migrations). Two keys
/// whose hashes collide only wait for each other.
const KEY_LOCKED: &str = sql!("key_lock");

/// An idempotency record (`$1` the caller, `$2` the key). Sent after [`KEY_LOCKED`] as a
/// statement of its own: under `READ COMMITTED` it then reads with a snapshot taken after
/// the lock was granted, so it sees the record of the transaction it waited for.
const KEY_RECORD: &str = sql!("idempotency_get");

/// One identity's account and reputation (`$1`), locked.
const PARTY_LOCKED: &str = sql!("party_locked");

/// An `EXECUTE` of a prepared statement, its arguments written as SQL literals.
struct Call(String);

impl Call {
    fn new(name: &str) -> Self {
        let mut text = String::with_capacity(256);
        let _ = write!(text, "EXECUTE {name}(");
        Self(text)
    }

    fn separate(&mut self) {
        if !self.0.ends_with('(') {
            self.0.push_str(", ");
        }
    }

    /// A text argument, or `NULL`. A quote inside is doubled: with
    /// `standard_conforming_strings` on, that is the only escape a literal has. A NUL byte
    /// cannot be sent at all (the protocol's strings end at it), so it is refused.
    fn text(mut self, value: Option<&str>) -> Result<Self, StoreError> {
        self.separate();
        let Some(value) = value else {
            self.0.push_str("NULL");
            return Ok(self);
        };
        if value.contains('\0') {
            return Err(StoreError::Other(
                "a text with a NUL byte cannot be stored".into(),
            ));
        }
        self.0.reserve(value.len() + 2);
        self.0.push('\'');
        for (i, part) in value.split('\'').enumerate() {
            if i > 0 {
                self.0.push_str("''");
            }
            self.0.push_str(part);
        }
        self.0.push('\'');
        Ok(self)
    }

    fn int(mut self, value: i64) -> Self {
        self.separate();
        let _ = write!(self.0, "{value}");
        self
    }

    fn bool(mut self, value: bool) -> Self {
        self.separate();
        self.0.push_str(if value { "true" } else { "false" });
        self
    }

    fn end(mut self) -> String {
        self.0.push(')');
        self.0
    }
}

/// A task and its parties in one statement (`$1` the task, `$2` the actor, `$3` whether the
/// poster is wanted with no deadline due, `$4` now): the task row first, locked, then the
/// parties' rows, locked in identity order, as [`TaskParties::of`] names them (the
/// `parties` column holds [`Task::involved`]).
const TASK_WITH_PARTIES: &str = sql!("task_with_parties");

impl Transaction for PgTx {
    async fn task(&mut self, id: TaskId) -> Result<Option<Arc<Task>>, StoreError> {
        let row = sqlx::query(sql!("task_locked"))
            .bind(id.0)
            .fetch_optional(self.conn().await?)
            .await
            .map_err(db)?;
        row.map(|r| from_json(r.get("body")).map(Arc::new))
            .transpose()
    }

    async fn party(&mut self, id: &IdentityId) -> Result<Option<Party>, StoreError> {
        Ok(self
            .parties(std::slice::from_ref(id))
            .await?
            .pop()
            .flatten())
    }

    async fn parties(&mut self, ids: &[IdentityId]) -> Result<Vec<Option<Party>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT a.identity, a.balance::text AS balance, a.escrowed::text AS escrowed, \
             a.credit_limit::text AS credit_limit, a.created_at, r.body \
             FROM accounts a JOIN reputations r ON r.identity = a.identity \
             WHERE a.identity = ANY($1) ORDER BY a.identity FOR UPDATE",
        )
        .bind(
            ids.iter()
                .map(|id| id.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .fetch_all(self.conn().await?)
        .await
        .map_err(db)?;
        storage_sql::rows::parties_of(ids, &rows)
    }

    async fn task_with_parties(
        &mut self,
        id: TaskId,
        want: &TaskParties<'_>,
        view: &mut View,
    ) -> Result<(), StoreError> {
        let call = Call::new(LOAD)
            .text(Some(&id.0.to_string()))?
            .text(want.actor.map(IdentityId::as_str))?
            .bool(want.poster)
            .int(micros(want.now))
            .end();
        let rows = self.simple(call).await?;
        storage_sql::rows::task_with_parties(self, &rows, id, want, view).await
    }

    async fn profile(&mut self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        Shared::profile_in(self.conn().await?, id).await
    }

    async fn rule(&mut self, id: RuleId) -> Result<Option<AutoClaimRule>, StoreError> {
        Shared::rule_in(self.conn().await?, id).await
    }

    async fn rules_owned_by(
        &mut self,
        owner: &IdentityId,
    ) -> Result<Vec<AutoClaimRule>, StoreError> {
        Shared::rules_owned_in(self.conn().await?, owner).await
    }

    async fn rules_matching(&mut self, tags: &[String]) -> Result<Vec<AutoClaimRule>, StoreError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let call = Call::new(RULES).text(Some(&json(&tags)?))?.end();
        let rows = self.simple(call).await?;
        rows.iter().map(|r| from_json(r.get("body"))).collect()
    }

    async fn rules_and_party(
        &mut self,
        tags: &[String],
        actor: &IdentityId,
    ) -> Result<(Vec<AutoClaimRule>, Option<Party>), StoreError> {
        let mut text = Call::new(RULES).text(Some(&json(&tags)?))?.end();
        text.push_str("; ");
        text.push_str(&Call::new(PARTY).text(Some(actor.as_str()))?.end());
        let rows = self.simple(text).await?;
        // A rule's row has its body alone; the party's has the account's columns too.
        let mut rules = Vec::new();
        let mut party = None;
        for r in &rows {
            if r.len() == 1 {
                rules.push(from_json(r.get("body"))?);
            } else {
                party = Some(storage_sql::rows::party(r)?);
            }
        }
        Ok((rules, party))
    }

    async fn contract(&mut self, id: ContractId) -> Result<Option<Contract>, StoreError> {
        Shared::body_in(self.conn().await?, sql!("contract_locked"), id.0).await
    }

    async fn post(&mut self, id: PostId) -> Result<Option<BoardPost>, StoreError> {
        Shared::post_in(self.conn().await?, id).await
    }

    async fn blob(&mut self, hash: &str) -> Result<Option<Blob>, StoreError> {
        Shared::body_in(self.conn().await?, sql!("blob_locked"), hash.to_owned()).await
    }

    async fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let args = |name| {
            Ok::<_, StoreError>(
                Call::new(name)
                    .text(Some(caller.as_str()))?
                    .text(Some(key))?
                    .end(),
            )
        };
        let text = format!("{}; {}", args(KEY_LOCK)?, args(KEY)?);
        let rows = self.simple(text).await?;
        // The lock answers one row of one column; the record, if any, has four.
        rows.iter()
            .find(|r| r.len() > 1)
            .map(|r| {
                storage_sql::codec::idempotency(
                    caller,
                    key,
                    r.get("fingerprint"),
                    r.get("response"),
                    r.get("created_at"),
                    r.get("running_until"),
                )
            })
            .transpose()
    }

    async fn due_tasks(&mut self, now: Timestamp, limit: usize) -> Result<Vec<TaskId>, StoreError> {
        let rows = sqlx::query(sql!("due_tasks"))
            .bind(micros(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.conn().await?)
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| TaskId(r.get("id"))).collect())
    }

    async fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        let batch = Batch::of(&changes)?;
        // One statement for the hot tables the command writes, held back to go with `COMMIT`
        // (or with the next command's first load, in a batch). New tasks (inserted, not
        // updated: `xmax = 0`) also get their search entry and tags.
        let call = if batch.is_empty() {
            None
        } else {
            let call = Call::new(&write_name(batch.table_set()))
                .text(Some(&batch.tasks))?
                .text(Some(&batch.accounts))?
                .text(Some(&batch.reputations))?
                .text(Some(&batch.ledger))?
                .text(Some(&batch.events))?
                .end();
            Some(call)
        };
        // The rest goes now, after a write held back from an earlier command of the batch.
        if storage_sql::has_records(&changes) {
            Shared::write_records(self.conn().await?, &changes).await?;
        }
        if call.is_some() {
            if self.pending.is_some() {
                self.conn().await?;
            }
            self.pending = call;
        }
        Ok(())
    }

    async fn put_idempotency(&mut self, r: IdempotencyRecord) -> Result<(), StoreError> {
        Shared::put_idempotency_in(self.conn().await?, r).await
    }

    async fn purge_idempotency(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        Shared::purge_in(self.conn().await?, sql!("idempotency_purge"), before, limit).await
    }

    fn holds_batch(&mut self) {
        self.setting = Some(BATCH_LOCK_TIMEOUT);
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        self.finish(true).await
    }

    async fn rollback(mut self) -> Result<(), StoreError> {
        self.finish(false).await
    }
}
