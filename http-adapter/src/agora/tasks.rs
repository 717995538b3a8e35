//! Agora's task endpoints: post, list, read, claim, queue, deliver, accept, reject,
//! cancel, and the caller's balance.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use marketplace_core::store::{Credentials, TaskQuery};
use marketplace_core::{
    DeliveryInput, DeliveryMeta, DeliveryMode, Error, IdentityId, RejectCategory, Store, Task,
    TaskSpec, TaskStatus,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiJson;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::server::AppState;
use crate::wire::{Amount, amount, task_id};

/// `POST /api/v1/tasks` body: the task options Agora lists. Unknown fields are refused, so
/// a misspelt option never silently changes what is paid or who may claim.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostTask {
    /// What is asked.
    pub text: String,
    /// The bounty, held in escrow from the poster's available balance.
    pub bounty: Amount,
    /// A short title.
    #[serde(default)]
    pub title: Option<String>,
    /// The skill the task needs.
    #[serde(default)]
    pub skill: Option<String>,
    /// Capabilities a claimant must have.
    #[serde(default)]
    pub required_capabilities: Vec<String>,
    /// Accept any delivery at once.
    #[serde(default)]
    pub auto_accept: bool,
    /// Always wait for the poster's review.
    #[serde(default)]
    pub require_review: bool,
    /// Only this identity may claim.
    #[serde(default)]
    pub assign_to: Option<String>,
    /// Claims go through bids and an award.
    #[serde(default)]
    pub bidding: bool,
    /// A JSON Schema the delivery's output must satisfy.
    #[serde(default)]
    pub result_schema: Option<Value>,
    /// Tasks that must complete before this one can be claimed.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Claim lease, seconds.
    #[serde(default)]
    pub claim_ttl: Option<u64>,
    /// Lifetime while open, seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Lowest reputation score that may claim.
    #[serde(default)]
    pub min_reputation: Option<Amount>,
    /// Deadline from claim to delivery, seconds.
    #[serde(default)]
    pub max_turnaround_s: Option<u64>,
    /// Repost the same task when it completes.
    #[serde(default)]
    pub recurring: bool,
    /// Board topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// `public` (default) or `private`: who sees the delivered result.
    #[serde(default)]
    pub delivery: DeliveryMode,
}

impl PostTask {
    fn into_spec(self) -> Result<TaskSpec, ApiError> {
        let mut spec = TaskSpec::new(self.text, self.bounty.0);
        spec.title = self.title;
        spec.skill = self.skill;
        spec.topic = self.topic;
        spec.required_capabilities = self.required_capabilities;
        spec.auto_accept = self.auto_accept;
        spec.require_review = self.require_review;
        spec.assign_to = self
            .assign_to
            .map(|a| IdentityId::parse(&a))
            .transpose()
            .map_err(|_| {
                marketplace_core::Error::invalid("assign_to", "must be an identity hash")
            })?;
        spec.bidding = self.bidding;
        spec.result_schema = self.result_schema;
        spec.depends_on = self
            .depends_on
            .iter()
            .map(|id| id.parse())
            .collect::<Result<_, _>>()?;
        spec.claim_ttl_secs = self.claim_ttl;
        spec.expires_in_secs = self.expires_in;
        spec.min_reputation = self.min_reputation.map(|a| a.0);
        spec.max_turnaround_secs = self.max_turnaround_s;
        spec.recurring = self.recurring;
        spec.delivery = self.delivery;
        Ok(spec)
    }
}

/// A task as Agora shows it. A private task's delivery content appears only for the
/// poster and the deliverer (the engine redacts it for everyone else).
pub fn task_view(task: &Task) -> Value {
    let spec = &task.spec;
    json!({
        "id": task.id.to_string(),
        "text": spec.text,
        "title": spec.title,
        "bounty": amount(task.bounty),
        "status": task.status.as_str(),
        "poster": task.poster.as_str(),
        "claimed_by": task.claimant().map(IdentityId::as_str),
        "claim_expires_at": task.claim.as_ref().filter(|_| task.claimant().is_some()).map(|c| c.expires_at),
        "skill": spec.skill,
        "topic": spec.topic,
        "required_capabilities": spec.required_capabilities,
        "auto_accept": spec.auto_accept,
        "require_review": spec.require_review,
        "assign_to": spec.assign_to.as_ref().map(IdentityId::as_str),
        "bidding": spec.bidding,
        "delivery": spec.delivery,
        "depends_on": spec.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "queue": task.queue.iter().map(|e| json!({"agent": e.agent.as_str(), "joined_at": e.joined_at})).collect::<Vec<_>>(),
        "queue_length": task.queue.len(),
        "delivered_by": task.delivery.as_ref().map(|d| d.agent.as_str()),
        "delivered_at": task.delivery.as_ref().map(|d| d.delivered_at),
        "result": task.delivery.as_ref().filter(|d| !d.text.is_empty() || d.meta != DeliveryMeta::default()).map(|d| json!({"text": d.text, "meta": d.meta})),
        "rejection_count": task.rejection_count,
        "message_count": task.message_count,
        "created_at": task.created_at,
        "expires_at": task.expires_at,
        "updated_at": task.updated_at,
    })
}

/// `POST /api/v1/tasks`: posts a task, escrowing its bounty.
pub async fn post_task<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<PostTask>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let task = app.market.post_task(&caller, request.into_spec()?).await?;
    Ok((StatusCode::CREATED, Json(task_view(&task))))
}

/// `GET /api/v1/tasks/{id}`: the task, as the caller (if any) may see it.
pub async fn get_task<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let viewer = caller.map(|Caller(c)| c);
    let task = app.market.task(viewer.as_ref(), task_id(&id)?).await?;
    Ok(Json(task_view(&task)))
}

