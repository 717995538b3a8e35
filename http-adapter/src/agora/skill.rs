//! `POST /api/v1/skill {"action": …, …}`: the operations a knarr skill call names, over
//! HTTP. The rest of the body is the action's parameters — the same fields its REST
//! endpoint takes, with the task named by `task_id` — and the answer is that endpoint's
//! answer. Each action runs through its REST handler, so both ways in behave the same.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use marketplace_core::store::Backend;
use marketplace_core::{DeliveryInput, Error};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::tasks::{DeliverRequest, deliver_input};
use super::{account, board, broker, tasks};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::IdempotencyKey;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;

/// `POST /api/v1/skill` body: the action, and that action's parameters beside it (the
/// fields its REST endpoint takes; a task is named by `task_id`).
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SkillCall {
    /// `feed`, `search`, `post_task`, `claim`, `deliver`, `accept`, `reject`, … (see
    /// [`crate::agora::skill::ACTIONS`]).
    pub action: String,
    /// The task an action on one task names.
    pub task_id: Option<String>,
}

/// Every action the skill endpoint takes.
pub const ACTIONS: [&str; 24] = [
    "feed",
    "search",
    "signals",
    "services",
    "match",
    "list_tasks",
    "get_task",
    "status",
    "result",
    "post_task",
    "claim",
    "extend",
    "queue",
    "leave_queue",
    "deliver",
    "accept",
    "reject",
    "cancel",
    "bid",
    "award",
    "message",
    "post",
    "profile",
    "balance",
];

/// Takes the action's parameters apart: `task_id` (when the action names a task) and the
/// rest.
struct Params(Map<String, Value>);

impl Params {
    fn take_str(&mut self, name: &'static str) -> Result<String, ApiError> {
        match self.0.remove(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(Error::invalid(name, "must be a string").into()),
            None => Err(Error::invalid(name, "is required for this action").into()),
        }
    }

    fn task(&mut self) -> Result<Path<String>, ApiError> {
        self.take_str("task_id").map(Path)
    }

    fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        serde_json::from_value(Value::Object(self.0)).map_err(|e| ApiError::BadBody(e.to_string()))
    }

    fn query<T: DeserializeOwned>(self) -> Result<ApiQuery<T>, ApiError> {
        self.parse().map(ApiQuery)
    }

    fn json<T: DeserializeOwned>(self) -> Result<ApiJson<T>, ApiError> {
        self.parse().map(ApiJson)
    }

    fn optional<T: DeserializeOwned + Default>(self) -> Result<OptionalJson<T>, ApiError> {
        if self.0.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        self.parse().map(OptionalJson)
    }
}

fn respond<T: IntoResponse>(result: Result<T, ApiError>) -> Response {
    result.into_response()
}

/// `POST /api/v1/skill`: runs the named action.
#[utoipa::path(
    post,
    path = "/api/v1/skill",
    tag = "agora",
    operation_id = "agora_skill",
    request_body = SkillCall,
    params(IdempotencyKey),
    responses((status = 200, body = serde_json::Value), (status = 201, body = serde_json::Value), (status = "4XX", body = crate::error::ErrorBody))
)]
pub async fn skill<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    key: IdempotencyKey,
    ApiJson(mut body): ApiJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let Some(Value::String(action)) = body.remove("action") else {
        return Err(Error::invalid("action", "name the action to run").into());
    };
    let mut p = Params(body);
    let state = State(app.clone());
    // Reads take an optional caller; everything else needs one.
    let who = || {
        caller
            .clone()
            .ok_or(ApiError::Unauthorized("missing credentials"))
    };
    Ok(match action.as_str() {
        "feed" => respond(board::feed(state, caller.clone(), p.query()?).await),
        "search" => respond(board::search(state, caller.clone(), p.query()?).await),
        "signals" => respond(board::signals(state).await),
        "services" => respond(board::services(state, p.query()?).await),
        "match" => respond(broker::broker_match(state, caller.clone(), p.query()?).await),
        "list_tasks" => respond(tasks::list_tasks(state, caller.clone(), p.query()?).await),
        "get_task" => respond(tasks::get_task(state, caller.clone(), p.task()?).await),
        "status" => respond(tasks::task_status(state, p.task()?).await),
        "result" => respond(tasks::task_result(state, who()?, p.task()?).await),
        "post_task" => respond(tasks::post_task(state, who()?, key, ApiJson(p.0)).await),
        "claim" => respond(tasks::claim(state, who()?, key, p.task()?, p.optional()?).await),
        "extend" => respond(tasks::extend(state, who()?, key, p.task()?, p.optional()?).await),
        "queue" => respond(tasks::join_queue(state, who()?, key, p.task()?).await),
        "leave_queue" => respond(tasks::leave_queue(state, who()?, key, p.task()?).await),
        "deliver" => {
            let Caller(caller) = who()?;
            let Path(task) = p.task()?;
            let request: DeliverRequest = p.parse()?;
            let input = DeliveryInput {
                text: request.text,
                meta: request.meta,
            };
            respond(deliver_input(&app, &caller, &key, &task, input).await)
        }
        "accept" => respond(tasks::accept(state, who()?, key, p.task()?, p.optional()?).await),
        "reject" => respond(tasks::reject(state, who()?, key, p.task()?, p.json()?).await),
        "cancel" => respond(tasks::cancel(state, who()?, key, p.task()?).await),
        "bid" => respond(tasks::bid(state, who()?, key, p.task()?, p.json()?).await),
        "award" => {
            let Path(task) = p.task()?;
            let bid = p.take_str("bid_id")?;
            respond(tasks::award(state, who()?, key, Path((task, bid))).await)
        }
        "message" => respond(tasks::message(state, who()?, key, p.task()?, p.json()?).await),
        "post" => respond(board::create_post(state, who()?, key, p.json()?).await),
        "profile" => respond(account::set_profile(state, who()?, key, p.json()?).await),
        "balance" => respond(account::balance(state, who()?).await),
        other => {
            let reason = format!("unknown action {other:?}; one of {}", ACTIONS.join(", "));
            return Err(Error::invalid("action", reason).into());
        }
    })
}
