//! Credentials and settings on PostgreSQL: the shared statements (`storage_sql`), each one
//! statement on the pool; revoking a key locks the identity's live keys.

use async_trait::async_trait;
use marketplace_core::store::{ApiKey, Credentials, CustodialKey, Login};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use storage_sql::Sql;

use crate::PgStore;
use crate::codec::{db, micros};
use storage_sql::sql;

#[async_trait]
impl Credentials for PgStore {
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        // The identity's live keys, locked: a concurrent revocation waits here, then sees
        // what this one left.
        let live: Vec<(String,)> = sqlx::query_as(sql!("api_keys_live_locked"))
            .bind(identity.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let named = live.iter().any(|(p,)| p == prefix);
        let spare = live.iter().any(|(p,)| p != prefix);
        if keep_access && named && !spare {
            let (login,): (bool,) = sqlx::query_as(sql!("login_exists"))
                .bind(identity.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if !login {
                tx.rollback().await.map_err(db)?;
                return Ok(None);
            }
        }
        let done = sqlx::query(sql!("api_key_revoke"))
            .bind(micros(at))
            .bind(identity.as_str())
            .bind(prefix)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(done.rows_affected()))
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
