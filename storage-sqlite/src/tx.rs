//! The write transaction through the driver: `BEGIN IMMEDIATE` on the single writer
//! connection, so a command holds SQLite's write lock from its first read to its commit.
//! (The store's default runs its transactions inline instead: `inline`.)
//!
//! Every query is a hand-off to the connection's thread and back, which costs more than
//! most of the statements. A command's usual course (its loads, its write, its commit)
//! therefore saves two: `BEGIN IMMEDIATE` goes in front of the first load, and the write of
//! the hot tables is held back and goes with `COMMIT`, each as one query of several
//! statements. In a batch (group commit) a held-back write goes with the next command's
//! first load instead, so that the load reads it.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use marketplace_core::decide::{Changes, Party, View};
use marketplace_core::store::{IdempotencyRecord, StoreError, TaskParties, Transaction};
use marketplace_core::*;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row, Sqlite};
use storage_sql::codec::Batch;

use crate::codec::{db, from_json, json, micros};
use crate::writer::Writer;
use storage_sql::Sql;
use storage_sql::sql;

/// The statements both stores share, in this store's syntax.
type Shared<'a> = Sql<'a, crate::codec::SqliteSyntax>;

/// The statements writing each hot table of a command, from the arrays of [`Batch`], in
/// the order they run: tasks (the search index and tags first, while `tasks` still tells
/// new tasks from known ones; the array bound three times), accounts, reputations, ledger
/// lines, events. Parameters are positional, bound in order across the statements.
const WRITE_PARTS: [(&str, usize); 5] = [
    (sql!("write_tasks"), 3),
    (sql!("write_accounts"), 1),
    (sql!("write_reputations"), 1),
    (sql!("write_ledger"), 1),
    (sql!("write_events"), 1),
];

/// The statements writing the tables `batch` has rows for, and only those: a claim writes
/// a task, a reputation and an event, not five tables. One text per set of tables, made
/// once (so the driver's statement cache sees the same texts again).
fn write_sql(batch: &Batch) -> &'static str {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (0..1usize << WRITE_PARTS.len())
            .map(|set| {
                WRITE_PARTS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| set & (1 << i) != 0)
                    .map(|(_, (sql, _))| *sql)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    });
    &texts[batch.table_set()]
}

/// The rules naming any tag of a JSON array (one parameter), oldest first. A macro, like
/// the next, so that `rules_and_party` can join the two at compile time.
macro_rules! rules_matching {
    () => {
        sql!("rules_matching")
    };
}

/// The parties of the identities of a JSON array (one parameter), in no order.
macro_rules! parties {
    () => {
        sql!("parties")
    };
}

/// A write transaction through the driver (`BEGIN IMMEDIATE` on the one writer
/// connection). Dropping it without committing rolls it back: the connection is closed
/// rather than returned to the pool, which ends the transaction and frees the write lock.
pub(crate) struct DriverTx {
    /// The writer connection, taken only when the transaction is dropped.
    conn: Option<PoolConnection<Sqlite>>,
    writer: Arc<Writer>,
    /// Whether the connection is inside the transaction, or waiting for its end: from the
    /// moment `BEGIN IMMEDIATE` goes out until `COMMIT` or `ROLLBACK` is done.
    open: bool,
    /// The hot tables' rows, held back to be written with `COMMIT`.
    pending: Option<Batch>,
}

impl Drop for DriverTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.open {
            conn.close_on_drop();
        } else {
            self.writer.put(conn);
        }
    }
}

impl DriverTx {
    pub(crate) fn new(conn: PoolConnection<Sqlite>, writer: Arc<Writer>) -> Self {
        Self {
            conn: Some(conn),
            writer,
            open: false,
            pending: None,
        }
    }

    /// The connection, as it is: inside the transaction or not.
    fn link(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a transaction's connection is taken only when it is dropped")
    }

    /// `sql` to run inside the transaction, as one query: with `BEGIN IMMEDIATE` in front
    /// if nothing has been sent yet, and a write held back in front of that (a batch of
    /// commands in one transaction: the next command reads what the one before wrote). The
    /// held-back write's arguments are bound; positional parameters of `sql` follow them.
    fn statement(&mut self, sql: &'static str) -> Query<'static> {
        let begin = if self.open {
            ""
        } else {
            self.open = true;
            "BEGIN IMMEDIATE; "
        };
        let write = self.pending.take();
        let text = if begin.is_empty() && write.is_none() {
            Cow::Borrowed(sql)
        } else {
            let held = write.as_ref().map_or("", write_sql);
            Cow::Owned(format!("{begin}{held} {sql}").trim_end().to_owned())
        };
        let query = sqlx::query(AssertSqlSafe(text));
        match write {
            Some(batch) => bind_batch(query, batch),
            None => query,
        }
    }

    /// The connection, inside the transaction, with nothing held back: sends `BEGIN
    /// IMMEDIATE` and a held-back write first, if there are any.
    async fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        if !self.open || self.pending.is_some() {
            let flush = self.statement("");
            flush.execute(self.link()).await.map_err(db)?;
        }
        Ok(self.link())
    }

