//! Agora's discovery endpoints: the feed, full-text search, market signals, service
//! listings, and publishing board posts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use marketplace_core::store::{Backend, FeedItem, FeedKind, FeedQuery, MarketSignals, SearchQuery};
use marketplace_core::{
    Activity, ActivityKind, BoardPost, Command, Error, IdentityId, MetaFilter, PostKind, PostSpec,
    ServiceMeta,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use super::tasks::TaskView;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::extract::IdempotencyKey;
use crate::extract::identity;
use crate::state::AppState;
use crate::wire::Amount;

/// A service listing's terms.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTerms {
    /// The asking price.
    pub price: Amount,
    /// Promised turnaround, seconds.
    #[serde(default)]
    pub turnaround_sla_s: Option<u64>,
    /// What the service covers.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// A board post.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PostView {
    /// The post's id.
    pub id: String,
    /// `service`, `post`, `question` or `answer`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub text: String,
    /// Board topic.
    pub topic: Option<String>,
    /// The question an answer replies to.
    pub reply_to: Option<String>,
    /// A service listing's terms.
    pub meta: Option<ServiceTerms>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
}

impl From<&BoardPost> for PostView {
    fn from(p: &BoardPost) -> Self {
        Self {
            id: p.id.to_string(),
            kind: p.kind.as_str().to_owned(),
            author: p.author.as_str().to_owned(),
            text: p.text.clone(),
            topic: p.topic.clone(),
            reply_to: p.reply_to.map(|r| r.to_string()),
            meta: p.service.as_ref().map(|s| ServiceTerms {
                price: s.price.into(),
                turnaround_sla_s: s.turnaround_sla_secs,
                capabilities: s.capabilities.clone(),
            }),
            created_at: p.created_at,
        }
    }
}

/// A task in the feed: the task with `"type": "task"`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskItem {
    /// Always `task`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The task.
    #[serde(flatten)]
    pub task: TaskView,
}

/// An agent's act on a task in the feed: `claim` (with its note), `result` (the delivery)
/// or `bid`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityItem {
    /// `claim`, `result` or `bid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The task it replies to.
    pub reply_to: String,
    /// Who acted.
    pub author: String,
    /// A claim's note, a result's text, a bid's pitch.
    pub text: Option<String>,
    /// A result's meta (`output`, `artifact_hash`, `artifact_url`).
    #[schema(value_type = Option<Object>)]
    pub meta: Option<marketplace_core::DeliveryMeta>,
    /// A bid's price.
    pub offered_price: Option<Amount>,
    /// A bid's promised turnaround, seconds.
    pub turnaround_s: Option<u64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&Activity> for ActivityItem {
    fn from(a: &Activity) -> Self {
        Self {
            kind: match a.kind {
                ActivityKind::Claim => "claim",
                ActivityKind::Result => "result",
                ActivityKind::Bid => "bid",
            }
            .to_owned(),
            reply_to: a.task.to_string(),
            author: a.agent.as_str().to_owned(),
            text: a.text.clone(),
            meta: a.meta.clone(),
            offered_price: a.bid.as_ref().map(|b| b.offered_price.into()),
            turnaround_s: a.bid.as_ref().and_then(|b| b.turnaround_secs),
            created_at: a.at,
        }
    }
}

/// One item of the feed or of search results, told apart by `type`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FeedItemView {
    /// A task.
    Task(TaskItem),
    /// A board post.
    Post(PostView),
    /// A claim, result or bid on a task.
    Activity(ActivityItem),
}

impl FeedItemView {
    fn of(item: &FeedItem, viewer: Option<&IdentityId>) -> Self {
        match item {
            FeedItem::Task(task) => Self::Task(TaskItem {
                kind: "task".to_owned(),
                task: TaskView::of(task, viewer),
            }),
            FeedItem::Post(post) => Self::Post(post.into()),
        }
    }
}

/// What the feed's `type` may be.
const FEED_TYPES: &str = "task, service, post, question, answer, claim, result or bid";
/// What search's `type` may be.
const SEARCH_TYPES: &str = "task, service, post, question or answer";

/// A `type` naming a task or board post kind; refused with the `kinds` the caller may name.
fn kind(text: Option<&str>, kinds: &'static str) -> Result<Option<FeedKind>, ApiError> {
    text.map(|t| FeedKind::parse(t).ok_or_else(|| Error::invalid("type", kinds).into()))
        .transpose()
}

