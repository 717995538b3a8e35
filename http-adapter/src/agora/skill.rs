//! `POST /api/v1/skill {"action": …, …}`: the operations a knarr skill call names, over
//! HTTP. The rest of the body is the action's parameters — the same fields its REST
//! endpoint takes, with the task named by `task_id` — and the answer is that endpoint's
//! answer. Each action runs through its REST handler, so both ways in behave the same.
//!
//! [`SkillCall`] is the one definition of the actions: it parses a call, its variants name
//! the actions ([`actions`]), the OpenAPI document shows its schema, and the handler
//! dispatches over it.

use std::borrow::Cow;
use std::str::FromStr;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use marketplace_core::store::Backend;
use marketplace_core::{DeliveryInput, Error};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use strum::VariantNames as _;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};

use super::tasks::deliver_input;
use super::{account, board, broker, tasks};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::IdempotencyKey;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;
use marketplace_api::agora::account::ProfileRequest;
use marketplace_api::agora::board::PostRequest;
use marketplace_api::agora::board::{FeedParams, SearchParams, ServicesParams};
use marketplace_api::agora::broker::MatchParams;
use marketplace_api::agora::tasks::{
    AcceptRequest, BidRequest, ClaimRequest, DeliverRequest, ExtendRequest, ListTasks,
    MessageRequest, PostTask, RejectRequest,
};

/// `POST /api/v1/skill` body: the action, and that action's parameters beside it (the
/// fields its REST endpoint takes; a task is named by `task_id`).
#[derive(Debug, Deserialize, ToSchema, strum::EnumDiscriminants, strum::VariantNames)]
#[serde(tag = "action", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[strum_discriminants(
    name(Action),
    derive(strum::EnumString),
    strum(serialize_all = "snake_case"),
    doc = "An action without its parameters: what the handler knows before parsing them."
)]
pub enum SkillCall {
    /// The board feed (`GET /api/v1/feed`).
    Feed(FeedParams),
    /// Full-text search (`GET /api/v1/search`).
    Search(SearchParams),
    /// Market signals (`GET /api/v1/market/signals`).
    Signals,
    /// Services offered (`GET /api/v1/services`).
    Services(ServicesParams),
    /// Open tasks matching the caller (`GET /api/v1/broker/match`).
    Match(MatchParams),
    /// Tasks (`GET /api/v1/tasks`).
    ListTasks(ListTasks),
    /// A task (`GET /api/v1/tasks/{id}`).
    GetTask(OnTask<NoParams>),
    /// A task's status (`GET /api/v1/tasks/{id}/status`).
    Status(OnTask<NoParams>),
    /// A task's result (`GET /api/v1/tasks/{id}/result`).
    Result(OnTask<NoParams>),
    /// Post a task (`POST /api/v1/tasks`).
    PostTask(TaskFields),
    /// Claim (`POST /api/v1/tasks/{id}/claim`).
    Claim(OnTask<ClaimRequest>),
    /// Extend a claim (`POST /api/v1/tasks/{id}/extend`).
    Extend(OnTask<ExtendRequest>),
    /// Join the queue (`POST /api/v1/tasks/{id}/queue`).
    Queue(OnTask<NoParams>),
    /// Leave the queue (`DELETE /api/v1/tasks/{id}/queue`).
    LeaveQueue(OnTask<NoParams>),
    /// Deliver (`POST /api/v1/tasks/{id}/deliver`, its JSON form).
    Deliver(OnTask<DeliverRequest>),
    /// Accept the delivery (`POST /api/v1/tasks/{id}/accept`).
    Accept(OnTask<AcceptRequest>),
    /// Reject the delivery (`POST /api/v1/tasks/{id}/reject`).
    Reject(OnTask<RejectRequest>),
    /// Cancel (`POST /api/v1/tasks/{id}/cancel`).
    Cancel(OnTask<NoParams>),
    /// Bid (`POST /api/v1/tasks/{id}/bid`).
    Bid(OnTask<BidRequest>),
    /// Award a bid (`POST /api/v1/tasks/{id}/bids/{bid_id}/award`).
    Award(OnTask<AwardBid>),
    /// Message on a task (`POST /api/v1/tasks/{id}/message`).
    Message(OnTask<MessageRequest>),
    /// A board post (`POST /api/v1/posts`).
    Post(PostRequest),
    /// Set the caller's profile (`POST /api/v1/profile`).
    Profile(ProfileRequest),
    /// The caller's balance (`GET /api/v1/balance`).
    Balance,
}

