//! Agora's broker (auto-claim rules, capability match) and standing contracts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use marketplace_core::store::Backend;
use marketplace_core::{
    AutoClaimRule, Command, Contract, ContractSpec, Error, IdentityId, RuleId, RuleSpec,
};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::IdempotencyKey;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;
use marketplace_api::agora::broker::{
    ContractAction, ContractRequest, ContractView, MatchParams, RuleRef, RuleRequest, RuleView,
};
use marketplace_api::agora::tasks::TaskView;

/// `GET /api/v1/broker/auto-claim`: the caller's rules.
#[utoipa::path(
    get,
    path = "/api/v1/broker/auto-claim",
    tag = "agora",
    operation_id = "agora_rules",
    responses((status = 200, body = Vec<RuleView>), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn rules<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    let rules = app.market.rules(&caller).await?;
    Ok(Json(rules.iter().map(RuleView::from).collect()))
}

/// `POST /api/v1/broker/auto-claim`: a rule the broker claims matching tasks by.
#[utoipa::path(
    post,
    path = "/api/v1/broker/auto-claim",
    tag = "agora",
    operation_id = "agora_create_rule",
    request_body = RuleRequest,
    params(IdempotencyKey),
    responses((status = 201, body = RuleView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn create_rule<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<RuleRequest>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let spec = RuleSpec {
        capabilities: request.capabilities,
        min_bounty: request.min_bounty.0,
        max_concurrent: request.max_concurrent.unwrap_or(1),
        min_poster_rep: request.min_poster_rep.0,
    };
    let rule: AutoClaimRule = app
        .command(&caller, &key, Command::CreateRule(spec))
        .await?;
    Ok((StatusCode::CREATED, Json(RuleView::from(&rule))))
}

/// `DELETE /api/v1/broker/auto-claim`: removes one of the caller's rules.
#[utoipa::path(
    delete,
    path = "/api/v1/broker/auto-claim",
    tag = "agora",
    operation_id = "agora_delete_rule",
    request_body = Option<RuleRef>,
    params(IdempotencyKey, RuleRef),
    responses((status = 200, body = RuleRef), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn delete_rule<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiQuery(query): ApiQuery<RuleRef>,
    OptionalJson(body): OptionalJson<RuleRef>,
) -> Result<Json<RuleRef>, ApiError> {
    let named = query
        .rule_id
        .or(body.rule_id)
        .ok_or_else(|| Error::invalid("rule_id", "name the rule to remove"))?;
    let rule: RuleId = named.parse()?;
    app.execute(&caller, &key, Command::DeleteRule { rule })
        .await?;
    Ok(Json(RuleRef {
        rule_id: Some(rule.to_string()),
    }))
}

/// `GET /api/v1/broker/match`: open tasks needing any of the capabilities.
#[utoipa::path(
    get,
    path = "/api/v1/broker/match",
    tag = "agora",
    operation_id = "agora_broker_match",
    params(MatchParams),
    responses((status = 200, body = Vec<TaskView>), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn broker_match<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    ApiQuery(params): ApiQuery<MatchParams>,
) -> Result<Json<Vec<TaskView>>, ApiError> {
    let capabilities = params
        .capabilities
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let tasks = app
        .market
        .broker_match(
            capabilities,
            crate::wire::PageLimit::or_default(params.limit),
        )
        .await?;
    let viewer = caller.map(|Caller(c)| c);
    Ok(Json(
        tasks
            .iter()
            .map(|t| TaskView::of(t, viewer.as_ref()))
            .collect(),
    ))
}

/// `POST /api/v1/contracts`: proposes a standing contract to an agent.
#[utoipa::path(
    post,
    path = "/api/v1/contracts",
    tag = "agora",
    operation_id = "agora_propose",
    request_body = ContractRequest,
    params(IdempotencyKey),
    responses((status = 201, body = ContractView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn propose<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<ContractRequest>,
) -> Result<(StatusCode, Json<ContractView>), ApiError> {
    let spec = ContractSpec {
        // A malformed hash is a bad request; a well-formed one nobody holds is not found.
        agent: IdentityId::parse(&request.agent)
            .map_err(|_| Error::invalid("agent", "must be an identity hash (64 hex digits)"))?,
        capabilities: request.capabilities,
        price_per_task: request.price_per_task.0,
        max_tasks: request.max_tasks,
    };
    let contract: Contract = app
        .command(&caller, &key, Command::ProposeContract(spec))
        .await?;
    Ok((StatusCode::CREATED, Json(ContractView::from(&contract))))
}

/// `POST /api/v1/contracts/{id}`: accepts or cancels a contract.
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{id}",
    tag = "agora",
    operation_id = "agora_act",
    request_body = ContractAction,
    params(IdempotencyKey, ("id" = String, Path, description = "The contract's id")),
    responses((status = 200, body = ContractView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn act<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ContractAction>,
) -> Result<Json<ContractView>, ApiError> {
    let contract = id
        .parse()
        .map_err(|_| ApiError::Engine(Error::ContractNotFound))?;
    let command = match request.action.as_str() {
        "accept" => Command::AcceptContract { contract },
        "cancel" => Command::CancelContract { contract },
        _ => return Err(Error::invalid("action", "accept or cancel").into()),
    };
    let contract: Contract = app.command(&caller, &key, command).await?;
    Ok(Json(ContractView::from(&contract)))
}

/// `GET /api/v1/contracts`: contracts the caller is party to.
#[utoipa::path(
    get,
    path = "/api/v1/contracts",
    tag = "agora",
    operation_id = "agora_contracts",
    responses((status = 200, body = Vec<ContractView>), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn contracts<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<Vec<ContractView>>, ApiError> {
    let contracts = app.market.contracts(&caller).await?;
    Ok(Json(contracts.iter().map(ContractView::from).collect()))
}
