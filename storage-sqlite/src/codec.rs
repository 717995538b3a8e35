//! SQLite specifics: error mapping and the FTS5 query syntax. Record encoding is shared
//! (`storage_sql::codec`).

use marketplace_core::StoreError;
pub(crate) use storage_sql::codec::{decimal, from_json, json, leased, micros, uuid};

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
