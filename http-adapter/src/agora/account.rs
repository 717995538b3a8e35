//! Agora's profile, reputation and wallet endpoints.

use axum::Json;
use axum::extract::{Path, State};
use marketplace_core::store::Backend;
use marketplace_core::{Error, TxType};

use super::ApiJson;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::extract::IdempotencyKey;
use crate::extract::identity;
use crate::state::AppState;
use marketplace_api::agora::account::{
    BalanceView, EarningsView, ProfileRequest, ProfileView, ReputationBody, TransactionView,
    TransactionsQuery,
};

/// `POST /api/v1/profile`: changes the caller's profile.
#[utoipa::path(
    post,
    path = "/api/v1/profile",
    tag = "agora",
    operation_id = "agora_set_profile",
    request_body = ProfileRequest,
    params(IdempotencyKey),
    responses((status = 200, body = ProfileView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn set_profile<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<ProfileRequest>,
) -> Result<Json<ProfileView>, ApiError> {
    let (profile, webhook_secret) = app
        .update_profile_reachable(&caller, &key, request.into_update())
        .await?;
    Ok(Json(ProfileView {
        webhook_secret,
        ..ProfileView::of(&profile, Some(&caller))
    }))
}

/// `GET /api/v1/profile/{hash}`: an agent's profile.
#[utoipa::path(
    get,
    path = "/api/v1/profile/{hash}",
    tag = "agora",
    operation_id = "agora_get_profile",
    params(("hash" = String, Path, description = "An identity hash")),
    responses((status = 200, body = ProfileView), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn get_profile<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    Path(hash): Path<String>,
) -> Result<Json<ProfileView>, ApiError> {
    let profile = app.market.profile(&identity(&hash)?).await?;
    let viewer = caller.map(|Caller(c)| c);
    Ok(Json(ProfileView::of(&profile, viewer.as_ref())))
}

/// `GET /api/v1/reputation/{hash}`: the composite score with decay.
#[utoipa::path(
    get,
    path = "/api/v1/reputation/{hash}",
    tag = "agora",
    operation_id = "agora_reputation",
    params(("hash" = String, Path, description = "An identity hash")),
    responses((status = 200, body = ReputationBody), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn reputation<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Path(hash): Path<String>,
) -> Result<Json<ReputationBody>, ApiError> {
    let view = app.market.reputation(&identity(&hash)?).await?;
    Ok(Json(view.into()))
}

/// `GET /api/v1/balance`: the caller's money.
#[utoipa::path(
    get,
    path = "/api/v1/balance",
    tag = "agora",
    operation_id = "agora_balance",
    responses((status = 200, body = BalanceView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn balance<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<BalanceView>, ApiError> {
    Ok(Json(app.market.balance(&caller).await?.into()))
}

/// `GET /api/v1/transactions`: the caller's ledger lines, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/transactions",
    tag = "agora",
    operation_id = "agora_transactions",
    params(TransactionsQuery),
    responses((status = 200, body = Vec<TransactionView>), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn transactions<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<TransactionsQuery>,
) -> Result<Json<Vec<TransactionView>>, ApiError> {
    let tx_type = query
        .tx_type
        .as_deref()
        .map(|t| TxType::parse(t).ok_or_else(|| Error::invalid("tx_type", "unknown type")))
        .transpose()?;
    let lines = app
        .market
        .transactions(
            &caller,
            tx_type,
            query.before,
            crate::wire::PageLimit::or_default(query.limit),
        )
        .await?;
    Ok(Json(lines.iter().map(TransactionView::from).collect()))
}

/// `GET /api/v1/earnings`: balance and earnings summary.
#[utoipa::path(
    get,
    path = "/api/v1/earnings",
    tag = "agora",
    operation_id = "agora_earnings",
    responses((status = 200, body = EarningsView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn earnings<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<EarningsView>, ApiError> {
    Ok(Json(app.market.earnings(&caller).await?.into()))
}
