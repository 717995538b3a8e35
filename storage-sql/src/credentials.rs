//! [`Credentials`] shared: each method one statement, writes on the dialect's writer.
//! Revoking a key is the stores' own: it must judge concurrent revocations in turn.
//!
//! [`Credentials`]: marketplace_core::store::Credentials

use marketplace_core::store::{ApiKey, CustodialKey, Login};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use sqlx::Database;

use crate::codec::micros;
use crate::rows::{self, SqlRow};
use crate::{shared, sql};

shared! {
    impl Dialect {
        async fn written(
            &self,
            query: sqlx::query::Query<'_, D::Db, <D::Db as Database>::Arguments>,
        ) -> Result<u64, StoreError> {
            let done = query
                .execute(&mut *self.0.writer().await?)
                .await
                .map_err(D::error)?;
            Ok(D::rows_affected(&done))
        }

        /// [`Credentials::add_api_key`](marketplace_core::store::Credentials::add_api_key).
        pub async fn add_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
            let query = sqlx::query(sql!("api_key_add"))
                .bind(key.hash.as_str())
                .bind(key.prefix.as_str())
                .bind(key.identity.as_str())
                .bind(micros(key.created_at))
                .bind(key.revoked_at.map(micros));
            Ok(self.written(query).await? == 1)
        }

        /// [`Credentials::api_key`](marketplace_core::store::Credentials::api_key).
        pub async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
            let mut b = sqlx::QueryBuilder::<D::Db>::new(sql!("api_key_columns"));
            b.push(" WHERE hash = ").push_bind(hash);
            self.first(b.build(), rows::api_key).await
        }

        /// [`Credentials::api_keys`](marketplace_core::store::Credentials::api_keys).
        pub async fn api_keys(&self, identity: &IdentityId) -> Result<Vec<ApiKey>, StoreError> {
            let mut b = sqlx::QueryBuilder::<D::Db>::new(sql!("api_key_columns"));
            b.push(" WHERE identity = ")
                .push_bind(identity.as_str())
                .push(" ORDER BY created_at, prefix");
            self.all(b.build(), rows::api_key).await
        }

        /// [`Credentials::add_login`](marketplace_core::store::Credentials::add_login).
        pub async fn add_login(&self, login: &Login) -> Result<bool, StoreError> {
            let query = sqlx::query(sql!("login_add"))
                .bind(login.email.as_str())
                .bind(login.password_hash.as_str())
                .bind(login.identity.as_str())
                .bind(micros(login.created_at));
            Ok(self.written(query).await? == 1)
        }

        /// [`Credentials::login`](marketplace_core::store::Credentials::login).
        pub async fn login(&self, email: &str) -> Result<Option<Login>, StoreError> {
            self.first(sqlx::query(sql!("login_by_email")).bind(email), rows::login).await
        }

        /// [`Credentials::add_custodial_key`](marketplace_core::store::Credentials::add_custodial_key).
        pub async fn add_custodial_key(&self, key: &CustodialKey) -> Result<bool, StoreError> {
            let query = sqlx::query(sql!("custodial_key_add"))
                .bind(key.identity.as_str())
                .bind(key.public_key.as_str())
                .bind(key.sealed_secret.as_str())
                .bind(micros(key.created_at));
            Ok(self.written(query).await? == 1)
        }

        /// [`Credentials::custodial_key`](marketplace_core::store::Credentials::custodial_key).
        pub async fn custodial_key(
            &self,
            identity: &IdentityId,
        ) -> Result<Option<CustodialKey>, StoreError> {
            self.first(sqlx::query(sql!("custodial_key_by_identity")).bind(identity.as_str()), rows::custodial_key).await
        }

        /// [`Credentials::remember_nonce`](marketplace_core::store::Credentials::remember_nonce):
        /// forgets nonces past their time, then keeps this one unless it is known.
        pub async fn remember_nonce(
            &self,
            identity: &IdentityId,
            nonce: &str,
            until: Timestamp,
            now: Timestamp,
        ) -> Result<bool, StoreError> {
            self.written(sqlx::query(sql!("nonces_forget")).bind(micros(now)))
                .await?;
            let query = sqlx::query(sql!("nonce_add"))
                .bind(identity.as_str())
                .bind(nonce)
                .bind(micros(until));
            Ok(self.written(query).await? == 1)
        }

        /// [`Credentials::setting_or_insert`](marketplace_core::store::Credentials::setting_or_insert).
        pub async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
            let row = sqlx::query(sql!("setting_or_insert"))
                .bind(name)
                .bind(value)
                .fetch_one(&mut *self.0.writer().await?)
                .await
                .map_err(D::error)?;
            Ok(row.text("value")?.to_owned())
        }
    }
}
