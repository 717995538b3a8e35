//! # storage-sql
//!
//! What the marketplace's two SQL stores (`storage-sqlite`, `storage-postgres`) share, as
//! `apalis-sql` serves its backends: the record codec, row decoding, the read side of
//! [`Store`], [`Credentials`] and [`Deliveries`], written once and generic over the
//! [`sqlx::Database`] of a store.
//!
//! A store names what truly differs in a small [`Dialect`]: how it binds a task id, where
//! its writes go (SQLite's one writer connection, a PostgreSQL pool), how a write
//! transaction begins and how driver errors map to [`StoreError`]. What differs by more
//! than a word (the command transaction and its batched write, search syntax, the outbox
//! and delivery leases, exact sums) stays in the store, with its migrations.
//!
//! Statements are `.sql` files under `sql/`, embedded at compile time. They are written in
//! the SQL both databases accept (`$n` parameters, `ON CONFLICT`, `CAST(.. AS TEXT)` for
//! money), so one text serves both.
//!
//! ## Module map
//! - [`codec`]: records as JSON bodies, times as microseconds, exact decimals, the hot rows
//!   of a command ([`codec::Batch`]) and delivery rows.
//! - [`rows`]: typed records from result rows ([`rows::SqlRow`]).
//! - `reads`, `credentials`, `deliveries`: the shared methods of [`Sql`], one file each.
//!
//! ```ignore
//! // In a store: the shared code does the work, the store names its dialect.
//! async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
//!     Sql(self).task(id).await
//! }
//! ```
//!
//! [`Store`]: marketplace_core::Store
//! [`Credentials`]: marketplace_core::store::Credentials
//! [`Deliveries`]: marketplace_core::store::Deliveries

pub mod codec;
mod credentials;
mod deliveries;
mod reads;
pub use reads::{SCAN_ROWS_MAX, push_search_tail};
pub mod rows;

use std::future::Future;

use marketplace_core::{Store, StoreError, TaskId};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Encode, Pool, Type};

/// A statement from `sql/NAME.sql`, embedded at compile time.
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/", $name, ".sql"))
    };
}
pub(crate) use sql;

/// The `impl` block of [`Sql`] that holds shared methods, with the bounds they need: the
/// driver's connections as executors, and its text and integer types in both directions.
macro_rules! shared {
    ($($methods:tt)*) => {
        impl<D: $crate::Dialect> $crate::Sql<'_, D>
        where
            for<'c> &'c mut <D::Db as sqlx::Database>::Connection:
                sqlx::Executor<'c, Database = D::Db>,
            <D::Db as sqlx::Database>::Row: $crate::rows::SqlRow,
            for<'q> String: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
            for<'q> &'q str: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
            for<'q> i64: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
            for<'q> Option<i64>: sqlx::Encode<'q, D::Db>,
            for<'q> Option<&'q str>: sqlx::Encode<'q, D::Db>,
            for<'r> i64: sqlx::Decode<'r, D::Db>,
            <D::Db as sqlx::Database>::Arguments: sqlx::IntoArguments<D::Db>,
        {
            $($methods)*
        }
    };
}
pub(crate) use shared;

/// What a store's database does its own way. Everything else in [`Sql`] is shared.
pub trait Dialect: Store + Send + Sync + 'static {
    /// The sqlx driver.
    type Db: Database;
    /// A task id as this database stores it (text, or a native UUID).
    type TaskKey: for<'q> Encode<'q, Self::Db> + Type<Self::Db> + Send + 'static;
    /// The statement that opens a write transaction (SQLite takes the write lock at once
    /// with `BEGIN IMMEDIATE`).
    const BEGIN_WRITE: &'static str;

    /// `id` as a bind parameter.
    fn task_key(id: TaskId) -> Self::TaskKey;
    /// Connections for reads.
    fn reader(&self) -> &Pool<Self::Db>;
    /// A connection for one write (SQLite: its one writer, so writes are serialized).
    fn writer(&self) -> impl Future<Output = Result<PoolConnection<Self::Db>, StoreError>> + Send;
    /// A driver error as the engine sees it: lost races are conflicts it retries.
    fn error(e: sqlx::Error) -> StoreError;
    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;
}

/// The shared implementation, over a store of dialect `D`: its methods are the store's
/// trait methods of the same names.
#[derive(Debug, Clone, Copy)]
pub struct Sql<'a, D>(pub &'a D);

/// `n` as an SQL integer (saturating: no store holds `i64::MAX` of anything).
pub fn int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}
