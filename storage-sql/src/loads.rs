//! What a command's transaction reads and writes on its own connection beside its task,
//! its parties and its batched write, shared: records by key, and idempotency records.
//! A store whose transaction locks a record (PostgreSQL's `FOR UPDATE`) reads it with
//! [`Sql::body_in`](crate::Sql::body_in) and a statement of its own.

use marketplace_core::store::IdempotencyRecord;
use marketplace_core::*;
use serde::de::DeserializeOwned;
use sqlx::{Database, Encode, Type};

use crate::codec::micros;
use crate::rows;
use crate::{shared, texts};

shared! {
    impl Statements {
        /// The record in the `body` column of the row `statement` selects with `$1` =
        /// `key`, read on a transaction's connection `conn`.
        pub async fn body_in<T, K>(
            conn: &mut <D::Db as Database>::Connection,
            statement: &'static str,
            key: K,
        ) -> Result<Option<T>, StoreError>
        where
            T: DeserializeOwned,
            K: for<'q> Encode<'q, D::Db> + Type<D::Db> + Send + 'static,
        {
            let row = sqlx::query(statement)
                .bind(key)
                .fetch_optional(conn)
                .await
                .map_err(D::error)?;
            row.as_ref().map(rows::body).transpose()
        }

        /// [`Transaction::profile`](marketplace_core::Transaction::profile) on `conn`.
        pub async fn profile_in(
            conn: &mut <D::Db as Database>::Connection,
            id: &IdentityId,
        ) -> Result<Option<Profile>, StoreError> {
            Self::body_in(conn, texts::PROFILE_BODY, id.to_string()).await
        }

        /// [`Transaction::rule`](marketplace_core::Transaction::rule) on `conn`.
        pub async fn rule_in(
            conn: &mut <D::Db as Database>::Connection,
            id: RuleId,
        ) -> Result<Option<AutoClaimRule>, StoreError> {
            Self::body_in(conn, texts::RULE_BODY, D::key(id.0)).await
        }

        /// [`Transaction::post`](marketplace_core::Transaction::post) on `conn`.
        pub async fn post_in(
            conn: &mut <D::Db as Database>::Connection,
            id: PostId,
        ) -> Result<Option<BoardPost>, StoreError> {
            Self::body_in(conn, texts::POST_BODY, D::key(id.0)).await
        }

        /// [`Transaction::rules_owned_by`](marketplace_core::Transaction::rules_owned_by)
        /// on `conn`, oldest first.
        pub async fn rules_owned_in(
            conn: &mut <D::Db as Database>::Connection,
            owner: &IdentityId,
        ) -> Result<Vec<AutoClaimRule>, StoreError> {
            let found = sqlx::query(texts::RULES_OWNED)
                .bind(owner.to_string())
                .fetch_all(conn)
                .await
                .map_err(D::error)?;
            found.iter().map(rows::body).collect()
        }

        /// [`Transaction::purge_idempotency`](marketplace_core::Transaction::purge_idempotency)
        /// on `conn`, by the store's own `statement` (`$1` the time before which records
        /// go, `$2` the most to remove): how many it removed.
        pub async fn purge_in(
            conn: &mut <D::Db as Database>::Connection,
            statement: &'static str,
            before: Timestamp,
            limit: usize,
        ) -> Result<usize, StoreError> {
            let done = sqlx::query(statement)
                .bind(micros(before))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .execute(conn)
                .await
                .map_err(D::error)?;
            Ok(usize::try_from(D::rows_affected(&done)).unwrap_or(usize::MAX))
        }

        /// [`Transaction::put_idempotency`](marketplace_core::Transaction::put_idempotency)
        /// on `conn`: the record of its caller's key, inserted or replaced.
        pub async fn put_idempotency_in(
            conn: &mut <D::Db as Database>::Connection,
            r: IdempotencyRecord,
        ) -> Result<(), StoreError> {
            sqlx::query(texts::IDEMPOTENCY_PUT)
                .bind(r.caller.to_string())
                .bind(r.key)
                .bind(r.fingerprint)
                .bind(r.response)
                .bind(micros(r.created_at))
                .bind(r.running_until.map(micros))
                .execute(conn)
                .await
                .map_err(D::error)?;
            Ok(())
        }
    }
}
