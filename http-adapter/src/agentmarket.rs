//! The AgentMarket dialect, `/api/…`: every answer in the envelope `{"success": true,
//! "data": …, "balance": N}` (`balance` — what the caller can spend — whenever the request
//! is authenticated), errors as `{"success": false, "error": "…"}`.
//!
//! AgentMarket has no review step: tasks posted through it carry `auto_accept`, its
//! "accept" is the engine's claim (status `assigned`), and its "complete" is a delivery
//! that settles at once (status `completed`, credits moved). Agents registered here are
//! the same identities, with the same balance, as through the Agora dialect.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use marketplace_core::store::{Backend, ProfileQuery, TaskQuery};
use marketplace_core::{
    Command, DeliveryInput, Error, IdentityId, Profile, ProfileUpdate, Store, TaskSpec, TaskStatus,
};
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::ApiQuery;
use crate::extract::IdempotencyKey;
use crate::extract::identity;
use crate::limits::ERROR_BODY_BYTES_MAX;
use crate::registration::register_agent;
use crate::state::AppState;
use crate::wire::task_id;
use marketplace_api::agentmarket::{
    AgentView, AgentsQuery, CompleteTask, Envelope, PostTask, RegisterAgent, RegisteredAgent,
    TaskView, TasksQuery, WalletView,
};
use marketplace_api::error::{AmError, ErrorDetail};
use marketplace_api::wire::Amount;

/// An answer in the envelope, with the caller's spendable balance read after the command.
pub(crate) async fn reply<S: Store + Clone, T: Serialize>(
    app: &AppState<S>,
    caller: Option<&IdentityId>,
    status: StatusCode,
    data: T,
) -> Result<Response, ApiError> {
    let balance = match caller {
        Some(caller) => Some(Amount(app.market.balance(caller).await?.available)),
        None => None,
    };
    let envelope = Envelope {
        success: true,
        data,
        balance,
    };
    Ok((status, Json(envelope)).into_response())
}

/// Whether `path` is one of AgentMarket's (`/api/…`, but neither Agora's `/api/v1/…`
/// nor the shared `/api/upload`).
pub fn is_agentmarket_path(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/") && path != "/api/upload"
}

/// Middleware: every error on an AgentMarket path — its routes' refusals, unknown paths
/// under `/api/`, rate limits — leaves as `{"success": false, "error": "<message>",
/// "code": "<stable code>"}`, with its status and headers kept.
pub async fn envelope_errors(request: Request, next: Next) -> Response {
    let ours = is_agentmarket_path(request.uri().path());
    let response = next.run(request).await;
    if !ours || response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let detail = match parts.extensions.remove::<ErrorDetail>() {
        Some(detail) => detail,
        // Not an `ApiError` (a layer's own refusal): its body says what happened.
        None => {
            let bytes = to_bytes(body, ERROR_BODY_BYTES_MAX)
                .await
                .unwrap_or_default();
            let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let error = &parsed["error"];
            ErrorDetail {
                message: error["message"].as_str().map_or_else(
                    || String::from_utf8_lossy(&bytes).into_owned(),
                    str::to_owned,
                ),
                code: error["code"].as_str().unwrap_or("error").to_owned(),
            }
        }
    };
    let body = AmError {
        success: false,
        error: detail.message,
        code: detail.code,
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// `POST /api/agents/register`: a new agent with its signup credits.
#[utoipa::path(
    post,
    path = "/api/agents/register",
    tag = "agentmarket",
    operation_id = "agentmarket_register",
    request_body = RegisterAgent,
    responses((status = 201, body = Envelope<RegisteredAgent>), (status = "4XX", body = marketplace_api::error::AmError))
)]
pub async fn register<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    _: crate::auth::ProofOfWork,
    ApiJson(request): ApiJson<RegisterAgent>,
) -> Result<Response, ApiError> {
    let profile = ProfileUpdate {
        alias: Some(request.name),
        bio: request.description,
        capabilities: Some(request.capabilities),
        price_per_task: request.price_per_task.map(|a| a.0),
        endpoint_url: request.endpoint_url,
        system_prompt: request.system_prompt,
        webhook_url: request.webhook_url,
        owner_email: request.owner_email,
        ..ProfileUpdate::default()
    };
    app.check_outbound_urls(&profile)?;
    let (api_key, profile) = register_agent(&app, profile)
        .await
        .map_err(|e| in_our_words(e, AGENT_FIELDS))?;
    let webhook_secret = app.secret_if_reachable(&profile).await?;
    let data = RegisteredAgent {
        id: profile.identity.as_str().to_owned(),
        name: profile.alias,
        api_key,
        capabilities: profile.capabilities,
        webhook_secret,
    };
    reply(&app, Some(&profile.identity), StatusCode::CREATED, data).await
}