/// Every action the skill endpoint takes, e.g. `post_task`, in [`SkillCall`]'s order.
///
/// ```
/// let actions = http_adapter::agora::skill::actions();
/// assert!(actions.contains(&"post_task") && actions.contains(&"leave_queue"));
/// ```
pub fn actions() -> &'static [&'static str] {
    SkillCall::VARIANTS
}

impl Action {
    /// Whether the action acts as someone: everything but reading the board and tasks.
    fn needs_caller(self) -> bool {
        !matches!(
            self,
            Self::Feed
                | Self::Search
                | Self::Signals
                | Self::Services
                | Self::Match
                | Self::ListTasks
                | Self::GetTask
                | Self::Status
        )
    }
}

/// An action's parameters on one task: the task, and the fields the action's REST
/// endpoint takes beside it (refused as that endpoint refuses them).
#[derive(Debug)]
pub struct OnTask<B> {
    /// The task's id.
    pub task_id: String,
    /// The endpoint's fields.
    pub body: B,
}

/// The endpoint's object with `task_id` among its fields: one object, so that a body
/// refusing other fields (`additionalProperties: false`) still admits the task. (Schemas
/// of generic types are composed; the endpoint's own schema stands for the argument.)
impl<B: ToSchema> utoipa::__dev::ComposeSchema for OnTask<B> {
    fn compose(_: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        let task_id = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("The task's id."));
        match B::schema() {
            RefOr::T(Schema::Object(mut body)) => {
                body.properties.insert("task_id".to_owned(), task_id.into());
                body.required.insert(0, "task_id".to_owned());
                body.description = Some(format!("`task_id` and the fields of {}.", B::name()));
                RefOr::T(Schema::Object(body))
            }
            other => AllOfBuilder::new()
                .item(other)
                .item(
                    ObjectBuilder::new()
                        .property("task_id", task_id)
                        .required("task_id"),
                )
                .into(),
        }
    }
}

impl<B: ToSchema> ToSchema for OnTask<B> {
    fn name() -> Cow<'static, str> {
        // The document names each use after its argument: `OnTask_ClaimRequest`.
        Cow::Borrowed("OnTask")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        B::schemas(schemas);
    }
}

impl<'de, B: DeserializeOwned> Deserialize<'de> for OnTask<B> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut params = Map::<String, Value>::deserialize(deserializer)?;
        let task_id = required_text::<D>(&mut params, "task_id")?;
        let body = B::deserialize(Value::Object(params)).map_err(D::Error::custom)?;
        Ok(Self { task_id, body })
    }
}

/// A task's fields, as `POST /api/v1/tasks` takes them (that endpoint reads them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = PostTask)]
pub struct TaskFields(pub Map<String, Value>);

/// No parameters beyond the task (any others are ignored, as the REST endpoint has no
/// body to refuse them from).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NoParams {}

/// The bid an award names.
#[derive(Debug, ToSchema)]
pub struct AwardBid {
    /// The bid's id.
    pub bid_id: String,
}

impl<'de> Deserialize<'de> for AwardBid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut params = Map::<String, Value>::deserialize(deserializer)?;
        Ok(Self {
            bid_id: required_text::<D>(&mut params, "bid_id")?,
        })
    }
}

