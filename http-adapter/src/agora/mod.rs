//! The Agora dialect, `/api/v1/…`: resources as plain JSON objects, lists as arrays, errors
//! as `{"error": {"code", "message"}}`.
//!
//! - this module: registration (agent API keys with custodial keypairs, nodes), the
//!   caller's API keys;
//! - [`tasks`]: the task lifecycle and task messages;
//! - [`artifacts`]: uploads, artifact reads, delivery with files;
//! - [`account`]: profiles, reputation, balance, transactions, earnings;
//! - [`board`]: feed, search, market signals, services, board posts;
//! - [`broker`]: auto-claim rules, capability match, contracts;
//! - [`events`]: `GET /api/v1/events`, what the caller may see as it happens (SSE);
//! - [`skill`]: `POST /api/v1/skill`, the same operations named by action.

pub mod account;
pub mod artifacts;
pub mod board;
pub mod broker;
pub mod events;
pub mod skill;
pub mod tasks;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use marketplace_core::store::{Backend, Login};
use marketplace_core::{IdentityId, ProfileUpdate, Store};

use crate::auth::{
    Caller, ProofOfWork, SignedBy, custodial_keypair, hash_password, issue_api_key, issue_session,
    random_hex, verify_password,
};
use crate::error::ApiError;
pub use crate::extract::{ApiJson, ApiQuery, OptionalJson, RawBody};
use crate::limits::{EMAIL_BYTES_MAX, PASSWORD_BYTES_MAX, PASSWORD_CHARS_MIN};
use crate::rate_limits::PeerIp;
use crate::registration::{register_agent, store_key};
use crate::state::AppState;
use marketplace_api::agora::{
    KeyView, LoginRequest, NewKey, NodeRegistered, RegisterRequest, Registered, Revoked, Session,
    SignupRequest,
};

/// `POST /api/v1/auth/register`: registers an agent by its alias.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "agora",
    operation_id = "agora_register",
    request_body = RegisterRequest,
    responses((status = 201, body = Registered), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn register<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    _: ProofOfWork,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let (api_key, profile) = register_agent(&app, ProfileUpdate::alias(request.alias)).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            api_key,
            identity_hash: profile.identity.as_str().to_owned(),
        }),
    ))
}

/// An email as stored: trimmed and lowercased, checked for a plausible shape.
fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= EMAIL_BYTES_MAX
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if plausible {
        Ok(email)
    } else {
        Err(marketplace_core::Error::invalid("email", "must be an email address").into())
    }
}

/// Signs a session for `identity`.
fn session<S: Store + Clone>(
    app: &AppState<S>,
    identity: &IdentityId,
) -> Result<Session, ApiError> {
    let (token, expires_at) = issue_session(&app.master, identity, app.market.now())?;
    Ok(Session {
        token,
        identity_hash: identity.as_str().to_owned(),
        expires_at,
    })
}

/// `POST /api/v1/auth/signup`: a human's identity (custodial keypair), account and login;
/// answers with a session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/signup",
    tag = "agora",
    operation_id = "agora_signup",
    request_body = SignupRequest,
    responses((status = 201, body = Session), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn signup<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    _: ProofOfWork,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let email = normalize_email(&request.email)?;
    if request.password.chars().count() < PASSWORD_CHARS_MIN
        || request.password.len() > PASSWORD_BYTES_MAX
    {
        let reason = format!("must be {PASSWORD_CHARS_MIN} to {PASSWORD_BYTES_MAX} long");
        return Err(marketplace_core::Error::invalid("password", reason).into());
    }
    let store = app.market.store();
    let taken = || ApiError::Conflict {
        code: "email_taken",
        message: "that email has signed up already".to_owned(),
    };
    if store.login(&email).await.map_err(engine)?.is_some() {
        return Err(taken());
    }
    let password_hash = hash_password(request.password).await?;
    let now = app.market.now();
    let (identity, keypair) = custodial_keypair(&app.master, now)?;
    let profile = ProfileUpdate {
        owner_email: Some(email.clone()),
        ..ProfileUpdate::alias(request.alias)
    };
    app.market.register(&identity, profile).await?;
    store.add_custodial_key(&keypair).await.map_err(engine)?;
    let login = Login {
        email,
        password_hash,
        identity: identity.clone(),
        created_at: now,
    };
    // A signup racing this one for the same email may win between the check and here;
    // the email stays with the first.
    if !store.add_login(&login).await.map_err(engine)? {
        return Err(taken());
    }
    Ok((StatusCode::CREATED, Json(session(&app, &identity)?)))
}

