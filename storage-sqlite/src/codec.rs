//! SQLite specifics: error mapping and the FTS5 query syntax. Record encoding is shared
//! (`storage_sql::codec`).

use marketplace_core::StoreError;
use sqlx::Sqlite;
use sqlx::sqlite::SqliteQueryResult;
use storage_sql::Statements;
pub(crate) use storage_sql::codec::{decimal, from_json, json, leased, micros, uuid};
use storage_sql::sql;

/// Maps a driver error: lost races (busy, locked) are conflicts the engine retries.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(db)`
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d)
            if d.code()
                .is_some_and(|c| c == "5" || c == "6" || c.starts_with("517")) =>
        {
            StoreError::Conflict(e.to_string())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// An FTS5 query matching every word of `text` as a prefix, or `None` without words.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words = storage_sql::codec::search_words(text);
    let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// What this database says its own way (see [`storage_sql::Statements`]): the store takes
/// them over, and a transaction names this type without naming the store.
#[derive(Debug, Clone, Copy)]
pub struct SqliteSyntax;

impl Statements for SqliteSyntax {
    type Db = Sqlite;
    type Key = String;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const POST_INDEXED: &'static str = sql!("post_indexed");
    const BLOB_REFERENCED: &'static str = sql!("blob_referenced");
    const QUEUED_FILTER: [&'static str; 2] = [
        " AND t.status IN ('claimed', 'delivered') AND EXISTS (SELECT 1 FROM \
         json_each(t.body, '$.queue') AS q WHERE json_extract(q.value, '$.agent') = ",
        ")",
    ];
    const DELIVERER_FILTER: [&'static str; 2] =
        [" AND json_extract(t.body, '$.delivery.agent') = ", ""];

    fn key(id: uuid::Uuid) -> String {
        id.to_string()
    }

    fn error(e: sqlx::Error) -> StoreError {
        db(e)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}
