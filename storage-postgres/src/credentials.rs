//! Credentials and settings on PostgreSQL: each method one statement.

use async_trait::async_trait;
use marketplace_core::store::{ApiKey, Credentials, CustodialKey, Login};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::PgStore;
use crate::codec::{db, micros, time};

fn identity(row: &PgRow) -> Result<IdentityId, StoreError> {
    IdentityId::parse(row.get::<&str, _>("identity"))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn api_key_from(row: &PgRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        hash: row.get("hash"),
        prefix: row.get("prefix"),
        identity: identity(row)?,
        created_at: time(row.get("created_at"))?,
        revoked_at: row
            .get::<Option<i64>, _>("revoked_at")
            .map(time)
            .transpose()?,
    })
}

const API_KEY_COLUMNS: &str = "SELECT hash, prefix, identity, created_at, revoked_at FROM api_keys";

#[async_trait]
impl Credentials for PgStore {
    async fn add_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO api_keys (hash, prefix, identity, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&key.hash)
        .bind(&key.prefix)
        .bind(key.identity.as_str())
        .bind(micros(key.created_at))
        .bind(key.revoked_at.map(micros))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{API_KEY_COLUMNS} WHERE hash = $1"
        )))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(api_key_from).transpose()
    }

    async fn api_keys(&self, identity: &IdentityId) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{API_KEY_COLUMNS} WHERE identity = $1 ORDER BY created_at, prefix"
        )))
        .bind(identity.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(api_key_from).collect()
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
        let live: Vec<(String,)> = sqlx::query_as(
            "SELECT prefix FROM api_keys WHERE identity = $1 AND revoked_at IS NULL FOR UPDATE",
        )
        .bind(identity.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let named = live.iter().any(|(p,)| p == prefix);
        let spare = live.iter().any(|(p,)| p != prefix);
        if keep_access && named && !spare {
            let (login,): (bool,) =
                sqlx::query_as("SELECT EXISTS (SELECT 1 FROM logins WHERE identity = $1)")
                    .bind(identity.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            if !login {
                tx.rollback().await.map_err(db)?;
                return Ok(None);
            }
        }
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE identity = $2 AND prefix = $3 AND revoked_at IS NULL",
        )
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
        let done = sqlx::query(
            "INSERT INTO logins (email, password_hash, identity, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&login.email)
        .bind(&login.password_hash)
        .bind(login.identity.as_str())
        .bind(micros(login.created_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn login(&self, email: &str) -> Result<Option<Login>, StoreError> {
        let row = sqlx::query(
            "SELECT email, password_hash, identity, created_at FROM logins WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(Login {
                email: r.get("email"),
                password_hash: r.get("password_hash"),
                identity: identity(&r)?,
                created_at: time(r.get("created_at"))?,
            })
        })
        .transpose()
    }

    async fn add_custodial_key(&self, key: &CustodialKey) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO custodial_keys (identity, public_key, sealed_secret, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (identity) DO NOTHING",
        )
        .bind(key.identity.as_str())
        .bind(&key.public_key)
        .bind(&key.sealed_secret)
        .bind(micros(key.created_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn custodial_key(
        &self,
        identity: &IdentityId,
    ) -> Result<Option<CustodialKey>, StoreError> {
        let row = sqlx::query(
            "SELECT identity, public_key, sealed_secret, created_at FROM custodial_keys \
             WHERE identity = $1",
        )
        .bind(identity.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(CustodialKey {
                identity: self::identity(&r)?,
                public_key: r.get("public_key"),
                sealed_secret: r.get("sealed_secret"),
                created_at: time(r.get("created_at"))?,
            })
        })
        .transpose()
    }

    async fn remember_nonce(
        &self,
        identity: &IdentityId,
        nonce: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM nonces WHERE kept_until < $1")
            .bind(micros(now))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        let done = sqlx::query(
            "INSERT INTO nonces (identity, nonce, kept_until) VALUES ($1, $2, $3) \
             ON CONFLICT (identity, nonce) DO NOTHING",
        )
        .bind(identity.as_str())
        .bind(nonce)
        .bind(micros(until))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let row = sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value",
        )
        .bind(name)
        .bind(value)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.get("value"))
    }
}