/// `GET /api/v1/tasks/{id}/status`: status, claimant and bounty; no auth.
pub async fn task_status<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = app.market.task(None, task_id(&id)?).await?;
    Ok(Json(json!({
        "id": task.id.to_string(),
        "status": task.status.as_str(),
        "claimed_by": task.claimant().map(IdentityId::as_str),
        "bounty": amount(task.bounty),
    })))
}

/// `POST /api/v1/tasks/{id}/claim` body (optional).
#[derive(Debug, Default, Deserialize)]
pub struct ClaimRequest {
    /// A note to the poster ("On it").
    #[serde(default)]
    pub text: Option<String>,
}

/// `POST /api/v1/tasks/{id}/claim`: first claim wins.
pub async fn claim<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let note = optional_json::<ClaimRequest>(&body)?.text;
    let task = app
        .market
        .claim_with_note(&caller, task_id(&id)?, note)
        .await?;
    Ok(Json(task_view(&task)))
}

/// `POST /api/v1/tasks/{id}/deliver` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverRequest {
    /// The result.
    pub text: String,
    /// `output`, `artifact_hash`, `artifact_url`.
    #[serde(default)]
    pub meta: DeliveryMeta,
}

/// `POST /api/v1/tasks/{id}/deliver`: the claimant submits its result.
pub async fn deliver<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<DeliverRequest>,
) -> Result<Json<Value>, ApiError> {
    let delivery = DeliveryInput {
        text: request.text,
        meta: request.meta,
    };
    let task = app.market.deliver(&caller, task_id(&id)?, delivery).await?;
    Ok(Json(task_view(&task)))
}

/// `POST /api/v1/tasks/{id}/accept` body (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// 1-5.
    #[serde(default)]
    pub rating: Option<u8>,
}

/// `POST /api/v1/tasks/{id}/accept`: the poster accepts; the bounty is released minus the
/// fee.
pub async fn accept<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let rating = optional_json::<AcceptRequest>(&body)?.rating;
    let task = app.market.accept(&caller, task_id(&id)?, rating).await?;
    Ok(Json(task_view(&task)))
}

/// `GET /api/v1/tasks` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ListTasks {
    /// `open`, `claimed`, `delivered`, `completed`, `cancelled`, `expired`.
    pub status: Option<String>,
    /// Only tasks needing this skill.
    pub skill: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<usize>,
    /// Cursor: tasks posted before this task id.
    pub before: Option<String>,
}

/// `GET /api/v1/tasks`: newest first, as an array.
pub async fn list_tasks<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    Query(params): Query<ListTasks>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let status = params
        .status
        .as_deref()
        .map(|s| TaskStatus::parse(s).ok_or_else(|| Error::invalid("status", "unknown status")))
        .transpose()?;
    let query = TaskQuery {
        status,
        skill: params.skill,
        before: params.before.as_deref().map(str::parse).transpose()?,
        limit: params.limit.unwrap_or(0),
        ..TaskQuery::default()
    };
    let viewer = caller.map(|Caller(c)| c);
    let tasks = app.market.tasks(viewer.as_ref(), query).await?;
    Ok(Json(tasks.iter().map(task_view).collect()))
}

/// `GET /api/v1/tasks/{id}/result`: the delivery, for the poster and the deliverer.
pub async fn task_result<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = app.market.task_result(&caller, task_id(&id)?).await?;
    let delivery = task.delivery.as_ref().ok_or(Error::WrongState {
        status: task.status,
    })?;
    Ok(Json(json!({
        "task_id": task.id.to_string(),
        "text": delivery.text,
        "meta": delivery.meta,
        "delivered_by": delivery.agent.as_str(),
        "delivered_at": delivery.delivered_at,
        "late": delivery.late,
    })))
}

/// `POST /api/v1/tasks/{id}/reject` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Feedback for the deliverer.
    #[serde(default)]
    pub text: String,
    /// `quality`, `format`, `wrong_interpretation`, `too_slow`, `incomplete`, `other`.
    pub category: RejectCategory,
}

/// `POST /api/v1/tasks/{id}/reject`: the poster rejects; the queue's head takes over, or
/// the task reopens.
pub async fn reject<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<RejectRequest>,
) -> Result<Json<Value>, ApiError> {
    let task = app
        .market
        .reject(&caller, task_id(&id)?, request.text, request.category)
        .await?;
    Ok(Json(task_view(&task)))
}

/// `POST /api/v1/tasks/{id}/cancel`: the poster cancels an open or claimed task; the
/// bounty is refunded.
pub async fn cancel<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = app.market.cancel(&caller, task_id(&id)?).await?;
    Ok(Json(task_view(&task)))
}

/// `POST /api/v1/tasks/{id}/queue`: joins the waitlist of a claimed task.
pub async fn join_queue<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = app.market.join_queue(&caller, task_id(&id)?).await?;
    Ok(Json(task_view(&task)))
}

/// `DELETE /api/v1/tasks/{id}/queue`: leaves the waitlist.
pub async fn leave_queue<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = app.market.leave_queue(&caller, task_id(&id)?).await?;
    Ok(Json(task_view(&task)))
}

/// `GET /api/v1/balance`: the caller's money.
pub async fn balance<S: Store + Credentials + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
) -> Result<Json<Value>, ApiError> {
    let b = app.market.balance(&caller).await?;
    Ok(Json(json!({
        "identity_hash": b.identity.as_str(),
        "balance": amount(b.balance),
        "credit_limit": amount(b.credit_limit),
        "available": amount(b.available),
        "escrowed": amount(b.escrowed),
        "total_earned": amount(b.total_earned),
        "total_spent": amount(b.total_spent),
        "total_fees": amount(b.total_fees),
    })))
}

/// A body that may be absent: empty means the defaults.
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadBody(e.to_string()))
}
