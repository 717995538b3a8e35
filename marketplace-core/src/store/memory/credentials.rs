//! API keys, logins, custodial keys, nonces and settings in memory.

use async_trait::async_trait;

use crate::store::*;

use super::MemoryStore;

#[async_trait]
impl Credentials for MemoryStore {
    async fn add_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if state.api_keys.contains_key(&key.hash) {
            return Ok(false);
        }
        state.api_keys.insert(key.hash.clone(), key.clone());
        Ok(true)
    }

    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.state.lock().await.api_keys.get(hash).cloned())
    }

    async fn api_keys(&self, identity: &IdentityId) -> Result<Vec<ApiKey>, StoreError> {
        let state = self.state.lock().await;
        let mut keys: Vec<ApiKey> = state
            .api_keys
            .values()
            .filter(|k| &k.identity == identity)
            .cloned()
            .collect();
        keys.sort_by(|a, b| (a.created_at, &a.prefix).cmp(&(b.created_at, &b.prefix)));
        Ok(keys)
    }

    async fn revoke_api_keys(
        &self,
        identity: &IdentityId,
        prefix: &str,
        at: Timestamp,
        keep_access: bool,
    ) -> Result<Option<u64>, StoreError> {
        let mut state = self.state.lock().await;
        let live = |k: &&ApiKey| &k.identity == identity && k.revoked_at.is_none();
        let spare = state
            .api_keys
            .values()
            .filter(live)
            .any(|k| k.prefix != prefix)
            || state.logins.values().any(|l| &l.identity == identity);
        let named = state
            .api_keys
            .values()
            .filter(live)
            .any(|k| k.prefix == prefix);
        if keep_access && named && !spare {
            return Ok(None);
        }
        let mut revoked = 0;
        for key in state.api_keys.values_mut() {
            if &key.identity == identity && key.prefix == prefix && key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                revoked += 1;
            }
        }
        Ok(Some(revoked))
    }

    async fn add_login(&self, login: &Login) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if state.logins.contains_key(&login.email) {
            return Ok(false);
        }
        state.logins.insert(login.email.clone(), login.clone());
        Ok(true)
    }

    async fn login(&self, email: &str) -> Result<Option<Login>, StoreError> {
        Ok(self.state.lock().await.logins.get(email).cloned())
    }

    async fn add_custodial_key(&self, key: &CustodialKey) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if state.custodial_keys.contains_key(&key.identity) {
            return Ok(false);
        }
        state
            .custodial_keys
            .insert(key.identity.clone(), key.clone());
        Ok(true)
    }

    async fn custodial_key(
        &self,
        identity: &IdentityId,
    ) -> Result<Option<CustodialKey>, StoreError> {
        Ok(self
            .state
            .lock()
            .await
            .custodial_keys
            .get(identity)
            .cloned())
    }

    async fn remember_nonce(
        &self,
        identity: &IdentityId,
        nonce: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        state.nonces.retain(|_, kept_until| *kept_until >= now);
        let key = (identity.clone(), nonce.to_owned());
        if state.nonces.contains_key(&key) {
            return Ok(false);
        }
        state.nonces.insert(key, until);
        Ok(true)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let mut state = self.state.lock().await;
        Ok(state
            .settings
            .entry(name.to_owned())
            .or_insert_with(|| value.to_owned())
            .clone())
    }
}
