//! Credentials and settings on SQLite: writes on the writer connection, reads on the pool.

use async_trait::async_trait;
use marketplace_core::store::{ApiKey, Credentials, CustodialKey, Login};
use marketplace_core::{IdentityId, StoreError, Timestamp};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::SqliteStore;
use crate::codec::{db, micros, time};

fn identity(row: &SqliteRow) -> Result<IdentityId, StoreError> {
    IdentityId::parse(row.get::<&str, _>("identity"))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn api_key_from(row: &SqliteRow) -> Result<ApiKey, StoreError> {
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
impl Credentials for SqliteStore {
    async fn add_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO api_keys (hash, prefix, identity, created_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&key.hash)
        .bind(&key.prefix)
        .bind(key.identity.as_str())
        .bind(micros(key.created_at))
        .bind(key.revoked_at.map(micros))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{API_KEY_COLUMNS} WHERE hash = ?"
        )))
        .bind(hash)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.as_ref().map(api_key_from).transpose()
    }

    async fn api_keys(&self, identity: &IdentityId) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{API_KEY_COLUMNS} WHERE identity = ? ORDER BY created_at, prefix"
        )))
        .bind(identity.as_str())
        .fetch_all(&self.reader)
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
        // One statement on the one writer: concurrent revocations are judged in turn.
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = ? \
             WHERE identity = ? AND prefix = ? AND revoked_at IS NULL \
             AND (NOT ? OR EXISTS (SELECT 1 FROM api_keys o WHERE o.identity = ? \
                                   AND o.revoked_at IS NULL AND o.prefix <> ?) \
                  OR EXISTS (SELECT 1 FROM logins l WHERE l.identity = ?))",
        )
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
        let (named,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM api_keys WHERE identity = ? AND prefix = ? AND revoked_at IS NULL",
        )
        .bind(identity.as_str())
        .bind(prefix)
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        Ok(if named > 0 { None } else { Some(0) })
    }

    async fn add_login(&self, login: &Login) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO logins (email, password_hash, identity, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&login.email)
        .bind(&login.password_hash)
        .bind(login.identity.as_str())
        .bind(micros(login.created_at))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn login(&self, email: &str) -> Result<Option<Login>, StoreError> {
        let row = sqlx::query(
            "SELECT email, password_hash, identity, created_at FROM logins WHERE email = ?",
        )
        .bind(email)
        .fetch_optional(&self.reader)
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
             VALUES (?, ?, ?, ?) ON CONFLICT (identity) DO NOTHING",
        )
        .bind(key.identity.as_str())
        .bind(&key.public_key)
        .bind(&key.sealed_secret)
        .bind(micros(key.created_at))
        .execute(&mut *self.writer.acquire().await?)
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
             WHERE identity = ?",
        )
        .bind(identity.as_str())
        .fetch_optional(&self.reader)
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
        sqlx::query("DELETE FROM nonces WHERE kept_until < ?")
            .bind(micros(now))
            .execute(&mut *self.writer.acquire().await?)
            .await
            .map_err(db)?;
        let done = sqlx::query(
            "INSERT INTO nonces (identity, nonce, kept_until) VALUES (?, ?, ?) \
             ON CONFLICT (identity, nonce) DO NOTHING",
        )
        .bind(identity.as_str())
        .bind(nonce)
        .bind(micros(until))
        .execute(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let row = sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = value RETURNING value",
        )
        .bind(name)
        .bind(value)
        .fetch_one(&mut *self.writer.acquire().await?)
        .await
        .map_err(db)?;
        Ok(row.get("value"))
    }
}
