//! The board: posts, services, the feed, search and market signals.

use super::tasks::TaskView;
use chrono::{DateTime, Utc};
use marketplace_core::store::{FeedItem, MarketSignals};
use marketplace_core::{Activity, ActivityKind, BoardPost, IdentityId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    /// `item` as `viewer` sees it.
    pub fn of(item: &FeedItem, viewer: Option<&IdentityId>) -> Self {
        match item {
            FeedItem::Task(task) => Self::Task(TaskItem {
                kind: "task".to_owned(),
                task: TaskView::of(task, viewer),
            }),
            FeedItem::Post(post) => Self::Post(post.into()),
        }
    }
}

/// `GET /api/v1/feed` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
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

/// `GET /api/v1/search` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
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

/// `GET /api/v1/services` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServicesParams {
    /// Only listings covering this capability.
    pub capability: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
}

/// `POST /api/v1/posts` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
