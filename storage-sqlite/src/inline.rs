//! The writer's transactions, run inline: a command's statements are calls into SQLite on
//! the thread that decides the command, not queries handed to a driver's thread.
//!
//! sqlx runs every query of a SQLite connection on that connection's own thread and
//! answers through a channel: a hand-off there and back, which costs more than most of a
//! command's statements (the `driver` benchmark measures both ways). A group commit's lane
//! decides its batch's commands one after the other, so those hand-offs set its pace. Here
//! the writer's transactions use a second connection to the same file, opened with
//! rusqlite, and call it directly:
//!
//! - **One writer still**: a transaction takes the store's sqlx writer first and holds it
//!   until it ends, unused, so nothing else writes meanwhile (leases, credentials,
//!   deliveries and migrations go through that writer); then it takes this connection,
//!   which nobody else can be holding. (Another process writing the same file would make
//!   `BEGIN IMMEDIATE` wait for it, up to the busy timeout, on the deciding thread: the
//!   store expects to be its file's one writer, as it always has.)
//! - **Nothing slow on the runtime's threads**: the statements of a transaction read and
//!   write pages in memory; the one call that waits on the disk, `COMMIT` (its `fsync`),
//!   runs on the runtime's blocking threads — or, on a lane's own thread
//!   ([`crate::spawn_lane`]), right there, since nothing else runs on it.
//! - **Dropped, rolled back**: a transaction dropped before its end (a cancelled command)
//!   rolls back in its `Drop`: a `ROLLBACK` in WAL mode writes nothing.
//! - The statements are the store's own (`sql/`), with the same settings (WAL,
//!   `synchronous`, foreign keys, busy timeout) and the same meaning. The hot rows are
//!   written a statement a row with their values bound (`row_*.sql`): a call costs less
//!   here than encoding them as JSON arrays for `json_each` to take apart, which the driver
//!   path does to save hand-offs. A task is updated, or else inserted with its search
//!   entry and tags.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use marketplace_core::decide::{Changes, Party, View};
use marketplace_core::store::{IdempotencyRecord, StoreError, TaskParties, Transaction};
use marketplace_core::*;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql};
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use storage_sql::codec::{AccountRow, EventRow, LedgerRow, ReputationRow, TaskRow};
use storage_sql::rows::SqlRow;
use storage_sql::{sql, texts};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::codec::{from_json, json, micros};
use crate::writer::Writer;

/// The writer's inline connection, shared by the store's transactions one at a time.
pub(crate) type InlineConn = Arc<Mutex<Connection>>;

/// Opens the inline connection to the database at `path`, with the store's settings:
/// `synchronous` (`FULL` or `NORMAL`), the busy timeout, the log's size in pages past
/// which a commit checkpoints (`wal_autocheckpoint`), and room for `statements` prepared
/// statements.
pub(crate) fn open(
    path: &Path,
    synchronous: &str,
    busy_timeout: Duration,
    autocheckpoint: u32,
    statements: usize,
) -> Result<InlineConn, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(error)?;
    conn.busy_timeout(busy_timeout).map_err(error)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
         PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA wal_autocheckpoint = {autocheckpoint};"
    ))
    .map_err(error)?;
    conn.set_prepared_statement_cache_capacity(statements);
    Ok(Arc::new(Mutex::new(conn)))
}

/// `(journal_mode, synchronous)` of `conn`, as [`crate::SqliteStore::durability`] tells
/// them.
pub(crate) fn durability(conn: &Connection) -> Result<(String, i64), StoreError> {
    let mode = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(error)?;
    let sync = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .map_err(error)?;
    Ok((mode, sync))
}

/// Maps a rusqlite error as [`crate::codec::db`] maps sqlx's: busy and locked are lost
/// races the engine retries.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(error)`
pub(crate) fn error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Conflict(e.to_string())
        }
        Some(ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::DiskFull) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// A row of an inline query, its values owned: read by the decoders both stores share.
#[derive(Debug)]
pub(crate) struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    fn value(&self, column: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .map(|at| &self.values[at])
            .ok_or_else(|| StoreError::Corrupt(format!("no column {column}")))
    }
}

impl SqlRow for Row {
    fn text(&self, column: &str) -> Result<&str, StoreError> {
        self.text_opt(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }

    fn text_opt(&self, column: &str) -> Result<Option<&str>, StoreError> {
        match self.value(column)? {
            Value::Text(s) => Ok(Some(s)),
            Value::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "{column}: {:?}, not text",
                other.data_type()
            ))),
        }
    }

    fn int_opt(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            Value::Integer(n) => Ok(Some(*n)),
            Value::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "{column}: {:?}, not an integer",
                other.data_type()
            ))),
        }
    }
}