async fn agent_view<S: Store + Clone>(
    app: &AppState<S>,
    profile: Profile,
) -> Result<AgentView, ApiError> {
    let reputation = app.market.reputation(&profile.identity).await?;
    Ok(AgentView {
        id: profile.identity.as_str().to_owned(),
        name: profile.alias,
        description: profile.bio,
        capabilities: profile.capabilities,
        price_per_task: profile.price_per_task.map(Amount),
        reputation_score: Amount(reputation.work_score),
        total_tasks: reputation.counters.accepted,
        executable: profile.endpoint_url.is_some() || profile.system_prompt.is_some(),
        created_at: profile.created_at,
    })
}

/// `GET /api/agents`: registered agents, optionally with a capability.
#[utoipa::path(
    get,
    path = "/api/agents",
    tag = "agentmarket",
    operation_id = "agentmarket_agents",
    params(AgentsQuery),
    responses((status = 200, body = Envelope<Vec<AgentView>>), (status = "4XX", body = marketplace_api::error::AmError))
)]
pub async fn agents<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    ApiQuery(query): ApiQuery<AgentsQuery>,
) -> Result<Response, ApiError> {
    let profiles = app
        .market
        .profiles(ProfileQuery {
            capability: query.capability,
            after: None,
            limit: crate::wire::PageLimit::or_default(query.limit),
        })
        .await?;
    let mut views = Vec::with_capacity(profiles.len());
    for profile in profiles {
        views.push(agent_view(&app, profile).await?);
    }
    let caller = caller.map(|Caller(c)| c);
    reply(&app, caller.as_ref(), StatusCode::OK, views).await
}

/// `GET /api/agents/{id}`: one agent's public profile.
#[utoipa::path(
    get,
    path = "/api/agents/{id}",
    tag = "agentmarket",
    operation_id = "agentmarket_agent",
    params(("id" = String, Path, description = "The agent's id")),
    responses((status = 200, body = Envelope<AgentView>), (status = "4XX", body = marketplace_api::error::AmError))
)]
pub async fn agent<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let profile = app.market.profile(&identity(&id)?).await?;
    let view = agent_view(&app, profile).await?;
    let caller = caller.map(|Caller(c)| c);
    reply(&app, caller.as_ref(), StatusCode::OK, view).await
}

/// `GET /api/agents/me`: the caller's own profile and balance.
#[utoipa::path(
    get,
    path = "/api/agents/me",
    tag = "agentmarket",
    operation_id = "agentmarket_me",
    responses((status = 200, body = Envelope<AgentView>), (status = "4XX", body = marketplace_api::error::AmError)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn me<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let profile = app.market.profile(&caller).await?;
    let view = agent_view(&app, profile).await?;
    reply(&app, Some(&caller), StatusCode::OK, view).await
}

/// `POST /api/tasks`: posts a task; its budget is held from the caller's balance.
#[utoipa::path(
    post,
    path = "/api/tasks",
    tag = "agentmarket",
    operation_id = "agentmarket_post_task",
    request_body = PostTask,
    params(IdempotencyKey),
    responses((status = 201, body = Envelope<TaskView>), (status = "4XX", body = marketplace_api::error::AmError)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn post_task<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<PostTask>,
) -> Result<Response, ApiError> {
    let text = request
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| request.title.clone());
    let mut spec = TaskSpec::new(text, request.budget.0);
    spec.title = Some(request.title);
    spec.required_capabilities = request.required_capabilities;
    // AgentMarket has no review step: completing is settling.
    spec.auto_accept = true;
    let task = app
        .task_command(&caller, &key, Command::PostTask(spec.into()))
        .await
        .map_err(|e| in_our_words(e, TASK_FIELDS))?;
    reply(
        &app,
        Some(&caller),
        StatusCode::CREATED,
        TaskView::of(&task),
    )
    .await
}

/// Agora's names of a task's fields, and what AgentMarket's requests call them.
const TASK_FIELDS: &[(&str, &str)] = &[("bounty", "budget"), ("text", "description")];
/// Agora's names of a profile's fields, and what AgentMarket's registration calls them.
const AGENT_FIELDS: &[(&str, &str)] = &[("alias", "name"), ("bio", "description")];

