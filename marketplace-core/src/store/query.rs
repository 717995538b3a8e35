//! Read-side queries and their results.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{IdentityId, TaskId};
use crate::model::{AccountRef, BoardPost, PostKind, Task, TaskStatus, TxType};

/// Which tasks to list. Every filter is optional; results are newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskQuery {
    /// Only tasks in this state.
    pub status: Option<TaskStatus>,
    /// Only tasks with this skill.
    pub skill: Option<String>,
    /// Only tasks whose required capabilities or skill include any of these.
    pub capabilities: Vec<String>,
    /// Only tasks posted by this identity.
    pub poster: Option<IdentityId>,
    /// Only tasks whose live claim this identity holds.
    pub claimant: Option<IdentityId>,
    /// Only tasks whose waitlist holds this identity (a queue lives while a task is
    /// claimed or delivered; it is emptied when the task closes).
    pub queued: Option<IdentityId>,
    /// Only tasks whose delivery this identity made. Every closed task keeps its delivery:
    /// give a `status` too, as "delivered, waiting for review" does, to read few rows.
    pub deliverer: Option<IdentityId>,
    /// Only tasks posted before this one (cursor pagination).
    pub before: Option<TaskId>,
    /// Page size (clamped by the engine to 1..=200).
    pub limit: usize,
}

/// Which profiles to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileQuery {
    /// Only identities declaring this capability.
    pub capability: Option<String>,
    /// Only identities after this one.
    pub after: Option<IdentityId>,
    /// Page size.
    pub limit: usize,
}

/// Which ledger lines to list.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerQuery {
    /// Whose lines.
    pub account: AccountRef,
    /// Only this type.
    pub tx_type: Option<TxType>,
    /// Only lines with `seq` below this (cursor).
    pub before_seq: Option<u64>,
    /// Page size.
    pub limit: usize,
}

/// Sums over one account's ledger lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerTotals {
    /// Sum of all balance changes.
    pub balance: Decimal,
    /// Sum of all escrow changes.
    pub escrowed: Decimal,
    /// Net credits received for accepted deliveries.
    pub earned: Decimal,
    /// Bounties paid out for accepted tasks.
    pub spent: Decimal,
    /// Fees withheld from this account's earnings.
    pub fees: Decimal,
    /// Signup grants received.
    pub granted: Decimal,
    /// Number of lines.
    pub entries: u64,
}

/// The kind of a feed item: a task, or a board post kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// Tasks.
    Task,
    /// Board posts of one kind.
    #[serde(untagged)]
    Post(PostKind),
}

impl FeedKind {
    /// Parses `task`, `service`, `post`, `question`, `answer`.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "task" {
            Some(Self::Task)
        } else {
            PostKind::parse(text).map(Self::Post)
        }
    }
}

/// One item of the feed or of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedItem {
    /// A task.
    Task(Task),
    /// A board post.
    Post(BoardPost),
}

impl FeedItem {
    /// When the item was created.
    pub fn created_at(&self) -> crate::Timestamp {
        match self {
            Self::Task(t) => t.created_at,
            Self::Post(p) => p.created_at,
        }
    }

    /// Whether the item is of `kind` and in `topic` (each when given).
    pub fn matches(&self, kind: Option<FeedKind>, topic: Option<&String>) -> bool {
        let (item_kind, item_topic) = match self {
            Self::Task(t) => (FeedKind::Task, t.spec.topic.as_ref()),
            Self::Post(p) => (FeedKind::Post(p.kind), p.topic.as_ref()),
        };
        kind.is_none_or(|k| k == item_kind) && topic.is_none_or(|t| Some(t) == item_topic)
    }

    /// Who wrote it.
    pub fn author(&self) -> &IdentityId {
        match self {
            Self::Task(t) => &t.poster,
            Self::Post(p) => &p.author,
        }
    }
}

/// Which feed items to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedQuery {
    /// Only this kind.
    pub kind: Option<FeedKind>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only by this author.
    pub author: Option<IdentityId>,
    /// Only items containing every word of this text.
    pub text: Option<String>,
    /// Only items created before this time (cursor).
    pub before: Option<crate::Timestamp>,
    /// Page size.
    pub limit: usize,
}

/// A full-text search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// The words (all must match).
    pub text: String,
    /// Only this kind.
    pub kind: Option<FeedKind>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Page size.
    pub limit: usize,
}