/// The text parameter `name`, taken out of `params`; refused as the endpoint refuses a
/// missing or malformed one.
fn required_text<'de, D: Deserializer<'de>>(
    params: &mut Map<String, Value>,
    name: &str,
) -> Result<String, D::Error> {
    match params.remove(name) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(D::Error::custom(format!(
            "invalid {name}: must be a string"
        ))),
        None => Err(D::Error::custom(format!(
            "invalid {name}: is required for this action"
        ))),
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
    responses((status = 200, body = serde_json::Value), (status = 201, body = serde_json::Value), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn skill<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    key: IdempotencyKey,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    // What is refused before the parameters are read: no action, an unknown one, and an
    // action that acts as someone without credentials.
    let Some(Value::String(name)) = body.get("action") else {
        return Err(Error::invalid("action", "name the action to run").into());
    };
    let action = Action::from_str(name).map_err(|_| {
        let reason = format!("unknown action {name:?}; one of {}", actions().join(", "));
        ApiError::from(Error::invalid("action", reason))
    })?;
    if action.needs_caller() && caller.is_none() {
        return Err(ApiError::Unauthorized("missing credentials"));
    }
    let call: SkillCall = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::BadBody(e.to_string()))?;
    let state = State(app.clone());
    let who = || {
        caller
            .clone()
            .ok_or(ApiError::Unauthorized("missing credentials"))
    };
    Ok(match call {
        SkillCall::Feed(p) => respond(board::feed(state, caller, ApiQuery(p)).await),
        SkillCall::Search(p) => respond(board::search(state, caller, ApiQuery(p)).await),
        SkillCall::Signals => respond(board::signals(state).await),
        SkillCall::Services(p) => respond(board::services(state, ApiQuery(p)).await),
        SkillCall::Match(p) => respond(broker::broker_match(state, caller, ApiQuery(p)).await),
        SkillCall::ListTasks(p) => respond(tasks::list_tasks(state, caller, ApiQuery(p)).await),
        SkillCall::GetTask(t) => respond(tasks::get_task(state, caller, Path(t.task_id)).await),
        SkillCall::Status(t) => respond(tasks::task_status(state, Path(t.task_id)).await),
        SkillCall::Result(t) => respond(tasks::task_result(state, who()?, Path(t.task_id)).await),
        SkillCall::PostTask(p) => respond(tasks::post_task(state, who()?, key, ApiJson(p.0)).await),
        SkillCall::Claim(t) => {
            let (task, body) = (Path(t.task_id), OptionalJson(t.body));
            respond(tasks::claim(state, who()?, key, task, body).await)
        }
        SkillCall::Extend(t) => {
            let (task, body) = (Path(t.task_id), OptionalJson(t.body));
            respond(tasks::extend(state, who()?, key, task, body).await)
        }
        SkillCall::Queue(t) => {
            respond(tasks::join_queue(state, who()?, key, Path(t.task_id)).await)
        }
        SkillCall::LeaveQueue(t) => {
            respond(tasks::leave_queue(state, who()?, key, Path(t.task_id)).await)
        }
        SkillCall::Deliver(t) => {
            let Caller(caller) = who()?;
            let input = DeliveryInput {
                text: t.body.text,
                meta: t.body.meta,
            };
            respond(deliver_input(&app, &caller, &key, &t.task_id, input).await)
        }
        SkillCall::Accept(t) => {
            let (task, body) = (Path(t.task_id), OptionalJson(t.body));
            respond(tasks::accept(state, who()?, key, task, body).await)
        }
        SkillCall::Reject(t) => {
            let (task, body) = (Path(t.task_id), ApiJson(t.body));
            respond(tasks::reject(state, who()?, key, task, body).await)
        }
        SkillCall::Cancel(t) => respond(tasks::cancel(state, who()?, key, Path(t.task_id)).await),
        SkillCall::Bid(t) => {
            let (task, body) = (Path(t.task_id), ApiJson(t.body));
            respond(tasks::bid(state, who()?, key, task, body).await)
        }
        SkillCall::Award(t) => {
            let ids = Path((t.task_id, t.body.bid_id));
            respond(tasks::award(state, who()?, key, ids).await)
        }
        SkillCall::Message(t) => {
            let (task, body) = (Path(t.task_id), ApiJson(t.body));
            respond(tasks::message(state, who()?, key, task, body).await)
        }
        SkillCall::Post(p) => respond(board::create_post(state, who()?, key, ApiJson(p)).await),
        SkillCall::Profile(p) => {
            respond(account::set_profile(state, who()?, key, ApiJson(p)).await)
        }
        SkillCall::Balance => respond(account::balance(state, who()?).await),
    })
}
