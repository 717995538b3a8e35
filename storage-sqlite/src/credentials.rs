//! Credentials and settings on SQLite: the shared statements (`storage_sql`), writes on the
//! writer connection, reads on the pool.

use async_trait::async_trait;
use marketplace_core::store::{ApiKey, Credentials, CustodialKey, Login};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use storage_sql::Sql;

use crate::SqliteStore;
use crate::codec::{db, micros};
use storage_sql::sql;

#[async_trait]
impl Credentials for SqliteStore {
    async fn add_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        Sql(self).add_api_key(key).await
    }

    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        Sql(self).api_key(hash).await
    }

    async fn api_keys(&self, identity: &IdentityId) -> Result<Vec<ApiKey>, StoreError> {
        Sql(self).api_keys(identity).await
    }

    async fn revoke_api_keys(
        &self,
        identity: &IdentityId,
        prefix: &str,
        at: Timestamp,
        keep_access: bool,
    ) -> Result<Option<u64>, StoreError> {
        // One statement on the one writer: concurrent revocations are judged in turn.
        let done = sqlx::query(sql!("api_key_revoke"))
            .bind(micros(at))
            .bind(identity.as_str())
            .bind(prefix)
            .bind(keep_access)
            .bind(identity.as_str())
            .bind(prefix)
            .bind(identity.as_str())
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() > 0 || !keep_access {
            return Ok(Some(done.rows_affected()));
        }
        // Nothing revoked: no such live key, or the last one, kept.
        let (named,): (i64,) = sqlx::query_as(sql!("api_key_live_count"))
            .bind(identity.as_str())
            .bind(prefix)
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        Ok(if named > 0 { None } else { Some(0) })
    }

    async fn add_login(&self, login: &Login) -> Result<bool, StoreError> {
        Sql(self).add_login(login).await
    }

    async fn login(&self, email: &str) -> Result<Option<Login>, StoreError> {
        Sql(self).login(email).await
    }

    async fn add_custodial_key(&self, key: &CustodialKey) -> Result<bool, StoreError> {
        Sql(self).add_custodial_key(key).await
    }

    async fn custodial_key(
        &self,
        identity: &IdentityId,
    ) -> Result<Option<CustodialKey>, StoreError> {
        Sql(self).custodial_key(identity).await
    }

    async fn remember_nonce(
        &self,
        identity: &IdentityId,
        nonce: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        Sql(self).remember_nonce(identity, nonce, until, now).await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        Sql(self).setting_or_insert(name, value).await
    }
}