/// Runs the statements of `sql` (one, or several separated by `;`: the store's statements
/// have no `;` inside a literal) on `conn` with `params` bound in order across them.
/// Returns the rows they answer, and how many rows the last write among them changed.
fn run(conn: &Connection, sql: &str, params: Params<'_>) -> Result<(Vec<Row>, usize), StoreError> {
    let mut rows = Vec::new();
    let mut bound = 0;
    for text in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut statement = conn.prepare_cached(text).map_err(error)?;
        let wants = statement.parameter_count();
        let Some(these) = params.get(bound..bound + wants) else {
            return Err(StoreError::Other(format!(
                "{wants} parameters wanted, {} left",
                params.len() - bound
            )));
        };
        for (at, value) in these.iter().enumerate() {
            statement.raw_bind_parameter(at + 1, value).map_err(error)?;
        }
        bound += wants;
        let width = statement.column_count();
        let columns: Arc<[String]> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut answer = statement.raw_query();
        while let Some(row) = answer.next().map_err(error)? {
            let values = (0..width)
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<Value>, _>>()
                .map_err(error)?;
            rows.push(Row {
                columns: Arc::clone(&columns),
                values,
            });
        }
    }
    if bound != params.len() {
        return Err(StoreError::Other(format!(
            "{} parameters given, {bound} wanted",
            params.len()
        )));
    }
    let changed = usize::try_from(conn.changes()).unwrap_or(usize::MAX);
    Ok((rows, changed))
}

/// Runs `sql`, a statement without parameters or rows (`BEGIN IMMEDIATE`, `COMMIT`), kept
/// prepared: every transaction runs both, and preparing them again each time is parsing
/// the lane would do for every batch.
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// A statement's parameters, borrowed: SQLite copies what it binds.
type Params<'a> = &'a [&'a dyn ToSql];

/// A write transaction run inline: `BEGIN IMMEDIATE` on the inline connection, while the
/// store's sqlx writer is held so that nothing else writes.
pub(crate) struct InlineTx {
    /// The inline connection, until the transaction is dropped or its commit sent.
    conn: Option<OwnedMutexGuard<Connection>>,
    /// The store's writer, held unused for as long as the transaction lives.
    token: Option<PoolConnection<Sqlite>>,
    writer: Arc<Writer>,
    /// Whether `BEGIN IMMEDIATE` has run and no `COMMIT` or `ROLLBACK` since.
    open: bool,
}

impl Drop for InlineTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_deref().filter(|_| self.open) {
            // Nothing to report to: the transaction was abandoned. Should `ROLLBACK` fail,
            // the next transaction ends it before it begins.
            let _ = conn.execute_batch("ROLLBACK");
        }
        drop(self.conn.take());
        if let Some(token) = self.token.take() {
            self.writer.put(token);
        }
    }
}

impl InlineTx {
    /// Begins on the inline connection; `token` is the store's writer, held meanwhile.
    pub(crate) async fn begin(
        inline: &InlineConn,
        token: PoolConnection<Sqlite>,
        writer: Arc<Writer>,
    ) -> Self {
        let conn = Arc::clone(inline).lock_owned().await;
        Self {
            conn: Some(conn),
            token: Some(token),
            writer,
            open: false,
        }
    }

    /// The connection inside the transaction: `BEGIN IMMEDIATE` first if nothing ran yet.
    fn conn(&mut self) -> Result<&Connection, StoreError> {
        let conn = self
            .conn
            .as_deref()
            .ok_or_else(|| StoreError::Other("the transaction has ended".into()))?;
        if !self.open {
            if !conn.is_autocommit() {
                // Left open by a transaction whose `ROLLBACK` failed.
                conn.execute_batch("ROLLBACK").map_err(error)?;
            }
            exec_cached(conn, "BEGIN IMMEDIATE").map_err(error)?;
            self.open = true;
        }
        Ok(conn)
    }

    fn rows(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        run(self.conn()?, sql, params).map(|(rows, _)| rows)
    }

    fn exec(&mut self, sql: &str, params: Params<'_>) -> Result<usize, StoreError> {
        run(self.conn()?, sql, params).map(|(_, changed)| changed)
    }

