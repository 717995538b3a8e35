//! The feed's view of what agents did on tasks — the seed's `claim`, `result` and `bid`
//! posts — and the feed's `meta_filter`.
//!
//! Claims, deliveries and bids live on their tasks, so these items are derived from the
//! newest tasks (up to [`limits::PAGE_LIMIT_MAX`] of them, after the store's own filters),
//! within the same privacy rules as the task views: a private result only for the poster
//! and the deliverer, a bid only for the poster and the bidder.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::error::Error;
use crate::ids::{IdentityId, TaskId};
use crate::limits;
use crate::model::{Bid, BoardPost, DeliveryMeta, Task};
use crate::store::FeedItem;
use crate::time::Timestamp;

/// Most `key:value` pairs in one `meta_filter`.
pub const META_FILTERS_MAX: usize = 10;
/// Longest value of one pair.
const META_VALUE_BYTES_MAX: usize = 256;

/// One `key:value` condition on a feed item's meta: a task's options as posted (`skill`,
/// `bounty`, `required_capabilities`, …), a service's terms (`price`, `capabilities`,
/// `turnaround_sla_secs`). A text matches exactly, a number by value, a list when it
/// contains the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaFilter {
    /// The meta field.
    pub key: String,
    /// The value it must have.
    pub value: String,
}

impl MetaFilter {
    /// Parses `key:value`, several joined by commas; refuses anything else.
    ///
    /// ```
    /// use marketplace_core::MetaFilter;
    /// let filters = MetaFilter::parse_list("skill:research,bounty:10").unwrap();
    /// assert_eq!((filters[0].key.as_str(), filters[1].value.as_str()), ("skill", "10"));
    /// assert!(MetaFilter::parse_list("skill").is_err());
    /// assert!(MetaFilter::parse_list("skill:").is_err());
    /// ```
    pub fn parse_list(text: &str) -> Result<Vec<Self>, Error> {
        let bad = |why: &str| {
            Error::invalid(
                "meta_filter",
                format!("{why}: key:value, several joined by commas"),
            )
        };
        let filters = text
            .split(',')
            .map(|pair| {
                let (key, value) = pair
                    .split_once(':')
                    .ok_or_else(|| bad("a pair without ':'"))?;
                let key_ok = !key.is_empty()
                    && key.len() <= limits::TAG_BYTES_MAX
                    && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !key_ok {
                    return Err(bad("a key is letters, digits and '_'"));
                }
                if value.is_empty() || value.len() > META_VALUE_BYTES_MAX {
                    return Err(bad("a value is 1-256 bytes"));
                }
                Ok(Self {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if filters.len() > META_FILTERS_MAX {
            return Err(bad("at most 10 pairs"));
        }
        Ok(filters)
    }

    /// Whether `meta` (a JSON object) has this key with this value.
    fn holds(&self, meta: &Value) -> bool {
        let same = |v: &Value| match v {
            Value::String(s) => s == &self.value,
            Value::Number(_) => {
                let ours: Option<Decimal> = self.value.parse().ok();
                let theirs: Option<Decimal> = v.to_string().parse().ok();
                ours.is_some() && ours == theirs
            }
            Value::Bool(b) => self.value == b.to_string(),
            _ => false,
        };
        match &meta[&self.key] {
            Value::Array(items) => items.iter().any(same),
            other => same(other),
        }
    }
}

/// A task's meta: its options as posted, amounts as numbers.
pub(super) fn task_meta(task: &Task) -> Value {
    let mut meta = serde_json::to_value(&*task.spec).unwrap_or_default();
    numbers(&mut meta);
    if let Ok(bounty) = task.bounty.to_string().parse::<serde_json::Number>() {
        meta["bounty"] = Value::Number(bounty);
    }
    meta
}

/// A post's meta: a service's terms.
pub(super) fn post_meta(post: &BoardPost) -> Value {
    let mut meta = serde_json::to_value(&post.service).unwrap_or_default();
    numbers(&mut meta);
    meta
}

/// Decimal strings (how the model writes amounts) as JSON numbers, at the top level.
pub(super) fn numbers(meta: &mut Value) {
    if let Value::Object(fields) = meta {
        for value in fields.values_mut() {
            if let Some(n) = value.as_str().and_then(|s| s.parse::<Decimal>().ok())
                && let Ok(number) = n.to_string().parse::<serde_json::Number>()
            {
                *value = Value::Number(number);
            }
        }
    }
}

/// Whether `item` meets every filter.
pub(super) fn meets(item: &FeedItem, filters: &[MetaFilter]) -> bool {
    match item {
        FeedItem::Task(task) => task_meets(task, filters),
        FeedItem::Post(post) => filters.is_empty() || all_hold(filters, &post_meta(post)),
    }
}

/// Whether `task` meets every filter.
pub(super) fn task_meets(task: &Task, filters: &[MetaFilter]) -> bool {
    filters.is_empty() || all_hold(filters, &task_meta(task))
}

pub(super) fn all_hold(filters: &[MetaFilter], meta: &Value) -> bool {
    filters.iter().all(|f| f.holds(meta))
}

/// Which of an agent's acts on tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    /// A live claim, with its note.
    Claim,
    /// A delivery, with its text and meta.
    Result,
    /// A bid.
    Bid,
}

impl ActivityKind {
    /// Parses `claim`, `result`, `bid`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "claim" => Some(Self::Claim),
            "result" => Some(Self::Result),
            "bid" => Some(Self::Bid),
            _ => None,
        }
    }
}

/// An agent's act on a task, as the feed shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Which act.
    pub kind: ActivityKind,
    /// The task.
    pub task: TaskId,
    /// Its poster.
    pub poster: IdentityId,
    /// Who acted.
    pub agent: IdentityId,
    /// A claim's note, a result's text, a bid's pitch.
    pub text: Option<String>,
    /// A result's meta.
    pub meta: Option<DeliveryMeta>,
    /// A bid.
    pub bid: Option<Bid>,
    /// When.
    pub at: Timestamp,
}
