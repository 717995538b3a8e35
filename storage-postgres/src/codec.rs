//! PostgreSQL specifics: error mapping and the `tsquery` syntax. Record encoding is shared
//! (`storage_sql::codec`).

use marketplace_core::StoreError;
use sqlx::Postgres;
use sqlx::postgres::PgQueryResult;
use storage_sql::Statements;
pub(crate) use storage_sql::codec::{decimal, from_json, json, leased, micros};
use storage_sql::sql;

/// Maps a driver error: serialization failures, deadlocks, lock timeouts and unique
/// violations (two transactions inserting the same key) are lost races the engine retries.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(db)`
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d)
            if d.code()
                .is_some_and(|c| matches!(c.as_ref(), "40001" | "40P01" | "55P03" | "23505")) =>
        {
            StoreError::Conflict(e.to_string())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// A `tsquery` matching every word of `text` as a prefix, or `None` without words.
pub(crate) fn ts_query(text: &str) -> Option<String> {
    let words = storage_sql::codec::search_words(text);
    let terms: Vec<String> = words.iter().map(|w| format!("{w}:*")).collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

/// What this database says its own way (see [`storage_sql::Statements`]): the store takes
/// them over, and a transaction names this type without naming the store.
#[derive(Debug, Clone, Copy)]
pub struct PgSyntax;

impl Statements for PgSyntax {
    type Db = Postgres;
    type Key = uuid::Uuid;
    const BEGIN_WRITE: &'static str = "BEGIN";
    const POST_INDEXED: &'static str = sql!("post_indexed");
    const BLOB_REFERENCED: &'static str = sql!("blob_referenced");
    const QUEUED_FILTER: [&'static str; 2] = [
        " AND t.status IN ('claimed', 'delivered') AND (t.body::jsonb -> 'queue') @> \
         jsonb_build_array(jsonb_build_object('agent', ",
        "::text))",
    ];
    const DELIVERER_FILTER: [&'static str; 2] =
        [" AND (t.body::jsonb -> 'delivery' ->> 'agent') = ", ""];

    fn key(id: uuid::Uuid) -> uuid::Uuid {
        id
    }

    fn error(e: sqlx::Error) -> StoreError {
        db(e)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }
}
