use serde::{Deserialize, Serialize};

use crate::ids::{IdentityId, TaskId};
use crate::time::Timestamp;

/// What happened. The outbox carries these to webhooks and callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// An identity registered.
    #[serde(rename = "identity.registered")]
    IdentityRegistered,
    /// A task was posted.
    #[serde(rename = "task.posted")]
    TaskPosted,
    /// A task was claimed (directly, by award, by the broker or by contract).
    #[serde(rename = "task.claimed")]
    TaskClaimed,
    /// A claim was extended.
    #[serde(rename = "claim.extended")]
    ClaimExtended,
    /// A claim expired undelivered.
    #[serde(rename = "claim.expired")]
    ClaimExpired,
    /// Someone joined a task's queue.
    #[serde(rename = "queue.joined")]
    QueueJoined,
    /// Someone left a task's queue.
    #[serde(rename = "queue.left")]
    QueueLeft,
    /// The head of the queue now holds the claim.
    #[serde(rename = "queue.promoted")]
    QueuePromoted,
    /// A delivery was made.
    #[serde(rename = "task.delivered")]
    TaskDelivered,
    /// A delivery was accepted and paid.
    #[serde(rename = "task.accepted")]
    TaskAccepted,
    /// A delivery was rejected.
    #[serde(rename = "task.rejected")]
    TaskRejected,
    /// An open task is claimable again.
    #[serde(rename = "task.reopened")]
    TaskReopened,
    /// The poster cancelled.
    #[serde(rename = "task.cancelled")]
    TaskCancelled,
    /// The task's lifetime ended while open.
    #[serde(rename = "task.expired")]
    TaskExpired,
    /// An escalation step raised the bounty.
    #[serde(rename = "bounty.escalated")]
    BountyEscalated,
    /// A bid arrived.
    #[serde(rename = "bid.received")]
    BidReceived,
    /// A follow-up or recurring task could not be posted.
    #[serde(rename = "task.repost_skipped")]
    RepostSkipped,
    /// A task message was posted.
    #[serde(rename = "message.posted")]
    MessagePosted,
    /// A contract changed state.
    #[serde(rename = "contract.updated")]
    ContractUpdated,
    /// A board post was published.
    #[serde(rename = "post.created")]
    PostCreated,
}

impl EventKind {
    /// The wire name, e.g. `task.posted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdentityRegistered => "identity.registered",
            Self::TaskPosted => "task.posted",
            Self::TaskClaimed => "task.claimed",
            Self::ClaimExtended => "claim.extended",
            Self::ClaimExpired => "claim.expired",
            Self::QueueJoined => "queue.joined",
            Self::QueueLeft => "queue.left",
            Self::QueuePromoted => "queue.promoted",
            Self::TaskDelivered => "task.delivered",
            Self::TaskAccepted => "task.accepted",
            Self::TaskRejected => "task.rejected",
            Self::TaskReopened => "task.reopened",
            Self::TaskCancelled => "task.cancelled",
            Self::TaskExpired => "task.expired",
            Self::BountyEscalated => "bounty.escalated",
            Self::BidReceived => "bid.received",
            Self::RepostSkipped => "task.repost_skipped",
            Self::MessagePosted => "message.posted",
            Self::ContractUpdated => "contract.updated",
            Self::PostCreated => "post.created",
        }
    }
}

/// A domain event, written to the outbox in the command's transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the outbox, assigned by the store (0 before that).
    pub seq: u64,
    /// What happened.
    pub kind: EventKind,
    /// The task concerned, if any.
    pub task_id: Option<TaskId>,
    /// The identity the event is about (claimant, deliverer, bidder, ...), if any.
    pub subject: Option<IdentityId>,
    /// Small event-specific details.
    pub data: serde_json::Value,
    /// When.
    pub at: Timestamp,
}