    /// The `body` of the one row `sql` finds for `key`, decoded.
    fn body<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        self.rows(sql, &[&key])?
            .first()
            .map(|r| from_json(r.text("body")?))
            .transpose()
    }

    fn bodies<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<T>, StoreError> {
        self.rows(sql, params)?
            .iter()
            .map(|r| from_json(r.text("body")?))
            .collect()
    }

    /// Writes the hot rows of `changes` (tasks, with the search index and tags of new
    /// ones; accounts, reputations, ledger lines and events, in order), one statement a
    /// row with its values bound: inline, a statement costs less than encoding the rows
    /// as JSON arrays for SQLite to take apart again, as the driver's one query does.
    fn write_hot(&mut self, changes: &Changes) -> Result<(), StoreError> {
        for task in &changes.tasks {
            let row = TaskRow::of(task)?;
            let parties = json(&row.parties)?;
            let (id, status, claimant) = (&row.id, &row.status, &row.claimant);
            let (due, body) = (&row.due_at, &row.body);
            let update: Params<'_> = &[status, claimant, due, body, &parties, id];
            if self.exec(sql!("row_task_update"), update)? > 0 {
                continue;
            }
            let insert: Params<'_> = &[
                id,
                &row.poster,
                status,
                &row.skill,
                claimant,
                due,
                body,
                &parties,
            ];
            self.exec(sql!("row_task_insert"), insert)?;
            let words = storage_sql::codec::task_search_text(task);
            self.exec(sql!("row_task_indexed"), &[id, &words])?;
            for tag in task.spec.match_tags() {
                self.exec(sql!("row_task_tag"), &[&tag, id])?;
            }
        }
        for account in &changes.accounts {
            let r = AccountRow::of(account);
            let values: Params<'_> = &[
                &r.identity,
                &r.balance,
                &r.escrowed,
                &r.credit_limit,
                &r.created_at,
            ];
            self.exec(sql!("row_account"), values)?;
        }
        for reputation in &changes.reputations {
            let r = ReputationRow::of(reputation)?;
            self.exec(sql!("row_reputation"), &[&r.identity, &r.body])?;
        }
        for line in &changes.ledger {
            let r = LedgerRow::of(line);
            let values: Params<'_> = &[
                &r.account,
                &r.tx_type,
                &r.amount,
                &r.escrow,
                &r.fee,
                &r.task_id,
                &r.memo,
                &r.created_at,
            ];
            self.exec(sql!("row_ledger"), values)?;
        }
        for event in &changes.events {
            let r = EventRow::of(event)?;
            self.exec(sql!("row_event"), &[&r.body, &r.available_at])?;
        }
        Ok(())
    }

    /// Writes the records of `changes` other than the hot rows, one statement each.
    fn write_records(&mut self, changes: &Changes) -> Result<(), StoreError> {
        for p in &changes.profiles {
            let who = p.identity.as_str();
            self.exec(texts::PROFILE_PUT, &[&who, &json(p)?])?;
            self.exec(texts::PROFILE_CAPABILITIES_CLEAR, &[&who])?;
            for cap in &p.capabilities {
                self.exec(texts::PROFILE_CAPABILITY_ADD, &[&cap.as_str(), &who])?;
            }
        }
        for rule in &changes.rules {
            let id = rule.id.0.to_string();
            let values: Params<'_> = &[
                &id,
                &rule.owner.as_str(),
                &micros(rule.created_at),
                &json(rule)?,
            ];
            self.exec(texts::RULE_ADD, values)?;
            for tag in &rule.capabilities {
                self.exec(texts::RULE_TAG_ADD, &[&tag.as_str(), &id])?;
            }
        }
        for id in &changes.rules_deleted {
            let id = id.0.to_string();
            for statement in [texts::RULE_DELETE, texts::RULE_TAGS_DELETE] {
                self.exec(statement, &[&id])?;
            }
        }
        for k in &changes.contracts {
            let values: Params<'_> = &[
                &k.id.0.to_string(),
                &k.poster.as_str(),
                &k.agent.as_str(),
                &json(k)?,
            ];
            self.exec(texts::CONTRACT_PUT, values)?;
        }
        for m in &changes.messages {
            let values: Params<'_> = &[&m.id.0.to_string(), &m.task_id.0.to_string(), &json(m)?];
            self.exec(texts::MESSAGE_ADD, values)?;
        }
        for p in &changes.posts {
            let id = p.id.0.to_string();
            let values: Params<'_> = &[
                &id,
                &p.author.as_str(),
                &p.kind.as_str(),
                &p.topic,
                &json(p)?,
            ];
            self.exec(texts::POST_ADD, values)?;
            let words = storage_sql::codec::post_search_text(p);
            self.exec(sql!("post_indexed"), &[&id, &words])?;
        }
        for b in &changes.blobs {
            self.exec(texts::BLOB_ADD, &[&b.hash, &json(b)?])?;
        }
        for (hash, holder) in &changes.blob_holders {
            self.exec(texts::BLOB_HOLDER_ADD, &[hash, &holder.as_str()])?;
        }
        for hash in &changes.blobs_referenced {
            self.exec(sql!("blob_referenced"), &[hash])?;
        }
        for hash in &changes.blobs_removed {
            for statement in [texts::BLOB_HOLDERS_DELETE, texts::BLOB_DELETE] {
                self.exec(statement, &[hash])?;
            }
        }
        Ok(())
    }
}

