//! The broker: auto-claim rules matched against a newly posted task.

use rust_decimal::Decimal;

use crate::decide::{Fault, Work};
use crate::ids::{IdentityId, TaskId};
use crate::model::{ClaimVia, TaskStatus};

type Result<T = ()> = std::result::Result<T, Fault>;

impl Work<'_> {
    // ---- the broker ----
    /// When a task is posted or reopens, the first eligible auto-claim rule (owner with the
    /// highest reputation, then the oldest rule) claims it for its owner.
    pub(crate) fn broker(&mut self, id: TaskId) -> Result {
        let task = self.task_ref(id)?;
        if task.status != TaskStatus::Open || task.spec.bidding || self.now >= task.expires_at {
            return Ok(());
        }
        let tags = task.spec.match_tags();
        if tags.is_empty() {
            return Ok(());
        }
        let rules = self.rules_matching(&tags)?;
        if rules.is_empty() {
            return Ok(());
        }
        let poster_score = self.rep(&task.poster)?.score(self.now);
        let mut best: Option<(Decimal, crate::Timestamp, crate::RuleId, IdentityId)> = None;
        for rule in rules {
            let eligible = rule.owner != task.poster
                && task.bounty >= rule.min_bounty
                && poster_score >= rule.min_poster_rep
                && task
                    .spec
                    .assign_to
                    .as_ref()
                    .is_none_or(|a| a == &rule.owner);
            if !eligible {
                continue;
            }
            let rep = self.rep(&rule.owner)?;
            let score = rep.score(self.now);
            if rep.open_claims >= rule.max_concurrent
                || rep.open_claims >= self.policy.open_claims_max
                || task.spec.min_reputation.is_some_and(|m| score < m)
            {
                continue;
            }
            let better = match &best {
                None => true,
                Some((s, created, rid, _)) => {
                    (score, std::cmp::Reverse((rule.created_at, rule.id)))
                        > (*s, std::cmp::Reverse((*created, *rid)))
                }
            };
            if better {
                best = Some((score, rule.created_at, rule.id, rule.owner.clone()));
            }
        }
        let Some((_, _, _, owner)) = best else {
            return Ok(());
        };
        let mut task = task.clone();
        if !self.dependencies_done(&task)? {
            return Ok(());
        }
        let ttl = task.claim_ttl_secs(self.policy.claim_ttl_default_secs);
        self.grant_claim(&mut task, &owner, None, ttl, ClaimVia::Broker)?;
        self.put_task(task);
        Ok(())
    }
}
