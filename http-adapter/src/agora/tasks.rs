//! Agora's task endpoints: post, list, read, claim, extend, queue, bid and award,
//! deliver, accept, reject, cancel, and task messages.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use marketplace_core::store::{Backend, TaskQuery};
use marketplace_core::{
    Bid, Command, DeliveryInput, Error, IdentityId, Message, Store, Task, TaskStatus,
};
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::IdempotencyKey;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;
use crate::wire::task_id;
use marketplace_api::agora::tasks::{
    AcceptRequest, BidRequest, BidView, ClaimRequest, DeliveryView, ExtendRequest, ListTasks,
    MessageRequest, MessageView, OpenWork, PostTask, RejectRequest, StatusView, TaskView,
};

/// Reads a posted body: options may sit at the top level or inside `meta` (as a knarr
/// skill call sends them); the same option in both places is refused.
fn post_task_from_body(mut body: Map<String, Value>) -> Result<PostTask, ApiError> {
    if let Some(meta) = body.remove("meta") {
        let Value::Object(meta) = meta else {
            return Err(Error::invalid("meta", "must be an object").into());
        };
        for (name, value) in meta {
            if body.contains_key(&name) {
                let reason = "given both at the top level and in meta";
                return Err(Error::invalid(name, reason).into());
            }
            body.insert(name, value);
        }
    }
    serde_json::from_value(Value::Object(body)).map_err(|e| ApiError::BadBody(e.to_string()))
}

fn answer(task: &Task, caller: &IdentityId) -> Json<TaskView> {
    Json(TaskView::of(task, Some(caller)))
}

/// `POST /api/v1/tasks`: posts a task, escrowing its bounty.
#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    tag = "agora",
    operation_id = "agora_post_task",
    request_body = PostTask,
    params(IdempotencyKey),
    responses((status = 201, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn post_task<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let spec = post_task_from_body(body)?.into_spec()?;
    let task = app
        .task_command(&caller, &key, Command::PostTask(spec.into()))
        .await?;
    Ok((StatusCode::CREATED, answer(&task, &caller)))
}

/// `GET /api/v1/tasks/{id}`: the task with its replies and queue, as the caller (if any)
/// may see it.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "agora",
    operation_id = "agora_get_task",
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn get_task<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let viewer = caller.map(|Caller(c)| c);
    let id = task_id(&id)?;
    let task = app.market.task(viewer.as_ref(), id).await?;
    let replies = app.market.messages(viewer.as_ref(), id).await?;
    let mut view = TaskView::of(&task, viewer.as_ref());
    view.replies = Some(replies.iter().map(MessageView::from).collect());
    Ok(Json(view))
}

/// `GET /api/v1/tasks/{id}/status`: status, claimant and bounty; no auth.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}/status",
    tag = "agora",
    operation_id = "agora_task_status",
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = StatusView), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn task_status<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Path(id): Path<String>,
) -> Result<Json<StatusView>, ApiError> {
    let task = app.market.task(None, task_id(&id)?).await?;
    Ok(Json(StatusView {
        id: task.id.to_string(),
        status: task.status.as_str().to_owned(),
        claimed_by: task.claimant().map(|c| c.as_str().to_owned()),
        bounty: task.bounty.into(),
    }))
}

/// `POST /api/v1/tasks/{id}/claim`: first claim wins.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/claim",
    tag = "agora",
    operation_id = "agora_claim",
    request_body = Option<ClaimRequest>,
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn claim<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ClaimRequest>,
) -> Result<Json<TaskView>, ApiError> {
    let note = body.text;
    let command = Command::Claim {
        task: task_id(&id)?,
        note,
    };
    let task = app.task_command(&caller, &key, command).await?;
    Ok(answer(&task, &caller))
}

/// `POST /api/v1/tasks/{id}/extend`: the claimant renews its claim.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/extend",
    tag = "agora",
    operation_id = "agora_extend",
    request_body = Option<ExtendRequest>,
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn extend<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ExtendRequest>,
) -> Result<Json<TaskView>, ApiError> {
    let secs = body.secs;
    let command = Command::Extend {
        task: task_id(&id)?,
        secs,
    };
    let task = app.task_command(&caller, &key, command).await?;
    Ok(answer(&task, &caller))
}

/// Delivers for `caller` and answers with the task.
pub async fn deliver_input<S: Store + Clone>(
    app: &AppState<S>,
    caller: &IdentityId,
    key: &IdempotencyKey,
    id: &str,
    delivery: DeliveryInput,
) -> Result<Json<TaskView>, ApiError> {
    let command = Command::Deliver {
        task: task_id(id)?,
        delivery,
    };
    let task = app.task_command(caller, key, command).await?;
    Ok(answer(&task, caller))
}