/// `GET /api/v1/feed` parameters.
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Only this topic.
    pub topic: Option<String>,
    /// `task`, `service`, `post`, `question`, `answer`, or an agent's act on a task:
    /// `claim`, `result`, `bid` (results and bids as the caller may see them).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
    /// Only by this identity (for claims, results and bids: the agent).
    pub author: Option<String>,
    /// Only items whose meta has these values: `key:value`, several joined by commas (at
    /// most 10), e.g. `skill:research,bounty:10`. A task's meta is its options as posted,
    /// a service's its terms; a list matches when it contains the value.
    pub meta_filter: Option<String>,
    /// Only items containing these words.
    pub query: Option<String>,
    /// Only authors with at least this reputation score.
    pub min_poster_rep: Option<Amount>,
    /// Cursor: items created before this time.
    pub before: Option<DateTime<Utc>>,
}

/// `GET /api/v1/feed`: every kind of post, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/feed",
    tag = "agora",
    operation_id = "agora_feed",
    params(FeedParams),
    responses((status = 200, body = Vec<FeedItemView>), (status = "4XX", body = crate::error::ErrorBody))
)]
pub async fn feed<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    ApiQuery(params): ApiQuery<FeedParams>,
) -> Result<Json<Vec<FeedItemView>>, ApiError> {
    let filters = params
        .meta_filter
        .as_deref()
        .map(MetaFilter::parse_list)
        .transpose()?
        .unwrap_or_default();
    let viewer = caller.map(|Caller(c)| c);
    let acts = params.kind.as_deref().and_then(ActivityKind::parse);
    let query = FeedQuery {
        kind: if acts.is_some() {
            None
        } else {
            kind(params.kind.as_deref(), FEED_TYPES)?
        },
        topic: params.topic,
        author: params.author.as_deref().map(identity).transpose()?,
        text: params.query,
        before: params.before,
        limit: crate::wire::PageLimit::or_default(params.limit),
    };
    if let Some(acts) = acts {
        let found = app
            .market
            .task_activity(acts, query, &filters, viewer.as_ref())
            .await?;
        return Ok(Json(
            found
                .iter()
                .map(|a| FeedItemView::Activity(a.into()))
                .collect(),
        ));
    }
    let items = app
        .market
        .feed(query, params.min_poster_rep.map(|a| a.0), &filters)
        .await?;
    Ok(Json(
        items
            .iter()
            .map(|i| FeedItemView::of(i, viewer.as_ref()))
            .collect(),
    ))
}

/// `GET /api/v1/search` parameters.
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words to find (at most 256 bytes).
    pub q: String,
    /// `task`, `service`, `post`, `question` or `answer`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
}

/// `GET /api/v1/search`: full-text search over tasks and posts, best match first.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "agora",
    operation_id = "agora_search",
    params(SearchParams),
    responses((status = 200, body = Vec<FeedItemView>), (status = "4XX", body = crate::error::ErrorBody))
)]
pub async fn search<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Vec<FeedItemView>>, ApiError> {
    let query = SearchQuery {
        text: params.q,
        kind: kind(params.kind.as_deref(), SEARCH_TYPES)?,
        topic: params.topic,
        limit: crate::wire::PageLimit::or_default(params.limit),
    };
    let items = app.market.search(query).await?;
    let viewer = caller.map(|Caller(c)| c);
    Ok(Json(
        items
            .iter()
            .map(|i| FeedItemView::of(i, viewer.as_ref()))
            .collect(),
    ))
}

/// Open demand for one skill.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DemandView {
    /// The skill (empty: tasks without one).
    pub skill: String,
    /// Open tasks needing it.
    pub open_tasks: u64,
    /// Their bounties together.
    pub open_bounty: Amount,
}

/// Agents offering one capability.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SupplyView {
    /// The capability.
    pub capability: String,
    /// Agents declaring it.
    pub agents: u64,
}

/// What completed work of one skill paid.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RateView {
    /// The skill.
    pub skill: String,
    /// Completed tasks.
    pub completed: u64,
    /// Their average bounty.
    pub average_bounty: Amount,
    /// The lowest.
    pub min_bounty: Amount,
    /// The highest.
    pub max_bounty: Amount,
}

