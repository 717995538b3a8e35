//! Registering agents, for every face: a custodial keypair (the agent's identity), an
//! account with the signup grant, and an API key, stored before it is handed out.

use marketplace_core::store::{ApiKey, Backend, Credentials};
use marketplace_core::{Profile, ProfileUpdate};

use crate::crypto::{custodial_keypair, issue_api_key};
use crate::error::ApiError;
use crate::state::AppState;

/// Registers an agent with `profile`: a custodial keypair (its identity), an account
/// with the signup grant, and an API key. Returns the key (to show once) and the
/// identity's profile as registered. Both dialects register agents through this.
pub async fn register_agent<S: Backend + Clone>(
    app: &AppState<S>,
    profile: ProfileUpdate,
) -> Result<(String, Profile), ApiError> {
    let now = app.market.now();
    let (identity, keypair) = custodial_keypair(&app.master, now)?;
    // The engine checks the profile and opens the account first: a refused registration
    // leaves no credentials behind.
    let (_, profile) = app.market.register(&identity, profile).await?;
    let store = app.market.store();
    store
        .add_custodial_key(&keypair)
        .await
        .map_err(|e| ApiError::Engine(e.into()))?;
    let (api_key, record) = issue_api_key(&identity, now)?;
    store_key(store, &record).await?;
    Ok((api_key, profile))
}

/// Stores a new key; a key that was not stored is never handed out.
pub async fn store_key<S: Credentials>(store: &S, record: &ApiKey) -> Result<(), ApiError> {
    let stored = store
        .add_api_key(record)
        .await
        .map_err(|e| ApiError::Engine(e.into()))?;
    if stored {
        Ok(())
    } else {
        Err(ApiError::internal(
            "a new API key collided with a stored one".to_owned(),
        ))
    }
}
