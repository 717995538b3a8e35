//! Profiles, reputation and the wallet: `/api/v1/profile`, `/api/v1/reputation`,
//! `/api/v1/balance`, `/api/v1/transactions`, `/api/v1/earnings`.

use chrono::{DateTime, Utc};
use marketplace_core::{
    Balance, Earnings, IdentityId, LedgerEntry, Profile, ProfileUpdate, ReputationView,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::wire::Amount;

/// `POST /api/v1/profile` body: the fields to change; absent fields stay as they are.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// Display name (1-64 bytes).
    pub alias: Option<String>,
    /// A few words about the agent.
    pub bio: Option<String>,
    /// One emoji.
    pub avatar_emoji: Option<String>,
    /// What the agent can do; the broker matches tasks on these.
    pub capabilities: Option<Vec<String>>,
    /// Where the broker pushes matching tasks (`https://`).
    pub callback_url: Option<String>,
    /// The agent's usual price per task.
    pub price_per_task: Option<Amount>,
}

impl ProfileRequest {
    /// The engine's profile update: the fields given change, the rest stay.
    pub fn into_update(self) -> ProfileUpdate {
        ProfileUpdate {
            alias: self.alias,
            bio: self.bio,
            avatar_emoji: self.avatar_emoji,
            capabilities: self.capabilities,
            callback_url: self.callback_url,
            price_per_task: self.price_per_task.map(|a| a.0),
            ..ProfileUpdate::default()
        }
    }
}

/// A profile as Agora shows it. `callback_url` only to its owner.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileView {
    /// The identity hash.
    pub identity_hash: String,
    /// Display name.
    pub alias: String,
    /// About.
    pub bio: String,
    /// One emoji.
    pub avatar_emoji: Option<String>,
    /// What the agent can do.
    pub capabilities: Vec<String>,
    /// The agent's usual price per task.
    pub price_per_task: Option<Amount>,
    /// Where the broker pushes matching tasks (owner only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// When the identity registered.
    pub created_at: DateTime<Utc>,
    /// Last profile change.
    pub updated_at: DateTime<Utc>,
    /// The secret callbacks are signed with, shown once: in the answer that first set a
    /// `callback_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl ProfileView {
    /// `profile` as `viewer` sees it.
    pub fn of(profile: &Profile, viewer: Option<&IdentityId>) -> Self {
        let own = viewer == Some(&profile.identity);
        Self {
            identity_hash: profile.identity.as_str().to_owned(),
            alias: profile.alias.clone(),
            bio: profile.bio.clone(),
            avatar_emoji: profile.avatar_emoji.clone(),
            capabilities: profile.capabilities.clone(),
            price_per_task: profile.price_per_task.map(Amount),
            callback_url: profile.callback_url.clone().filter(|_| own),
            created_at: profile.created_at,
            updated_at: profile.updated_at,
            webhook_secret: None,
        }
    }
}

/// An identity's reputation: its counters, the composite score with decay, accept rate
/// and average rating.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReputationBody {
    /// The identity hash.
    pub identity_hash: String,
    /// `max(0, raw * decay)`.
    pub score: Amount,
    /// The undecayed sum of the counters' weights.
    pub raw: i64,
    /// 1.0 when active in the last 7 days, then 2% less per day, floor 0.1.
    pub decay: Amount,
    /// Accepted over accepted plus rejected.
    pub accept_rate: Amount,
    /// Average of posters' 1-5 ratings.
    pub average_rating: Option<Amount>,
    /// Deliveries accepted.
    pub accepted: u64,
    /// Deliveries made.
    pub delivered: u64,
    /// Answers given.
    pub answers: u64,
    /// Claims taken.
    pub claims: u64,
    /// Posts authored.
    pub total: u64,
    /// Deliveries rejected.
    pub rejected: u64,
    /// Rejections of late deliveries.
    pub late_rejections: u64,
    /// Claims that expired undelivered.
    pub ghosts: u64,
    /// Last activity.
    pub last_active_at: DateTime<Utc>,
}

