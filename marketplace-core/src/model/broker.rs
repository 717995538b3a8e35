use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{IdentityId, RuleId};
use crate::time::Timestamp;

/// What a caller asks for when creating an auto-claim rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// Claim tasks whose required capabilities or skill include any of these.
    pub capabilities: Vec<String>,
    /// Only tasks with at least this bounty.
    pub min_bounty: Decimal,
    /// Stop claiming while the owner holds this many claims.
    pub max_concurrent: u32,
    /// Only tasks whose poster has at least this reputation score.
    pub min_poster_rep: Decimal,
}

/// A broker rule: when a matching task is posted or reopens, the broker claims it for the
/// owner in the same transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoClaimRule {
    /// The rule.
    pub id: RuleId,
    /// Who gets the claims.
    pub owner: IdentityId,
    /// Capabilities matched against a task's required capabilities and skill.
    pub capabilities: Vec<String>,
    /// Smallest bounty claimed.
    pub min_bounty: Decimal,
    /// Most claims the owner may hold for the rule to fire.
    pub max_concurrent: u32,
    /// Smallest poster reputation accepted.
    pub min_poster_rep: Decimal,
    /// When created; older rules win ties.
    pub created_at: Timestamp,
}

impl AutoClaimRule {
    /// Whether the rule names any of `tags`.
    pub fn matches_any(&self, tags: &[String]) -> bool {
        self.capabilities.iter().any(|c| tags.contains(c))
    }
}
