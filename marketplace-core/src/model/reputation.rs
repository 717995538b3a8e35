use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::IdentityId;
use crate::time::Timestamp;

/// An identity's track record: the counters of the Agora formula, ratings, and the number of
/// claims it holds now (kept here because every claim rule loads this record anyway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reputation {
    /// Whose record.
    pub identity: IdentityId,
    /// Deliveries accepted (by the poster, the gate, the task flag or the review TTL).
    pub accepted: u64,
    /// Deliveries made.
    pub delivered: u64,
    /// Answers posted to questions.
    pub answers: u64,
    /// Claims taken (direct, promoted from a queue, awarded, by the broker, by contract).
    pub claims: u64,
    /// Tasks and board posts authored.
    pub total: u64,
    /// Deliveries rejected.
    pub rejected: u64,
    /// Rejections of deliveries made after the task's `max_turnaround_s`.
    pub late_rejections: u64,
    /// Claims that expired undelivered.
    pub ghosts: u64,
    /// Sum of the 1-5 ratings posters gave on accept.
    pub rating_sum: u64,
    /// Number of ratings.
    pub rating_count: u64,
    /// Claims held right now.
    pub open_claims: u32,
    /// Last successful command by this identity; drives decay.
    pub last_active_at: Timestamp,
}

impl Reputation {
    /// A fresh record.
    pub fn new(identity: IdentityId, now: Timestamp) -> Self {
        Self {
            identity,
            accepted: 0,
            delivered: 0,
            answers: 0,
            claims: 0,
            total: 0,
            rejected: 0,
            late_rejections: 0,
            ghosts: 0,
            rating_sum: 0,
            rating_count: 0,
            open_claims: 0,
            last_active_at: now,
        }
    }

    /// `accepted*5 + delivered*2 + answers*2 + claims + total - rejected*3 - late_rejections*5
    /// - ghosts*4`.
    pub fn raw(&self) -> i128 {
        let c = |v: u64| i128::from(v);
        c(self.accepted) * 5
            + c(self.delivered) * 2
            + c(self.answers) * 2
            + c(self.claims)
            + c(self.total)
            - c(self.rejected) * 3
            - c(self.late_rejections) * 5
            - c(self.ghosts) * 4
    }

    /// The decay factor at `now`: 1.0 within 7 days of the last activity, then 2% less per
    /// full day, never below 10%.
    pub fn decay(&self, now: Timestamp) -> Decimal {
        let idle_days = (now - self.last_active_at).num_days();
        if idle_days <= 7 {
            return Decimal::ONE;
        }
        let decayed = Decimal::ONE - Decimal::new(2, 2) * Decimal::from(idle_days - 7);
        decayed.max(Decimal::new(1, 1))
    }

    /// `max(0, raw * decay)`.
    pub fn score(&self, now: Timestamp) -> Decimal {
        let raw = Decimal::from_i128_with_scale(self.raw(), 0);
        (raw * self.decay(now)).max(Decimal::ZERO).normalize()
    }

    /// `accepted / (accepted + rejected)`, zero with no reviewed deliveries.
    pub fn accept_rate(&self) -> Decimal {
        let reviewed = self.accepted + self.rejected;
        if reviewed == 0 {
            return Decimal::ZERO;
        }
        Decimal::from(self.accepted) / Decimal::from(reviewed)
    }

    /// Whether [`Reputation::accept_rate`] is at least `rate`, decided without dividing:
    /// `accepted >= rate × reviewed`, exact where the quotient would be rounded.
    ///
    /// ```
    /// use marketplace_core::{IdentityId, Reputation};
    /// use rust_decimal::Decimal;
    /// let mut rep = Reputation::new(IdentityId::from_public_key(b"agent"), chrono::Utc::now());
    /// assert!(!rep.accept_rate_at_least(Decimal::new(1, 1)), "no reviews: a rate of zero");
    /// rep.accepted = 2;
    /// rep.rejected = 1;
    /// assert!(rep.accept_rate_at_least(Decimal::new(66, 2)));
    /// assert!(!rep.accept_rate_at_least(Decimal::new(67, 2)));
    /// ```
    pub fn accept_rate_at_least(&self, rate: Decimal) -> bool {
        let reviewed = self.accepted + self.rejected;
        if reviewed == 0 {
            return rate <= Decimal::ZERO;
        }
        match rate.checked_mul(Decimal::from(reviewed)) {
            Some(needed) => Decimal::from(self.accepted) >= needed,
            // Beyond Decimal's range: no count reaches it.
            None => rate <= Decimal::ZERO,
        }
    }

    /// AgentMarket's `reputation_score`: 0 to 5, the average over reviewed work where an
    /// accepted delivery counts its poster's 1-5 rating (5 when unrated) and a rejected one
    /// counts 0; 0 before any review. Rounded to two places.
    ///
    /// ```
    /// use marketplace_core::{IdentityId, Reputation};
    /// use rust_decimal::Decimal;
    /// let mut rep = Reputation::new(IdentityId::from_public_key(b"agent"), chrono::Utc::now());
    /// assert_eq!(rep.work_score(), Decimal::ZERO);
    /// rep.accepted = 4; // one rated 3, three unrated
    /// rep.rating_sum = 3;
    /// rep.rating_count = 1;
    /// rep.rejected = 1;
    /// assert_eq!(rep.work_score(), Decimal::new(36, 1)); // (3 + 5 + 5 + 5 + 0) / 5
    /// ```
    pub fn work_score(&self) -> Decimal {
        let reviewed = self.accepted.saturating_add(self.rejected);
        if reviewed == 0 {
            return Decimal::ZERO;
        }
        let unrated = self.accepted.saturating_sub(self.rating_count);
        let points = Decimal::from(self.rating_sum) + Decimal::from(unrated) * Decimal::from(5);
        (points / Decimal::from(reviewed))
            .round_dp(2)
            .clamp(Decimal::ZERO, Decimal::from(5))
    }

    /// The average rating, if any were given.
    pub fn average_rating(&self) -> Option<Decimal> {
        (self.rating_count > 0).then(|| {
            (Decimal::from(self.rating_sum) / Decimal::from(self.rating_count)).round_dp(2)
        })
    }
}
