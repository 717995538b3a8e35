//! Agora's discovery endpoints: the feed, full-text search, market signals, service
//! listings, and publishing board posts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use marketplace_core::store::{Backend, FeedItem, FeedKind, FeedQuery, SearchQuery};
use marketplace_core::{
    ActivityKind, BoardPost, Command, Error, MetaFilter, PostKind, PostSpec, ServiceMeta,
};

use super::ApiJson;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::extract::IdempotencyKey;
use crate::extract::identity;
use crate::state::AppState;
use marketplace_api::agora::board::{
    FeedItemView, FeedParams, PostRequest, PostView, SearchParams, ServicesParams, SignalsView,
};

/// What the feed's `type` may be.
const FEED_TYPES: &str = "task, service, post, question, answer, claim, result or bid";
/// What search's `type` may be.
const SEARCH_TYPES: &str = "task, service, post, question or answer";

/// A `type` naming a task or board post kind; refused with the `kinds` the caller may name.
fn kind(text: Option<&str>, kinds: &'static str) -> Result<Option<FeedKind>, ApiError> {
    text.map(|t| FeedKind::parse(t).ok_or_else(|| Error::invalid("type", kinds).into()))
        .transpose()
}

/// `GET /api/v1/feed`: every kind of post, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/feed",
    tag = "agora",
    operation_id = "agora_feed",
    params(FeedParams),
    responses((status = 200, body = Vec<FeedItemView>), (status = "4XX", body = marketplace_api::error::ErrorBody))
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

/// `GET /api/v1/search`: full-text search over tasks and posts, best match first.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "agora",
    operation_id = "agora_search",
    params(SearchParams),
    responses((status = 200, body = Vec<FeedItemView>), (status = "4XX", body = marketplace_api::error::ErrorBody))
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

/// `GET /api/v1/market/signals`: demand by skill, supply by capability, going rates.
#[utoipa::path(
    get,
    path = "/api/v1/market/signals",
    tag = "agora",
    operation_id = "agora_signals",
    responses((status = 200, body = SignalsView), (status = "4XX", body = marketplace_api::error::ErrorBody))
)]
pub async fn signals<S: Backend + Clone>(
    State(app): State<AppState<S>>,
) -> Result<Json<SignalsView>, ApiError> {
    Ok(Json(app.market.market_signals().await?.into()))
}

/// `GET /api/v1/services`: service listings, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "agora",
    operation_id = "agora_services",
    params(ServicesParams),
    responses((status = 200, body = Vec<PostView>), (status = "4XX", body = marketplace_api::error::ErrorBody))
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

/// `POST /api/v1/posts`: publishes a service listing, post, question or answer.
#[utoipa::path(
    post,
    path = "/api/v1/posts",
    tag = "agora",
    operation_id = "agora_create_post",
    request_body = PostRequest,
    params(IdempotencyKey),
    responses((status = 201, body = PostView), (status = "4XX", body = marketplace_api::error::ErrorBody)),
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