impl Transaction for InlineTx {
    async fn task(&mut self, id: TaskId) -> Result<Option<Arc<Task>>, StoreError> {
        Ok(self.body(sql!("task"), &id.to_string())?.map(Arc::new))
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
        let names = json(&ids.iter().map(IdentityId::as_str).collect::<Vec<_>>())?;
        let rows = self.rows(sql!("parties"), &[&names])?;
        storage_sql::rows::parties_of(ids, &rows)
    }

    async fn task_with_parties(
        &mut self,
        id: TaskId,
        want: &TaskParties<'_>,
        view: &mut View,
    ) -> Result<(), StoreError> {
        let task = id.to_string();
        let actor = want.actor.map(IdentityId::as_str);
        let (poster, now) = (want.poster, micros(want.now));
        let rows = {
            let values: Params<'_> = &[&task, &actor, &actor, &task, &poster, &now, &task];
            self.rows(sql!("task_with_parties"), values)?
        };
        storage_sql::rows::task_with_parties(self, &rows, id, want, view).await
    }

    async fn profile(&mut self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        self.body(texts::PROFILE_BODY, id.as_str())
    }

    async fn rule(&mut self, id: RuleId) -> Result<Option<AutoClaimRule>, StoreError> {
        self.body(texts::RULE_BODY, &id.0.to_string())
    }

    async fn rules_owned_by(
        &mut self,
        owner: &IdentityId,
    ) -> Result<Vec<AutoClaimRule>, StoreError> {
        self.bodies(texts::RULES_OWNED, &[&owner.as_str()])
    }

    async fn rules_matching(&mut self, tags: &[String]) -> Result<Vec<AutoClaimRule>, StoreError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        self.bodies(sql!("rules_matching"), &[&json(&tags)?])
    }

    async fn rules_and_party(
        &mut self,
        tags: &[String],
        actor: &IdentityId,
    ) -> Result<(Vec<AutoClaimRule>, Option<Party>), StoreError> {
        let rules = self.rules_matching(tags).await?;
        let party = self.party(actor).await?;
        Ok((rules, party))
    }

    async fn contract(&mut self, id: ContractId) -> Result<Option<Contract>, StoreError> {
        self.body(sql!("contract"), &id.to_string())
    }

    async fn post(&mut self, id: PostId) -> Result<Option<BoardPost>, StoreError> {
        self.body(texts::POST_BODY, &id.0.to_string())
    }

    async fn blob(&mut self, hash: &str) -> Result<Option<Blob>, StoreError> {
        self.body(sql!("blob"), hash)
    }

    async fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let rows = self.rows(sql!("idempotency_get"), &[&caller.as_str(), &key])?;
        rows.first()
            .map(|r| {
                storage_sql::codec::idempotency(
                    caller,
                    key,
                    r.text("fingerprint")?.to_owned(),
                    r.text("response")?.to_owned(),
                    r.int("created_at")?,
                    r.int_opt("running_until")?,
                )
            })
            .transpose()
    }

    async fn due_tasks(&mut self, now: Timestamp, limit: usize) -> Result<Vec<TaskId>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(sql!("due_tasks"), &[&micros(now), &limit])?
            .iter()
            .map(|r| crate::codec::uuid(r.text("id")?).map(TaskId))
            .collect()
    }

    async fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        if storage_sql::has_records(&changes) {
            self.write_records(&changes)?;
        }
        self.write_hot(&changes)
    }

    async fn put_idempotency(&mut self, r: IdempotencyRecord) -> Result<(), StoreError> {
        let values: Params<'_> = &[
            &r.caller.to_string(),
            &r.key,
            &r.fingerprint,
            &r.response,
            &micros(r.created_at),
            &r.running_until.map(micros),
        ];
        self.exec(texts::IDEMPOTENCY_PUT, values).map(drop)
    }

    async fn purge_idempotency(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.exec(sql!("idempotency_purge"), &[&micros(before), &limit])
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        if !self.open {
            return Ok(());
        }
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Other("the transaction has ended".into()))?;
        self.open = false;
        let commit = move || {
            let done = exec_cached(&conn, "COMMIT");
            if done.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            done
        };
        // The one call that waits on the disk: on a lane's own thread, a call like the
        // statements (nothing else runs there); elsewhere off the runtime's threads, where
        // it would hold up other tasks. Should this future be dropped meanwhile, the commit
        // still completes (or fails and rolls back) before the connection is free for the
        // next transaction.
        let done = if crate::lane::on_lane_thread() {
            commit()
        } else {
            tokio::task::spawn_blocking(commit)
                .await
                .map_err(|e| StoreError::Other(format!("commit: {e}")))?
        };
        done.map_err(error)
    }

    async fn rollback(mut self) -> Result<(), StoreError> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        let conn = self
            .conn
            .as_deref()
            .ok_or_else(|| StoreError::Other("the transaction has ended".into()))?;
        conn.execute_batch("ROLLBACK").map_err(error)
    }
}