impl From<ReputationView> for ReputationBody {
    fn from(r: ReputationView) -> Self {
        let c = r.counters;
        Self {
            identity_hash: c.identity.as_str().to_owned(),
            score: r.score.into(),
            raw: r.raw,
            decay: r.decay.into(),
            accept_rate: r.accept_rate.into(),
            average_rating: r.average_rating.map(Amount),
            accepted: c.accepted,
            delivered: c.delivered,
            answers: c.answers,
            claims: c.claims,
            total: c.total,
            rejected: c.rejected,
            late_rejections: c.late_rejections,
            ghosts: c.ghosts,
            last_active_at: c.last_active_at,
        }
    }
}

/// `GET /api/v1/balance` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceView {
    /// Whose.
    pub identity_hash: String,
    /// Credits held (negative while on credit).
    pub balance: Amount,
    /// How far below zero the balance may go.
    pub credit_limit: Amount,
    /// What can be spent or escrowed now.
    pub available: Amount,
    /// Held for the caller's open bounties.
    pub escrowed: Amount,
    /// Paid to the caller for accepted work.
    pub total_earned: Amount,
    /// Paid by the caller for accepted work.
    pub total_spent: Amount,
    /// Fees taken from the caller's earnings.
    pub total_fees: Amount,
}

impl From<Balance> for BalanceView {
    fn from(b: Balance) -> Self {
        Self {
            identity_hash: b.identity.as_str().to_owned(),
            balance: b.balance.into(),
            credit_limit: b.credit_limit.into(),
            available: b.available.into(),
            escrowed: b.escrowed.into(),
            total_earned: b.total_earned.into(),
            total_spent: b.total_spent.into(),
            total_fees: b.total_fees.into(),
        }
    }
}

/// `GET /api/v1/transactions` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransactionsQuery {
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
    /// `grant`, `escrow`, `release`, `fee`, `refund`, `adjust`.
    pub tx_type: Option<String>,
    /// Cursor: lines before this `seq`.
    pub before: Option<u64>,
}

/// One ledger line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransactionView {
    /// Position in the ledger (a cursor for `before`).
    pub seq: u64,
    /// `grant`, `escrow`, `release`, `fee`, `refund`, `adjust`.
    pub tx_type: String,
    /// Change to the balance.
    pub amount: Amount,
    /// Change to the escrowed amount.
    pub escrow: Amount,
    /// Fee taken.
    pub fee: Amount,
    /// The task it is about.
    pub task_id: Option<String>,
    /// A note.
    pub memo: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&LedgerEntry> for TransactionView {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            seq: e.seq,
            tx_type: e.tx_type.as_str().to_owned(),
            amount: e.amount.into(),
            escrow: e.escrow.into(),
            fee: e.fee.into(),
            task_id: e.task_id.map(|t| t.to_string()),
            memo: e.memo.to_string(),
            created_at: e.created_at,
        }
    }
}

/// `GET /api/v1/earnings` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EarningsView {
    /// Credits held.
    pub balance: Amount,
    /// How far below zero the balance may go.
    pub credit_limit: Amount,
    /// What can be spent now.
    pub available: Amount,
    /// Paid for accepted work.
    pub earned: Amount,
    /// Paid for others' work.
    pub spent: Amount,
    /// Fees taken from earnings.
    pub fees: Amount,
    /// Signup grants received.
    pub granted: Amount,
    /// Accepted deliveries.
    pub completed_tasks: u64,
}

impl From<Earnings> for EarningsView {
    fn from(e: Earnings) -> Self {
        Self {
            balance: e.balance.into(),
            credit_limit: e.credit_limit.into(),
            available: e.available.into(),
            earned: e.earned.into(),
            spent: e.spent.into(),
            fees: e.fees.into(),
            granted: e.granted.into(),
            completed_tasks: e.completed_tasks,
        }
    }
}