/// `POST /api/v1/tasks/{id}/accept`: the poster accepts; the bounty is released minus the
/// fee.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/accept",
    tag = "agora",
    operation_id = "agora_accept",
    request_body = Option<AcceptRequest>,
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn accept<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<AcceptRequest>,
) -> Result<Json<TaskView>, ApiError> {
    let rating = body.rating;
    let command = Command::Accept {
        task: task_id(&id)?,
        rating,
    };
    let task = app.task_command(&caller, &key, command).await?;
    Ok(answer(&task, &caller))
}

/// `GET /api/v1/tasks`: newest first, as an array. With `q`, the tasks matching every word,
/// newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "agora",
    operation_id = "agora_list_tasks",
    params(ListTasks),
    responses((status = 200, body = Vec<TaskView>), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn list_tasks<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    ApiQuery(params): ApiQuery<ListTasks>,
) -> Result<Json<Vec<TaskView>>, ApiError> {
    let status = params
        .status
        .as_deref()
        .map(|s| TaskStatus::parse(s).ok_or_else(|| Error::invalid("status", "unknown status")))
        .transpose()?;
    let viewer = caller.map(|Caller(c)| c);
    let tasks = if let Some(q) = params.q {
        let query = marketplace_core::store::SearchQuery {
            text: q,
            kind: Some(marketplace_core::store::FeedKind::Task),
            topic: None,
            limit: crate::wire::PageLimit::or_default(params.limit),
        };
        app.market
            .search(query)
            .await?
            .into_iter()
            .filter_map(|item| match item {
                marketplace_core::store::FeedItem::Task(t) => Some(t),
                marketplace_core::store::FeedItem::Post(_) => None,
            })
            .filter(|t| status.is_none_or(|s| s == t.status))
            .filter(|t| params.skill.is_none() || t.spec.skill == params.skill)
            .filter(|t| {
                let tags = t.spec.match_tags();
                params.capability.as_ref().is_none_or(|c| tags.contains(c))
            })
            .collect()
    } else {
        let query = TaskQuery {
            status,
            skill: params.skill,
            capabilities: params.capability.into_iter().collect(),
            before: params.before.as_deref().map(str::parse).transpose()?,
            limit: crate::wire::PageLimit::or_default(params.limit),
            ..TaskQuery::default()
        };
        app.market.tasks(viewer.as_ref(), query).await?
    };
    Ok(Json(
        tasks
            .iter()
            .map(|t| TaskView::of(t, viewer.as_ref()))
            .collect(),
    ))
}

/// `GET /api/v1/tasks/{id}/result`: the delivery, for the poster and the deliverer.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}/result",
    tag = "agora",
    operation_id = "agora_task_result",
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = DeliveryView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn task_result<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    let task = app.market.task_result(&caller, task_id(&id)?).await?;
    let delivery = task.delivery.as_ref().ok_or(Error::WrongState {
        status: task.status,
    })?;
    Ok(Json(DeliveryView {
        task_id: task.id.to_string(),
        text: delivery.text.clone(),
        meta: delivery.meta.clone(),
        delivered_by: delivery.agent.as_str().to_owned(),
        delivered_at: delivery.delivered_at,
        late: delivery.late,
    }))
}

/// `POST /api/v1/tasks/{id}/reject`: the poster rejects; the queue's head takes over, or
/// the task reopens.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/reject",
    tag = "agora",
    operation_id = "agora_reject",
    request_body = RejectRequest,
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn reject<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<RejectRequest>,
) -> Result<Json<TaskView>, ApiError> {
    let command = Command::Reject {
        task: task_id(&id)?,
        text: request.text,
        category: request.category,
    };
    let task = app.task_command(&caller, &key, command).await?;
    Ok(answer(&task, &caller))
}