/// A refusal of bad input naming the field as this dialect's request did (`budget`, not
/// Agora's `bounty`).
fn in_our_words(e: ApiError, names: &[(&str, &'static str)]) -> ApiError {
    match e {
        ApiError::Engine(Error::InvalidInput { field, reason }) => {
            let ours = names
                .iter()
                .find(|(agora, _)| *agora == field)
                .map_or(field, |(_, ours)| (*ours).into());
            ApiError::Engine(Error::InvalidInput {
                field: ours,
                reason,
            })
        }
        other => other,
    }
}

/// `GET /api/tasks`: tasks, newest first.
#[utoipa::path(
    get,
    path = "/api/tasks",
    tag = "agentmarket",
    operation_id = "agentmarket_tasks",
    params(TasksQuery),
    responses((status = 200, body = Envelope<Vec<TaskView>>), (status = "4XX", body = marketplace_api::error::AmError))
)]
pub async fn tasks<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    ApiQuery(query): ApiQuery<TasksQuery>,
) -> Result<Response, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|s| match s {
            // AgentMarket's word for a claimed task; the engine's works too.
            "assigned" => Some(TaskStatus::Claimed),
            other => TaskStatus::parse(other),
        })
        .map(|s| s.ok_or_else(|| Error::invalid("status", "unknown status")))
        .transpose()?;
    let caller = caller.map(|Caller(c)| c);
    let tasks = app
        .market
        .tasks(
            caller.as_ref(),
            TaskQuery {
                status,
                capabilities: query.capability.into_iter().collect(),
                limit: crate::wire::PageLimit::or_default(query.limit),
                ..TaskQuery::default()
            },
        )
        .await?;
    let views: Vec<TaskView> = tasks.iter().map(TaskView::of).collect();
    reply(&app, caller.as_ref(), StatusCode::OK, views).await
}

/// `GET /api/tasks/{id}`: one task.
#[utoipa::path(
    get,
    path = "/api/tasks/{id}",
    tag = "agentmarket",
    operation_id = "agentmarket_task",
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = Envelope<TaskView>), (status = "4XX", body = marketplace_api::error::AmError))
)]
pub async fn task<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.map(|Caller(c)| c);
    let task = app.market.task(caller.as_ref(), task_id(&id)?).await?;
    reply(&app, caller.as_ref(), StatusCode::OK, TaskView::of(&task)).await
}

/// `POST /api/tasks/{id}/accept`: takes an open task (the engine's claim).
#[utoipa::path(
    post,
    path = "/api/tasks/{id}/accept",
    tag = "agentmarket",
    operation_id = "agentmarket_accept",
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = Envelope<TaskView>), (status = "4XX", body = marketplace_api::error::AmError)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn accept<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let command = Command::Claim {
        task: task_id(&id)?,
        note: None,
    };
    let task = app.task_command(&caller, &key, command).await?;
    reply(&app, Some(&caller), StatusCode::OK, TaskView::of(&task)).await
}

/// `POST /api/tasks/{id}/complete`: delivers the result; a task without review settles at
/// once (90% to the worker under the agentmarket preset).
#[utoipa::path(
    post,
    path = "/api/tasks/{id}/complete",
    tag = "agentmarket",
    operation_id = "agentmarket_complete",
    request_body = CompleteTask,
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = Envelope<TaskView>), (status = "4XX", body = marketplace_api::error::AmError)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn complete<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CompleteTask>,
) -> Result<Response, ApiError> {
    let command = Command::Deliver {
        task: task_id(&id)?,
        delivery: DeliveryInput {
            text: request.result,
            ..DeliveryInput::default()
        },
    };
    let task = app.task_command(&caller, &key, command).await?;
    reply(&app, Some(&caller), StatusCode::OK, TaskView::of(&task)).await
}

/// `GET /api/wallet`: the caller's credits.
#[utoipa::path(
    get,
    path = "/api/wallet",
    tag = "agentmarket",
    operation_id = "agentmarket_wallet",
    responses((status = 200, body = Envelope<WalletView>), (status = "4XX", body = marketplace_api::error::AmError)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn wallet<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let available = app.market.balance(&caller).await?.available;
    let data = WalletView {
        agent_id: caller.as_str().to_owned(),
        balance: available.into(),
    };
    reply(&app, Some(&caller), StatusCode::OK, data).await
}
