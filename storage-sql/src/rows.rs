//! Typed records from result rows. [`SqlRow`] reads text and integers by column name from
//! a row of either database; the decoders below build records from those.

use std::sync::Arc;

use marketplace_core::decide::{Party, View};
use marketplace_core::store::{
    ApiKey, CustodialKey, Delivery, Login, TaskParties, Transaction, WebhookSettings,
};
use marketplace_core::{
    Account, AccountRef, IdentityId, LedgerEntry, StoreError, Task, TaskId, TxType,
};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::codec::{DeliveryRow, decimal, from_json, time, uuid};

/// The columns the shared code reads: text and integers (of any width: PostgreSQL's
/// `INTEGER` columns widen to `i64`). A missing column or another type is corrupt data.
pub trait SqlRow {
    /// A text column.
    fn text(&self, column: &str) -> Result<&str, StoreError>;
    /// A text column that may be `NULL`.
    fn text_opt(&self, column: &str) -> Result<Option<&str>, StoreError>;
    /// An integer column that may be `NULL`.
    fn int_opt(&self, column: &str) -> Result<Option<i64>, StoreError>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.int_opt(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }
}

fn corrupt(column: &str, e: &sqlx::Error) -> StoreError {
    StoreError::Corrupt(format!("{column}: {e}"))
}

impl<R> SqlRow for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<&str, StoreError> {
        self.try_get(column).map_err(|e| corrupt(column, &e))
    }

    fn text_opt(&self, column: &str) -> Result<Option<&str>, StoreError> {
        self.try_get(column).map_err(|e| corrupt(column, &e))
    }

    fn int_opt(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.try_get::<Option<i64>, _>(column) {
            Ok(n) => Ok(n),
            Err(sqlx::Error::ColumnDecode { .. }) => self
                .try_get::<Option<i32>, _>(column)
                .map(|n| n.map(i64::from))
                .map_err(|e| corrupt(column, &e)),
            Err(e) => Err(corrupt(column, &e)),
        }
    }
}