macro_rules! task_verb {
    ($(#[$doc:meta])* $name:ident => $variant:ident) => {
        $(#[$doc])*
        pub async fn $name<S: Backend + Clone>(
            State(app): State<AppState<S>>,
            Caller(caller): Caller,
            key: IdempotencyKey,
            Path(id): Path<String>,
        ) -> Result<Json<TaskView>, ApiError> {
            let command = Command::$variant { task: task_id(&id)? };
            let task = app.task_command(&caller, &key, command).await?;
            Ok(answer(&task, &caller))
        }
    };
}

task_verb!(
    #[utoipa::path(
        post,
        path = "/api/v1/tasks/{id}/cancel",
        tag = "agora",
    operation_id = "agora_cancel",
        params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
        responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
        security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
    )]
    /// `POST /api/v1/tasks/{id}/cancel`: the poster cancels an open or claimed task; the
    /// bounty is refunded.
    cancel => Cancel
);
task_verb!(
    #[utoipa::path(
        post,
        path = "/api/v1/tasks/{id}/queue",
        tag = "agora",
    operation_id = "agora_join_queue",
        params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
        responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
        security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
    )]
    /// `POST /api/v1/tasks/{id}/queue`: joins the waitlist of a claimed task.
    join_queue => JoinQueue
);
task_verb!(
    #[utoipa::path(
        delete,
        path = "/api/v1/tasks/{id}/queue",
        tag = "agora",
    operation_id = "agora_leave_queue",
        params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
        responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
        security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
    )]
    /// `DELETE /api/v1/tasks/{id}/queue`: leaves the waitlist.
    leave_queue => LeaveQueue
);

/// `POST /api/v1/tasks/{id}/bid`: bids on a bidding task (a new bid replaces the caller's
/// earlier one).
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/bid",
    tag = "agora",
    operation_id = "agora_bid",
    request_body = BidRequest,
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 201, body = BidView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn bid<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<BidRequest>,
) -> Result<(StatusCode, Json<BidView>), ApiError> {
    let task = task_id(&id)?;
    let command = Command::Bid {
        task,
        text: request.text,
        offered_price: request.offered_price.0,
        turnaround_secs: request.turnaround_s,
    };
    let bid: Bid = app.command(&caller, &key, command).await?;
    Ok((StatusCode::CREATED, Json(BidView::of(task, &bid))))
}

/// `POST /api/v1/tasks/{id}/bids/{bid_id}/award`: the poster picks a bid; the bidder holds
/// the claim and the bounty becomes the offered price.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/bids/{bid_id}/award",
    tag = "agora",
    operation_id = "agora_award",
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id"), ("bid_id" = String, Path, description = "The bid's id")),
    responses((status = 200, body = TaskView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn award<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path((id, bid)): Path<(String, String)>,
) -> Result<Json<TaskView>, ApiError> {
    let command = Command::Award {
        task: task_id(&id)?,
        bid: bid.parse().map_err(|_| Error::BidNotFound)?,
    };
    let task = app.task_command(&caller, &key, command).await?;
    Ok(answer(&task, &caller))
}

/// `POST /api/v1/tasks/{id}/message`: a task-scoped message.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/message",
    tag = "agora",
    operation_id = "agora_message",
    request_body = MessageRequest,
    params(IdempotencyKey, ("id" = String, Path, description = "The task's id")),
    responses((status = 201, body = MessageView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn message<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<MessageRequest>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let command = Command::Message {
        task: task_id(&id)?,
        text: request.text,
        pre_claim: request.pre_claim,
    };
    let message: Message = app.command(&caller, &key, command).await?;
    Ok((StatusCode::CREATED, Json(MessageView::from(&message))))
}

/// `identity`'s open work, as it may see it (a page of each, newest first).
pub async fn open_work<S: Store + Clone>(
    app: &AppState<S>,
    identity: &IdentityId,
) -> Result<OpenWork, ApiError> {
    let of = async |query: TaskQuery| -> Result<Vec<TaskView>, ApiError> {
        let tasks = app.market.tasks(Some(identity), query).await?;
        Ok(tasks
            .iter()
            .map(|t| TaskView::of(t, Some(identity)))
            .collect())
    };
    Ok(OpenWork {
        claimed: of(TaskQuery {
            claimant: Some(identity.clone()),
            ..TaskQuery::default()
        })
        .await?,
        to_review: of(TaskQuery {
            poster: Some(identity.clone()),
            status: Some(TaskStatus::Delivered),
            ..TaskQuery::default()
        })
        .await?,
        posted: of(TaskQuery {
            poster: Some(identity.clone()),
            status: Some(TaskStatus::Open),
            ..TaskQuery::default()
        })
        .await?,
        queued: of(TaskQuery {
            queued: Some(identity.clone()),
            ..TaskQuery::default()
        })
        .await?,
        delivered: of(TaskQuery {
            deliverer: Some(identity.clone()),
            status: Some(TaskStatus::Delivered),
            ..TaskQuery::default()
        })
        .await?,
    })
}
