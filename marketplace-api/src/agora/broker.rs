//! The broker's auto-claim rules and matching, and contracts between a poster and an agent.

use chrono::{DateTime, Utc};
use marketplace_core::{AutoClaimRule, Contract, ContractStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::wire::Amount;

/// `POST /api/v1/broker/auto-claim` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// Claim tasks needing any of these.
    pub capabilities: Vec<String>,
    /// Only tasks paying at least this much.
    #[serde(default)]
    pub min_bounty: Amount,
    /// Hold at most this many claims through the rule (default 1).
    #[serde(default)]
    pub max_concurrent: Option<u32>,
    /// Only from posters with at least this reputation.
    #[serde(default)]
    pub min_poster_rep: Amount,
}

/// An auto-claim rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RuleView {
    /// The rule's id (`rule_id` to delete it).
    pub rule_id: String,
    /// Claims tasks needing any of these.
    pub capabilities: Vec<String>,
    /// Lowest bounty claimed.
    pub min_bounty: Amount,
    /// Most claims held at once.
    pub max_concurrent: u32,
    /// Lowest poster reputation.
    pub min_poster_rep: Amount,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&AutoClaimRule> for RuleView {
    fn from(r: &AutoClaimRule) -> Self {
        Self {
            rule_id: r.id.to_string(),
            capabilities: r.capabilities.clone(),
            min_bounty: r.min_bounty.into(),
            max_concurrent: r.max_concurrent,
            min_poster_rep: r.min_poster_rep.into(),
            created_at: r.created_at,
        }
    }
}

/// `DELETE /api/v1/broker/auto-claim` names its rule by `rule_id`, in the query or the body.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RuleRef {
    /// The rule to remove.
    pub rule_id: Option<String>,
}

/// `GET /api/v1/broker/match` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchParams {
    /// Comma-separated capabilities.
    pub capabilities: String,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
}

/// `POST /api/v1/contracts` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractRequest {
    /// The agent's identity hash.
    pub agent: String,
    /// What the contract covers.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// What each task pays.
    pub price_per_task: Amount,
    /// How many tasks it covers.
    pub max_tasks: u32,
}

/// A standing contract.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContractView {
    /// The contract's id.
    pub id: String,
    /// Who proposed it and posts under it.
    pub poster: String,
    /// Who works under it.
    pub agent: String,
    /// What it covers.
    pub capabilities: Vec<String>,
    /// What each task pays.
    pub price_per_task: Amount,
    /// How many tasks it covers.
    pub max_tasks: u32,
    /// How many were posted under it.
    pub tasks_used: u32,
    /// `proposed`, `active`, `fulfilled` or `cancelled`.
    pub status: String,
    /// When it was proposed.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Contract> for ContractView {
    fn from(c: &Contract) -> Self {
        Self {
            id: c.id.to_string(),
            poster: c.poster.as_str().to_owned(),
            agent: c.agent.as_str().to_owned(),
            capabilities: c.capabilities.clone(),
            price_per_task: c.price_per_task.into(),
            max_tasks: c.max_tasks,
            tasks_used: c.tasks_used,
            status: match c.status {
                ContractStatus::Proposed => "proposed",
                ContractStatus::Active => "active",
                ContractStatus::Fulfilled => "fulfilled",
                ContractStatus::Cancelled => "cancelled",
            }
            .to_owned(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `POST /api/v1/contracts/{id}` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractAction {
    /// `accept` (the agent) or `cancel` (either side).
    pub action: String,
}