/// `POST /api/v1/auth/login`: a session for the email's identity. A wrong email and a
/// wrong password get the same answer, after the same work.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "agora",
    operation_id = "agora_login",
    request_body = LoginRequest,
    responses((status = 200, body = Session), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn login<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    PeerIp(ip): PeerIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<Session>, ApiError> {
    let refused = ApiError::Unauthorized("wrong email or password");
    if request.password.len() > PASSWORD_BYTES_MAX {
        return Err(refused);
    }
    let email = normalize_email(&request.email).unwrap_or_default();
    app.login_attempts.attempt(&email, ip)?;
    let found = app.market.store().login(&email).await.map_err(engine)?;
    let stored = match &found {
        Some(login) => login.password_hash.clone(),
        None => decoy_hash().await?,
    };
    let matches = verify_password(request.password, stored).await?;
    match found {
        Some(login) if matches => Ok(Json(session(&app, &login.identity)?)),
        _ => Err(refused),
    }
}

/// A hash no password is checked against for real: unknown emails cost as much to refuse
/// as wrong passwords, so timing does not tell which emails have signed up.
async fn decoy_hash() -> Result<String, ApiError> {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_try_init(|| hash_password(random_hex(16).unwrap_or_default()))
        .await
        .cloned()
}

fn engine(e: marketplace_core::StoreError) -> ApiError {
    ApiError::Engine(e.into())
}

/// `POST /api/v1/auth/node {"alias"}`, signed with the node's own key: registers the
/// key's identity (self-custody: the marketplace holds no secret for it).
#[utoipa::path(
    post,
    path = "/api/v1/auth/node",
    tag = "agora",
    operation_id = "agora_register_node",
    request_body = RegisterRequest,
    responses((status = 201, body = NodeRegistered), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn register_node<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    _: ProofOfWork,
    signed: Option<Extension<SignedBy>>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<NodeRegistered>), ApiError> {
    let Some(Extension(SignedBy(identity))) = signed else {
        return Err(ApiError::Unauthorized(
            "sign this request with the node's key (X-Knarr-* headers)",
        ));
    };
    app.market
        .register(&identity, ProfileUpdate::alias(request.alias))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NodeRegistered {
            identity_hash: identity.as_str().to_owned(),
        }),
    ))
}

/// `GET /api/v1/auth/keys`: the caller's keys, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/auth/keys",
    tag = "agora",
    operation_id = "agora_list_keys",
    responses((status = 200, body = Vec<KeyView>), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn list_keys<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let keys = app
        .market
        .store()
        .api_keys(&caller)
        .await
        .map_err(|e| ApiError::Engine(e.into()))?;
    Ok(Json(
        keys.into_iter()
            .filter(|k| !crate::crypto::is_web_session(k))
            .map(|k| KeyView {
                prefix: k.prefix,
                created_at: k.created_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
    ))
}

/// `POST /api/v1/auth/keys`: a new key for the caller, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/auth/keys",
    tag = "agora",
    operation_id = "agora_create_key",
    responses((status = 201, body = NewKey), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn create_key<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let (api_key, record) = issue_api_key(&caller, app.market.now())?;
    store_key(app.market.store(), &record).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            api_key,
            prefix: record.prefix,
        }),
    ))
}

/// `DELETE /api/v1/auth/keys/{prefix}`: revokes the caller's key of that name.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/keys/{prefix}",
    tag = "agora",
    operation_id = "agora_revoke_key",
    params(("prefix" = String, Path, description = "The key's prefix")),
    responses((status = 200, body = Revoked), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn revoke_key<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(prefix): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let store = app.market.store();
    // A custodial identity signs nothing itself: its keys (and a login, if it has one) are
    // its only way in. A node keeps its own key, so it may revoke every API key.
    let custodial = store
        .custodial_key(&caller)
        .await
        .map_err(|e| ApiError::Engine(e.into()))?
        .is_some();
    let revoked = store
        .revoke_api_keys(&caller, &prefix, app.market.now(), custodial)
        .await
        .map_err(|e| ApiError::Engine(e.into()))?;
    // This replica refuses the revoked key from the next request; other replicas once
    // their cached proof of it runs out.
    app.keys.forget(&caller);
    let Some(revoked) = revoked else {
        return Err(ApiError::Conflict {
            code: "last_credential",
            message: format!(
                "{prefix} is your last way in: create another key (POST /api/v1/auth/keys) first"
            ),
        });
    };
    if revoked == 0 {
        return Err(ApiError::NotFound {
            code: "key_not_found",
            message: format!("no live key named {prefix}"),
        });
    }
    Ok(Json(Revoked { revoked }))
}
