//! What a store names about its database ([`Dialect`]), and the handle the shared methods
//! hang on ([`Sql`]).

use std::future::Future;

use marketplace_core::{Store, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Encode, Pool, Type};

/// What a store's database says its own way, known without a store at hand: its driver,
/// how it binds ids, a few statements, its errors. A store names them on a type of its
/// own (a transaction can name that type without naming the store) and takes them over
/// with [`statements_as!`](crate::statements_as).
pub trait Statements: Send + Sync + 'static {
    /// The sqlx driver.
    type Db: Database;
    /// A record id (task, rule, contract, message, post) as this database stores it: text,
    /// or a native UUID.
    type Key: for<'q> Encode<'q, Self::Db> + Type<Self::Db> + Send + 'static;
    /// The statement that opens a write transaction (SQLite takes the write lock at once
    /// with `BEGIN IMMEDIATE`).
    const BEGIN_WRITE: &'static str;
    /// Indexes a board post for search: `$1` its id, `$2` its searchable text.
    const POST_INDEXED: &'static str;
    /// Marks the blob `$1` as named by a delivery (`referenced` in its JSON body).
    const BLOB_REFERENCED: &'static str;
    /// A task filter (tasks aliased `t`) before and after one bound identity: its
    /// waitlist holds it. Only claimed and delivered tasks have a waitlist.
    const QUEUED_FILTER: [&'static str; 2];
    /// A task filter (tasks aliased `t`) before and after one bound identity: its delivery
    /// is that identity's.
    const DELIVERER_FILTER: [&'static str; 2];

    /// A record's id as a bind parameter.
    fn key(id: uuid::Uuid) -> Self::Key;
    /// A driver error as the engine sees it: lost races are conflicts it retries.
    fn error(e: sqlx::Error) -> StoreError;
    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;
}

/// What a store's database does its own way. Everything else in [`Sql`] is shared.
pub trait Dialect: Statements + Store {
    /// Connections for reads.
    fn reader(&self) -> &Pool<Self::Db>;
    /// A connection for one write (SQLite: its one writer, so writes are serialized).
    fn writer(&self) -> impl Future<Output = Result<PoolConnection<Self::Db>, StoreError>> + Send;
}

/// Implements [`Statements`] for a store as another type of the store's states them:
/// `statements_as!(MyStore => MySyntax)`.
#[macro_export]
macro_rules! statements_as {
    ($store:ty => $syntax:ty) => {
        impl $crate::Statements for $store {
            type Db = <$syntax as $crate::Statements>::Db;
            type Key = <$syntax as $crate::Statements>::Key;
            const BEGIN_WRITE: &'static str = <$syntax as $crate::Statements>::BEGIN_WRITE;
            const POST_INDEXED: &'static str = <$syntax as $crate::Statements>::POST_INDEXED;
            const BLOB_REFERENCED: &'static str = <$syntax as $crate::Statements>::BLOB_REFERENCED;
            const QUEUED_FILTER: [&'static str; 2] = <$syntax as $crate::Statements>::QUEUED_FILTER;
            const DELIVERER_FILTER: [&'static str; 2] =
                <$syntax as $crate::Statements>::DELIVERER_FILTER;

            fn key(id: uuid::Uuid) -> Self::Key {
                <$syntax as $crate::Statements>::key(id)
            }

            fn error(e: sqlx::Error) -> marketplace_core::StoreError {
                <$syntax as $crate::Statements>::error(e)
            }

            fn rows_affected(done: &<Self::Db as sqlx::Database>::QueryResult) -> u64 {
                <$syntax as $crate::Statements>::rows_affected(done)
            }
        }
    };
}

/// The shared implementation, over a store of dialect `D`: its methods are the store's
/// trait methods of the same names.
#[derive(Debug, Clone, Copy)]
pub struct Sql<'a, D>(pub &'a D);

/// `n` as an SQL integer (saturating: no store holds `i64::MAX` of anything).
pub fn int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}
