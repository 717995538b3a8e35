//! What reads return besides records ([`Balance`], [`Earnings`], [`ReputationView`]), and
//! the checks and redaction reads share.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::IdentityId;
use crate::limits::QUERY_BYTES_MAX;
use crate::model::Reputation;
use crate::store::FeedItem;

/// An identity's money, as the balance endpoints show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    /// Whose.
    pub identity: IdentityId,
    /// Owned credits (may be negative down to `-credit_limit`).
    pub balance: Decimal,
    /// How far below zero the balance may go.
    pub credit_limit: Decimal,
    /// What can be spent now: `balance - escrowed + credit_limit`.
    pub available: Decimal,
    /// Held for unsettled bounties.
    pub escrowed: Decimal,
    /// Net credits earned from accepted deliveries, ever.
    pub total_earned: Decimal,
    /// Bounties paid for accepted tasks, ever.
    pub total_spent: Decimal,
    /// Fees withheld from earnings, ever.
    pub total_fees: Decimal,
}

/// An identity's earnings summary (`GET /earnings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Earnings {
    /// Owned credits.
    pub balance: Decimal,
    /// How far below zero the balance may go.
    pub credit_limit: Decimal,
    /// What can be spent now.
    pub available: Decimal,
    /// Net credits earned from accepted deliveries.
    pub earned: Decimal,
    /// Bounties paid for accepted tasks.
    pub spent: Decimal,
    /// Fees withheld from earnings.
    pub fees: Decimal,
    /// Signup grants received.
    pub granted: Decimal,
    /// Deliveries accepted.
    pub completed_tasks: u64,
}

/// Reputation as the profile endpoints show it: counters, score and decay at `now`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReputationView {
    /// The counters.
    #[serde(flatten)]
    pub counters: Reputation,
    /// `raw` of the formula.
    pub raw: i64,
    /// The decay factor now.
    pub decay: Decimal,
    /// `max(0, raw * decay)`.
    pub score: Decimal,
    /// `accepted / (accepted + rejected)`.
    pub accept_rate: Decimal,
    /// Average 1-5 rating, if any.
    pub average_rating: Option<Decimal>,
    /// 0 to 5 over reviewed work (see [`Reputation::work_score`]).
    pub work_score: Decimal,
}

pub(super) fn check_query(text: &str) -> Result<(), Error> {
    if text.len() > QUERY_BYTES_MAX {
        return Err(Error::invalid("q", "longer than 256 bytes"));
    }
    Ok(())
}

pub(super) fn redact_items(items: Vec<FeedItem>) -> Vec<FeedItem> {
    items
        .into_iter()
        .map(|i| match i {
            FeedItem::Task(t) => FeedItem::Task(t.redacted_for(None)),
            post => post,
        })
        .collect()
}
