//! Where a task is in its life ([`TaskStatus`]): a leaf, so errors can name a status
//! without knowing tasks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a task is in its life.
///
/// ```text
/// open ──claim──> claimed ──deliver──> delivered ──accept──> completed
///  │  ^             │  │                  │
///  │  └─ claim expires / reject, queue empty ─┘   (queue non-empty: next agent claims)
///  ├─ cancel (open or claimed, poster) ──> cancelled (refund)
///  └─ lifetime ends while open ──> expired (refund)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Claimable (or open for bids).
    Open,
    /// One agent holds the claim (AgentMarket: "assigned").
    Claimed,
    /// A delivery awaits review.
    Delivered,
    /// Accepted and paid. Final.
    Completed,
    /// Cancelled by the poster and refunded. Final.
    Cancelled,
    /// Lifetime ended while open; refunded. Final.
    Expired,
}

impl TaskStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Delivered => "delivered",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// Parses a wire name (`assigned` is AgentMarket's `claimed`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "open" => Self::Open,
            "claimed" | "assigned" => Self::Claimed,
            "delivered" => Self::Delivered,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            "expired" => Self::Expired,
            _ => return None,
        })
    }

    /// Whether the bounty is still held in escrow.
    pub fn holds_escrow(self) -> bool {
        matches!(self, Self::Open | Self::Claimed | Self::Delivered)
    }

    /// Whether nothing more can happen to the task.
    pub fn is_final(self) -> bool {
        !self.holds_escrow()
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