/// Open demand for one skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillDemand {
    /// The skill (`""` for tasks without one).
    pub skill: String,
    /// Open tasks.
    pub open_tasks: u64,
    /// Their bounties, summed.
    pub open_bounty: Decimal,
}

/// Supply of one capability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilitySupply {
    /// The capability.
    pub capability: String,
    /// Identities declaring it.
    pub agents: u64,
}

/// What completed work of one skill paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoingRate {
    /// The skill (`""` for tasks without one).
    pub skill: String,
    /// Completed tasks.
    pub completed: u64,
    /// Average bounty paid.
    pub average_bounty: Decimal,
    /// Lowest bounty paid.
    pub min_bounty: Decimal,
    /// Highest bounty paid.
    pub max_bounty: Decimal,
}

/// Marketplace intelligence: where demand is, who supplies it, what it pays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarketSignals {
    /// Open demand by skill, most tasks first.
    pub demand: Vec<SkillDemand>,
    /// Supply by capability, most agents first.
    pub supply: Vec<CapabilitySupply>,
    /// Going rates by skill, most completed first.
    pub going_rates: Vec<GoingRate>,
}

impl MarketSignals {
    /// Signals from tasks (open ones make demand, completed ones going rates) and
    /// per-capability supply; other tasks are ignored.
    pub fn from_tasks<'a>(
        tasks: impl IntoIterator<Item = &'a Task>,
        supply: std::collections::BTreeMap<String, u64>,
        limit: usize,
    ) -> Self {
        let mut demand: std::collections::BTreeMap<String, (u64, Decimal)> = Default::default();
        let mut rates: std::collections::BTreeMap<String, Vec<Decimal>> = Default::default();
        for t in tasks {
            let skill = t.spec.skill.clone().unwrap_or_default();
            match t.status {
                TaskStatus::Open => {
                    let d = demand.entry(skill).or_default();
                    d.0 += 1;
                    d.1 += t.bounty;
                }
                TaskStatus::Completed => rates.entry(skill).or_default().push(t.bounty),
                _ => {}
            }
        }
        Self::assemble(demand, supply, rates, limit)
    }

    /// Builds the signals from per-skill open demand `(tasks, bounty)`, per-capability supply
    /// and per-skill completed bounties; sorts each list and keeps `limit` rows. Backends
    /// that aggregate in SQL may build the lists themselves.
    pub fn assemble(
        demand: std::collections::BTreeMap<String, (u64, Decimal)>,
        supply: std::collections::BTreeMap<String, u64>,
        rates: std::collections::BTreeMap<String, Vec<Decimal>>,
        limit: usize,
    ) -> Self {
        let mut demand: Vec<SkillDemand> = demand
            .into_iter()
            .map(|(skill, (open_tasks, open_bounty))| SkillDemand {
                skill,
                open_tasks,
                open_bounty,
            })
            .collect();
        demand.sort_by(|a, b| {
            b.open_tasks
                .cmp(&a.open_tasks)
                .then_with(|| a.skill.cmp(&b.skill))
        });
        demand.truncate(limit);
        let mut supply: Vec<CapabilitySupply> = supply
            .into_iter()
            .map(|(capability, agents)| CapabilitySupply { capability, agents })
            .collect();
        supply.sort_by(|a, b| {
            b.agents
                .cmp(&a.agents)
                .then_with(|| a.capability.cmp(&b.capability))
        });
        supply.truncate(limit);
        let mut going_rates: Vec<GoingRate> = rates
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(skill, bounties)| {
                let completed = bounties.len() as u64;
                let sum: Decimal = bounties.iter().sum();
                GoingRate {
                    skill,
                    completed,
                    average_bounty: (sum / Decimal::from(completed)).round_dp(6).normalize(),
                    min_bounty: bounties.iter().copied().min().unwrap_or_default(),
                    max_bounty: bounties.iter().copied().max().unwrap_or_default(),
                }
            })
            .collect();
        going_rates.sort_by(|a, b| {
            b.completed
                .cmp(&a.completed)
                .then_with(|| a.skill.cmp(&b.skill))
        });
        going_rates.truncate(limit);
        Self {
            demand,
            supply,
            going_rates,
        }
    }
}
