//! Agora's broker (auto-claim rules, capability match) and standing contracts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use marketplace_core::store::Backend;
use marketplace_core::{
    AutoClaimRule, Command, Contract, ContractSpec, ContractStatus, Error, IdentityId, RuleId,
    RuleSpec,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tasks::TaskView;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::IdempotencyKey;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;
use crate::wire::Amount;

/// `POST /api/v1/broker/auto-claim` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// Claim tasks needing any of these.
    pub capabilities: Vec<String>,
    /// Only tasks paying at least this much.
    #[serde(default)]
    pub min_bounty: Amount,
    /// Hold at most this many claims through the rule (default 1).
    #[serde(default)]
    pub max_concurrent: Option<u32>,
    /// Only from posters with at least this reputation.
    #[serde(default)]
    pub min_poster_rep: Amount,
}

/// An auto-claim rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RuleView {
    /// The rule's id (`rule_id` to delete it).
    pub rule_id: String,
    /// Claims tasks needing any of these.
    pub capabilities: Vec<String>,
    /// Lowest bounty claimed.
    pub min_bounty: Amount,
    /// Most claims held at once.
    pub max_concurrent: u32,
    /// Lowest poster reputation.
    pub min_poster_rep: Amount,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&AutoClaimRule> for RuleView {
    fn from(r: &AutoClaimRule) -> Self {
        Self {
            rule_id: r.id.to_string(),
            capabilities: r.capabilities.clone(),
            min_bounty: r.min_bounty.into(),
            max_concurrent: r.max_concurrent,
            min_poster_rep: r.min_poster_rep.into(),
            created_at: r.created_at,
        }
    }
}

/// `GET /api/v1/broker/auto-claim`: the caller's rules.
#[utoipa::path(
    get,
    path = "/api/v1/broker/auto-claim",
    tag = "agora",
    operation_id = "agora_rules",
    responses((status = 200, body = Vec<RuleView>), (status = "4XX", body = crate::error::ErrorBody)),
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
    responses((status = 201, body = RuleView), (status = "4XX", body = crate::error::ErrorBody)),
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

/// `DELETE /api/v1/broker/auto-claim` names its rule by `rule_id`, in the query or the body.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RuleRef {
    /// The rule to remove.
    pub rule_id: Option<String>,
}

/// `DELETE /api/v1/broker/auto-claim`: removes one of the caller's rules.
#[utoipa::path(
    delete,
    path = "/api/v1/broker/auto-claim",
    tag = "agora",
    operation_id = "agora_delete_rule",
    request_body = Option<RuleRef>,
    params(IdempotencyKey, RuleRef),
    responses((status = 200, body = RuleRef), (status = "4XX", body = crate::error::ErrorBody)),
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

/// `GET /api/v1/broker/match` parameters.
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchParams {
    /// Comma-separated capabilities.
    pub capabilities: String,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
}

/// `GET /api/v1/broker/match`: open tasks needing any of the capabilities.
#[utoipa::path(
    get,
    path = "/api/v1/broker/match",
    tag = "agora",
    operation_id = "agora_broker_match",
    params(MatchParams),
    responses((status = 200, body = Vec<TaskView>), (status = "4XX", body = crate::error::ErrorBody))
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

/// `POST /api/v1/contracts` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractRequest {
    /// The agent's identity hash.
    pub agent: String,
    /// What the contract covers.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// What each task pays.
    pub price_per_task: Amount,
    /// How many tasks it covers.
    pub max_tasks: u32,
}

/// A standing contract.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContractView {
    /// The contract's id.
    pub id: String,
    /// Who proposed it and posts under it.
    pub poster: String,
    /// Who works under it.
    pub agent: String,
    /// What it covers.
    pub capabilities: Vec<String>,
    /// What each task pays.
    pub price_per_task: Amount,
    /// How many tasks it covers.
    pub max_tasks: u32,
    /// How many were posted under it.
    pub tasks_used: u32,
    /// `proposed`, `active`, `fulfilled` or `cancelled`.
    pub status: String,
    /// When it was proposed.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Contract> for ContractView {
    fn from(c: &Contract) -> Self {
        Self {
            id: c.id.to_string(),
            poster: c.poster.as_str().to_owned(),
            agent: c.agent.as_str().to_owned(),
            capabilities: c.capabilities.clone(),
            price_per_task: c.price_per_task.into(),
            max_tasks: c.max_tasks,
            tasks_used: c.tasks_used,
            status: match c.status {
                ContractStatus::Proposed => "proposed",
                ContractStatus::Active => "active",
                ContractStatus::Fulfilled => "fulfilled",
                ContractStatus::Cancelled => "cancelled",
            }
            .to_owned(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `POST /api/v1/contracts`: proposes a standing contract to an agent.
#[utoipa::path(
    post,
    path = "/api/v1/contracts",
    tag = "agora",
    operation_id = "agora_propose",
    request_body = ContractRequest,
    params(IdempotencyKey),
    responses((status = 201, body = ContractView), (status = "4XX", body = crate::error::ErrorBody)),
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

/// `POST /api/v1/contracts/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractAction {
    /// `accept` (the agent) or `cancel` (either side).
    pub action: String,
}

/// `POST /api/v1/contracts/{id}`: accepts or cancels a contract.
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{id}",
    tag = "agora",
    operation_id = "agora_act",
    request_body = ContractAction,
    params(IdempotencyKey, ("id" = String, Path, description = "The contract's id")),
    responses((status = 200, body = ContractView), (status = "4XX", body = crate::error::ErrorBody)),
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
    responses((status = 200, body = Vec<ContractView>), (status = "4XX", body = crate::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn contracts<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<Vec<ContractView>>, ApiError> {
    let contracts = app.market.contracts(&caller).await?;
    Ok(Json(contracts.iter().map(ContractView::from).collect()))
}
