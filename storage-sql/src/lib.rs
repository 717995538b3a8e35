//! # storage-sql
//!
//! What the marketplace's two SQL stores (`storage-sqlite`, `storage-postgres`) share, as
//! `apalis-sql` serves its backends: the record codec, row decoding, the read side of
//! [`Store`], [`Credentials`] and [`Deliveries`], written once and generic over the
//! [`sqlx::Database`] of a store.
//!
//! A store names what truly differs in two small traits: [`Statements`] (how it binds a
//! record id, how a write transaction begins, two statements, how driver errors map to
//! [`StoreError`]), on a type of its own that its transaction can name, and [`Dialect`]
//! (where its reads and writes go: SQLite's one writer connection, a PostgreSQL pool).
//! What differs by more than a word (the command transaction and its batched write, search
//! syntax, the outbox and delivery leases, exact sums) stays in the store, with its
//! migrations.
//!
//! Statements are `.sql` files under `sql/`, embedded at compile time. They are written in
//! the SQL both databases accept (`$n` parameters, `ON CONFLICT`, `CAST(.. AS TEXT)` for
//! money), so one text serves both.
//!
//! ## Module map
//! - `dialect`: [`Statements`], [`Dialect`] and [`Sql`], below every other module.
//! - [`codec`]: records as JSON bodies, times as microseconds, exact decimals, the hot rows
//!   of a command ([`codec::Batch`]) and delivery rows.
//! - [`rows`]: typed records from result rows ([`rows::SqlRow`]).
//! - [`texts`]: the shared statements of a command's transaction, by name.
//! - `reads`, `writes`, `loads`, `credentials`, `deliveries`: the shared methods of [`Sql`],
//!   one file each (`writes`: the records a command writes beside its hot rows; `loads`:
//!   what a command's transaction reads and writes on its own connection).
//!
//! ```text
//! // In a store: the shared code does the work, the store names its dialect.
//! async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
//!     Sql(self).task(id).await
//! }
//! ```
//!
//! [`Store`]: marketplace_core::Store
//! [`Credentials`]: marketplace_core::store::Credentials
//! [`Deliveries`]: marketplace_core::store::Deliveries
//! [`StoreError`]: marketplace_core::StoreError

pub mod codec;
mod credentials;
mod deliveries;
mod dialect;
mod loads;
mod reads;
mod writes;
pub use dialect::{Dialect, Sql, Statements, int};
pub use reads::{SCAN_ROWS_MAX, push_search_tail};
pub use writes::has_records;
pub mod rows;
pub mod texts;

/// A statement from `sql/NAME.sql` of the crate that names it, embedded at compile time
/// (each store keeps its own statements in its own `sql/` directory this way).
///
/// ```text
/// let due = storage_sql::sql!("due_tasks"); // this crate's sql/due_tasks.sql
/// ```
#[macro_export]
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/", $name, ".sql"))
    };
}

/// The `impl` block of [`Sql`] that holds shared methods, with the bounds they need: the
/// driver's connections as executors, and its text and integer types in both directions.
macro_rules! shared {
    (impl $bound:ident { $($methods:tt)* }) => {
        impl<D: $crate::dialect::$bound> $crate::dialect::Sql<'_, D>
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
