//! The marketplace's numbers: fees, grants, credit, TTLs, queue size, the auto-accept gate.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Every number the rules use, as plain fields. Two presets match the two source APIs;
/// embedders may change any field.
///
/// ```
/// use marketplace_core::Policy;
/// use rust_decimal::Decimal;
/// let agora = Policy::agora();
/// assert_eq!(agora.fee_rate, Decimal::new(12, 2));
/// let agentmarket = Policy::agentmarket();
/// assert_eq!(agentmarket.signup_grant, Decimal::from(100));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Share of each settled bounty that goes to the treasury (0.12 = 12%).
    pub fee_rate: Decimal,
    /// Credits granted by the treasury when an identity registers.
    pub signup_grant: Decimal,
    /// Credit limit of a new identity: how far below zero its balance may go.
    pub base_credit_limit: Decimal,
    /// Credit added per accepted delivery.
    pub credit_per_accepted: Decimal,
    /// Credit added per reputation point, once the reputation gate below is met.
    pub credit_per_reputation_point: Decimal,
    /// Accepted deliveries needed before reputation adds credit.
    pub credit_reputation_min_accepted: u64,
    /// Accept rate (accepted / (accepted + rejected)) needed before reputation adds credit.
    pub credit_reputation_min_rate: Decimal,
    /// Highest credit limit anyone reaches.
    pub credit_limit_cap: Decimal,
    /// Claim lease when the task names none, in seconds.
    pub claim_ttl_default_secs: u64,
    /// Longest waitlist behind a claimed task.
    pub queue_max: usize,
    /// How long a poster has to review a delivery before it is accepted automatically.
    pub review_ttl_secs: u64,
    /// Lifetime of an open task when the poster names none, in seconds.
    pub task_lifetime_default_secs: u64,
    /// Quality gate: accepted deliveries an agent needs for its deliveries to be accepted
    /// without review.
    pub auto_accept_min_accepted: u64,
    /// Quality gate: accept rate an agent needs for its deliveries to be accepted without
    /// review.
    pub auto_accept_min_rate: Decimal,
    /// Most live claims one identity may hold at once (direct claims, awards, broker claims).
    pub open_claims_max: u32,
    /// How old an account must be before its base credit may pay for anything, in seconds
    /// (0: at once). Until then it spends only what it owns and credit it earned: a swarm
    /// of fresh registrations cannot fund work on credit for one another.
    pub base_credit_min_age_secs: u64,
    /// How long an uploaded artifact that no delivery names is kept, in seconds (see
    /// [`Command::CollectBlob`](crate::Command::CollectBlob)).
    pub blob_grace_secs: u64,
}

impl Policy {
    /// Agora's numbers: 12% fee, no signup grant, credit 50 that grows with reputation.
    pub fn agora() -> Self {
        Self {
            fee_rate: Decimal::new(12, 2),
            signup_grant: Decimal::ZERO,
            base_credit_limit: Decimal::from(50),
            credit_per_accepted: Decimal::from(2),
            credit_per_reputation_point: Decimal::new(5, 1),
            credit_reputation_min_accepted: 3,
            credit_reputation_min_rate: Decimal::new(5, 1),
            credit_limit_cap: Decimal::from(10_000),
            claim_ttl_default_secs: 300,
            queue_max: 10,
            review_ttl_secs: 48 * 3600,
            task_lifetime_default_secs: 7 * 86_400,
            auto_accept_min_accepted: 3,
            auto_accept_min_rate: Decimal::new(6, 1),
            open_claims_max: 100,
            base_credit_min_age_secs: 0,
            blob_grace_secs: 86_400,
        }
    }

    /// AgentMarket's numbers: 10% fee, 100 credits at signup, no credit.
    pub fn agentmarket() -> Self {
        Self {
            fee_rate: Decimal::new(10, 2),
            signup_grant: Decimal::from(100),
            base_credit_limit: Decimal::ZERO,
            credit_per_accepted: Decimal::ZERO,
            credit_per_reputation_point: Decimal::ZERO,
            credit_limit_cap: Decimal::ZERO,
            ..Self::agora()
        }
    }

    /// A preset by name: `agora` or `agentmarket`.
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "agora" => Some(Self::agora()),
            "agentmarket" => Some(Self::agentmarket()),
            _ => None,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::agora()
    }
}

impl Policy {
    /// What `account` may hold for new work at `now`: its `available`, less the base credit
    /// while the account is younger than [`Policy::base_credit_min_age_secs`].
    ///
    /// ```
    /// use marketplace_core::{Account, Clock, IdentityId, ManualClock, Policy};
    /// use rust_decimal::Decimal;
    /// let now = ManualClock::at_unix(1_700_000_000).now();
    /// let account = Account {
    ///     identity: IdentityId::from_public_key(b"a"),
    ///     balance: Decimal::ZERO,
    ///     escrowed: Decimal::ZERO,
    ///     credit_limit: Decimal::from(50),
    ///     created_at: now,
    /// };
    /// let policy = Policy { base_credit_min_age_secs: 3600, ..Policy::agora() };
    /// assert_eq!(policy.spendable(&account, now), Decimal::ZERO);
    /// let later = now + chrono::Duration::seconds(3600);
    /// assert_eq!(policy.spendable(&account, later), Decimal::from(50));
    /// ```
    pub fn spendable(&self, account: &crate::Account, now: crate::Timestamp) -> Decimal {
        let available = account.available();
        let age = now - account.created_at;
        let young = age
            < chrono::Duration::seconds(
                i64::try_from(self.base_credit_min_age_secs).unwrap_or(i64::MAX / 1_000_000),
            );
        if young {
            available - self.base_credit_limit.min(account.credit_limit)
        } else {
            available
        }
    }

    /// The credit limit `rep` earns at `now`:
    /// `base + per_accepted * accepted (+ per_point * score once accepted >= 3 and rate >= 50%)`,
    /// capped.
    ///
    /// ```
    /// use marketplace_core::{Policy, Reputation, IdentityId, ManualClock, Clock};
    /// use rust_decimal::Decimal;
    /// let now = ManualClock::at_unix(1_700_000_000).now();
    /// let mut rep = Reputation::new(IdentityId::from_public_key(b"a"), now);
    /// assert_eq!(Policy::agora().credit_limit(&rep, now), Decimal::from(50));
    /// rep.accepted = 3; rep.delivered = 3; // raw 21, rate 100%
    /// assert_eq!(Policy::agora().credit_limit(&rep, now), Decimal::new(665, 1)); // 50 + 6 + 10.5
    /// ```
    pub fn credit_limit(&self, rep: &crate::Reputation, now: crate::Timestamp) -> Decimal {
        let mut limit =
            self.base_credit_limit + self.credit_per_accepted * Decimal::from(rep.accepted);
        if rep.accepted >= self.credit_reputation_min_accepted
            && rep.accept_rate_at_least(self.credit_reputation_min_rate)
        {
            limit += self.credit_per_reputation_point * rep.score(now);
        }
        limit
            .min(self.credit_limit_cap)
            .max(Decimal::ZERO)
            .normalize()
    }

    /// The quality gate: whether `rep`'s deliveries are accepted without review, with the
    /// task's overrides of the thresholds.
    pub fn passes_gate(
        &self,
        rep: &crate::Reputation,
        min_accepted: Option<u64>,
        min_rate: Option<Decimal>,
    ) -> bool {
        rep.accepted >= min_accepted.unwrap_or(self.auto_accept_min_accepted)
            && rep.accept_rate_at_least(min_rate.unwrap_or(self.auto_accept_min_rate))
    }
}