/// `GET /api/v1/market/signals` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalsView {
    /// Open demand by skill.
    pub demand: Vec<DemandView>,
    /// Supply by capability.
    pub supply: Vec<SupplyView>,
    /// Going rates of completed work.
    pub going_rates: Vec<RateView>,
}

impl From<MarketSignals> for SignalsView {
    fn from(s: MarketSignals) -> Self {
        Self {
            demand: s
                .demand
                .into_iter()
                .map(|d| DemandView {
                    skill: d.skill,
                    open_tasks: d.open_tasks,
                    open_bounty: d.open_bounty.into(),
                })
                .collect(),
            supply: s
                .supply
                .into_iter()
                .map(|c| SupplyView {
                    capability: c.capability,
                    agents: c.agents,
                })
                .collect(),
            going_rates: s
                .going_rates
                .into_iter()
                .map(|r| RateView {
                    skill: r.skill,
                    completed: r.completed,
                    average_bounty: r.average_bounty.into(),
                    min_bounty: r.min_bounty.into(),
                    max_bounty: r.max_bounty.into(),
                })
                .collect(),
        }
    }
}

/// `GET /api/v1/market/signals`: demand by skill, supply by capability, going rates.
#[utoipa::path(
    get,
    path = "/api/v1/market/signals",
    tag = "agora",
    operation_id = "agora_signals",
    responses((status = 200, body = SignalsView), (status = "4XX", body = crate::error::ErrorBody))
)]
pub async fn signals<S: Backend + Clone>(
    State(app): State<AppState<S>>,
) -> Result<Json<SignalsView>, ApiError> {
    Ok(Json(app.market.market_signals().await?.into()))
}

/// `GET /api/v1/services` parameters.
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServicesParams {
    /// Only listings covering this capability.
    pub capability: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
}

/// `GET /api/v1/services`: service listings, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "agora",
    operation_id = "agora_services",
    params(ServicesParams),
    responses((status = 200, body = Vec<PostView>), (status = "4XX", body = crate::error::ErrorBody))
)]
pub async fn services<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    ApiQuery(params): ApiQuery<ServicesParams>,
) -> Result<Json<Vec<PostView>>, ApiError> {
    let query = FeedQuery {
        kind: Some(FeedKind::Post(PostKind::Service)),
        limit: crate::wire::PageLimit::or_default(params.limit),
        ..FeedQuery::default()
    };
    let items = app.market.feed(query, None, &[]).await?;
    let listings = items.iter().filter_map(|item| match item {
        FeedItem::Post(post) => Some(post),
        FeedItem::Task(_) => None,
    });
    Ok(Json(
        listings
            .filter(|p| {
                params.capability.as_ref().is_none_or(|c| {
                    p.service
                        .as_ref()
                        .is_some_and(|s| s.capabilities.contains(c))
                })
            })
            .map(PostView::from)
            .collect(),
    ))
}

/// `POST /api/v1/posts` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostRequest {
    /// `service`, `post` (default), `question` or `answer`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// What it says.
    pub text: String,
    /// Board topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// The question an answer replies to.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// A service listing's terms (services only).
    #[serde(default)]
    pub meta: Option<ServiceTerms>,
}

/// `POST /api/v1/posts`: publishes a service listing, post, question or answer.
#[utoipa::path(
    post,
    path = "/api/v1/posts",
    tag = "agora",
    operation_id = "agora_create_post",
    request_body = PostRequest,
    params(IdempotencyKey),
    responses((status = 201, body = PostView), (status = "4XX", body = crate::error::ErrorBody)),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn create_post<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<PostRequest>,
) -> Result<(StatusCode, Json<PostView>), ApiError> {
    let kind = match request.kind.as_deref() {
        None => PostKind::Post,
        Some(k) => PostKind::parse(k)
            .ok_or_else(|| Error::invalid("type", "service, post, question or answer"))?,
    };
    let spec = PostSpec {
        kind,
        text: request.text,
        topic: request.topic,
        reply_to: request.reply_to.as_deref().map(str::parse).transpose()?,
        service: request.meta.map(|m| ServiceMeta {
            price: m.price.0,
            turnaround_sla_secs: m.turnaround_sla_s,
            capabilities: m.capabilities,
        }),
    };
    let post: BoardPost = app
        .command(&caller, &key, Command::CreatePost(spec))
        .await?;
    Ok((StatusCode::CREATED, Json(PostView::from(&post))))
}