/// The identity in column `column`.
pub fn identity(row: &impl SqlRow, column: &str) -> Result<IdentityId, StoreError> {
    IdentityId::parse(row.text(column)?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A body column's record.
pub fn body<T: serde::de::DeserializeOwned>(row: &impl SqlRow) -> Result<T, StoreError> {
    from_json(row.text("body")?)
}

/// An account from `identity`, `balance`, `escrowed`, `credit_limit` (exact decimal text)
/// and `created_at`.
pub fn account(row: &impl SqlRow) -> Result<Account, StoreError> {
    Ok(Account {
        identity: identity(row, "identity")?,
        balance: decimal(row.text("balance")?)?,
        escrowed: decimal(row.text("escrowed")?)?,
        credit_limit: decimal(row.text("credit_limit")?)?,
        created_at: time(row.int("created_at")?)?,
    })
}

/// A party: an account's columns and the reputation's `body`, as the party loads select
/// them.
pub fn party(row: &impl SqlRow) -> Result<Party, StoreError> {
    Ok(Party {
        account: account(row)?,
        reputation: from_json(row.text("body")?)?,
    })
}

/// The parties `rows` answered for `ids`, in the order of `ids`: `None` for one no row
/// answered.
pub fn parties_of<R: SqlRow>(
    ids: &[IdentityId],
    rows: &[R],
) -> Result<Vec<Option<Party>>, StoreError> {
    let mut found = rows.iter().map(party).collect::<Result<Vec<Party>, _>>()?;
    Ok(ids
        .iter()
        .map(|id| {
            let at = found.iter().position(|p| &p.account.identity == id)?;
            Some(found.swap_remove(at))
        })
        .collect())
}

/// Puts the answer of a load of task `id` with its parties into `view`: the task's row
/// (its `identity` `NULL`, its `body`) and a row per party found. An identity `want` names
/// that no row answered — most likely unknown, but perhaps one a task's stored `parties`
/// failed to name — is asked for by id, through `tx`, rather than assumed unknown.
pub async fn task_with_parties<R: SqlRow>(
    tx: &mut impl Transaction,
    rows: &[R],
    id: TaskId,
    want: &TaskParties<'_>,
    view: &mut View,
) -> Result<(), StoreError> {
    let mut task = None;
    let mut found = Vec::with_capacity(rows.len());
    for r in rows {
        if r.text_opt("identity")?.is_none() {
            task = Some(Arc::new(from_json::<Task>(r.text("body")?)?));
        } else {
            found.push(party(r)?);
        }
    }
    let mut missing = Vec::new();
    for who in want.of(task.as_deref()) {
        match found.iter().position(|p| p.account.identity == who) {
            Some(at) => view.parties.insert(who, Some(found.swap_remove(at))),
            None => missing.push(who),
        }
    }
    view.tasks.insert(id, task);
    if !missing.is_empty() {
        let again = tx.parties(&missing).await?;
        for (who, party) in missing.into_iter().zip(again) {
            view.parties.insert(who, party);
        }
    }
    Ok(())
}

/// A ledger line, as `sql/ledger_columns.sql` selects it.
pub fn ledger_entry(row: &impl SqlRow) -> Result<LedgerEntry, StoreError> {
    let account = AccountRef::try_from(row.text("account")?.to_owned())
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let tx_type =
        TxType::parse(row.text("tx_type")?).ok_or_else(|| StoreError::Corrupt("tx_type".into()))?;
    Ok(LedgerEntry {
        seq: u64::try_from(row.int("seq")?).unwrap_or(0),
        account,
        tx_type,
        amount: decimal(row.text("amount")?)?,
        escrow: decimal(row.text("escrow")?)?,
        fee: decimal(row.text("fee")?)?,
        task_id: row.text_opt("task_id")?.map(uuid).transpose()?.map(TaskId),
        memo: std::borrow::Cow::Owned(row.text("memo")?.to_owned()),
        created_at: time(row.int("created_at")?)?,
    })
}

/// An API key's row.
pub fn api_key(row: &impl SqlRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        hash: row.text("hash")?.to_owned(),
        prefix: row.text("prefix")?.to_owned(),
        identity: identity(row, "identity")?,
        created_at: time(row.int("created_at")?)?,
        revoked_at: row.int_opt("revoked_at")?.map(time).transpose()?,
    })
}

/// A login's row.
pub fn login(row: &impl SqlRow) -> Result<Login, StoreError> {
    Ok(Login {
        email: row.text("email")?.to_owned(),
        password_hash: row.text("password_hash")?.to_owned(),
        identity: identity(row, "identity")?,
        created_at: time(row.int("created_at")?)?,
    })
}

/// A custodial key's row.
pub fn custodial_key(row: &impl SqlRow) -> Result<CustodialKey, StoreError> {
    Ok(CustodialKey {
        identity: identity(row, "identity")?,
        public_key: row.text("public_key")?.to_owned(),
        sealed_secret: row.text("sealed_secret")?.to_owned(),
        created_at: time(row.int("created_at")?)?,
    })
}

/// Webhook settings' row.
pub fn webhook(row: &impl SqlRow) -> Result<WebhookSettings, StoreError> {
    Ok(WebhookSettings {
        identity: identity(row, "identity")?,
        sealed_secret: row.text("sealed_secret")?.to_owned(),
        events: from_json(row.text("events")?)?,
        updated_at: time(row.int("updated_at")?)?,
    })
}

/// A delivery's row.
pub fn delivery(row: &impl SqlRow) -> Result<Delivery, StoreError> {
    DeliveryRow {
        id: row.int("id")?,
        event_seq: row.int("event_seq")?,
        recipient: row.text("recipient")?,
        channel: row.text("channel")?,
        event: row.text("event")?,
        body: row.text("body")?,
        created_at: row.int("created_at")?,
        status: row.text("status")?,
        attempts: row.int("attempts")?,
        available_at: row.int("available_at")?,
        finished_at: row.int_opt("finished_at")?,
    }
    .decode()
}