    /// Ends the transaction: `COMMIT`, after the held-back write, or `ROLLBACK`. A
    /// transaction that sent nothing has nothing to end.
    async fn finish(&mut self, commit: bool) -> Result<(), StoreError> {
        let write = self.pending.take().filter(|_| commit);
        let done = match (write, commit) {
            (Some(batch), _) => {
                let begin = if self.open { "" } else { "BEGIN IMMEDIATE; " };
                let sql = format!("{begin}{} COMMIT;", write_sql(&batch));
                self.open = true;
                bind_batch(sqlx::query(AssertSqlSafe(sql)), batch)
                    .execute(self.link())
                    .await
            }
            (None, _) if !self.open => return Ok(()),
            (None, true) => sqlx::raw_sql("COMMIT").execute(self.link()).await,
            (None, false) => sqlx::raw_sql("ROLLBACK").execute(self.link()).await,
        };
        match done {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(e) => {
                // A statement before `COMMIT` failed: the transaction is still open. End it
                // here, and keep the connection if that works.
                if sqlx::raw_sql("ROLLBACK").execute(self.link()).await.is_ok() {
                    self.open = false;
                }
                Err(db(e))
            }
        }
    }
}

/// A query of this store.
type Query<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds a batch's arrays to the parameters of [`write_sql`]'s statements for it, in
/// their order.
fn bind_batch(query: Query<'_>, batch: Batch) -> Query<'_> {
    let writes = batch.writes();
    let arrays = [
        batch.tasks,
        batch.accounts,
        batch.reputations,
        batch.ledger,
        batch.events,
    ];
    arrays
        .into_iter()
        .zip(writes)
        .zip(WRITE_PARTS)
        .filter(|((_, writes), _)| *writes)
        .fold(query, |query, ((array, _), (_, binds))| {
            (1..binds)
                .fold(query, |q, _| q.bind(array.clone()))
                .bind(array)
        })
}

impl Transaction for DriverTx {
    async fn task(&mut self, id: TaskId) -> Result<Option<Arc<Task>>, StoreError> {
        let row = self
            .statement(sql!("task"))
            .bind(id.to_string())
            .fetch_optional(self.link())
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
        let rows = self
            .statement(parties!())
            .bind(json(
                &ids.iter().map(IdentityId::as_str).collect::<Vec<_>>(),
            )?)
            .fetch_all(self.link())
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
        // Positional parameters, in the order they appear (a held-back write's go first).
        let (task, actor) = (id.to_string(), want.actor.map(IdentityId::as_str));
        let rows = self
            .statement(sql!("task_with_parties"))
            .bind(task.clone())
            .bind(actor)
            .bind(actor)
            .bind(task.clone())
            .bind(want.poster)
            .bind(micros(want.now))
            .bind(task)
            .fetch_all(self.link())
            .await
            .map_err(db)?;
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
        let rows = sqlx::query(rules_matching!())
            .bind(json(&tags)?)
            .fetch_all(self.conn().await?)
            .await
            .map_err(db)?;
        rows.iter().map(|r| from_json(r.get("body"))).collect()
    }

    async fn rules_and_party(
        &mut self,
        tags: &[String],
        actor: &IdentityId,
    ) -> Result<(Vec<AutoClaimRule>, Option<Party>), StoreError> {
        let rows = self
            .statement(concat!(rules_matching!(), "; ", parties!()))
            .bind(json(&tags)?)
            .bind(json(&[actor.as_str()])?)
            .fetch_all(self.link())
            .await
            .map_err(db)?;
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
        Shared::body_in(self.conn().await?, sql!("contract"), id.to_string()).await
    }

    async fn post(&mut self, id: PostId) -> Result<Option<BoardPost>, StoreError> {
        Shared::post_in(self.conn().await?, id).await
    }

    async fn blob(&mut self, hash: &str) -> Result<Option<Blob>, StoreError> {
        Shared::body_in(self.conn().await?, sql!("blob"), hash.to_owned()).await
    }

    async fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(sql!("idempotency_get"))
            .bind(caller.as_str())
            .bind(key)
            .fetch_optional(self.conn().await?)
            .await
            .map_err(db)?;
        row.map(|r| {
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
        rows.iter()
            .map(|r| crate::codec::uuid(r.get("id")).map(TaskId))
            .collect()
    }

    async fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        let batch = Batch::of(&changes)?;
        // The rest goes now, after a write held back from an earlier command of the batch.
        if storage_sql::has_records(&changes) {
            Shared::write_records(self.conn().await?, &changes).await?;
        }
        if !batch.is_empty() {
            if self.pending.is_some() {
                self.conn().await?;
            }
            // Held back, to go with `COMMIT` or with the next command's first load, in one
            // query: the search index and tags first, while `tasks` still tells new tasks
            // from known ones.
            self.pending = Some(batch);
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

    async fn commit(mut self) -> Result<(), StoreError> {
        self.finish(true).await
    }

    async fn rollback(mut self) -> Result<(), StoreError> {
        self.finish(false).await
    }
}
