use std::borrow::Cow;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{BidId, ContractId, IdentityId, MessageId, PostId, TaskId};
use crate::model::{ContractStatus, PostKind, RejectCategory, Task};
use crate::time::Timestamp;

/// How a claim came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimVia {
    /// The agent claimed it.
    Claim,
    /// The agent was first in the queue.
    Queue,
    /// The poster awarded the agent's bid.
    Award,
    /// The agent's auto-claim rule matched.
    Broker,
    /// The task was posted under the agent's contract.
    Contract,
}

/// Which follow-up of a completed task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Followup {
    /// `chain_next`.
    ChainNext,
    /// `recurring`.
    Recurring,
}

/// Event-specific details: typed, and cheap to build on every command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detail", rename_all = "snake_case")]
pub enum EventData {
    /// Nothing beyond the kind, task and subject.
    None,
    /// The bounty now (posted, escalated).
    Bounty {
        /// Credits.
        bounty: Decimal,
    },
    /// How the claim came about.
    Claim {
        /// Claim, queue, award, broker or contract.
        via: ClaimVia,
    },
    /// A claim's new end.
    Extended {
        /// When the claim now lapses.
        expires_at: Timestamp,
    },
    /// A place in the queue.
    Queue {
        /// 1 is next.
        position: u32,
    },
    /// A delivery was made.
    Delivered {
        /// After `max_turnaround_s`.
        late: bool,
    },
    /// A settlement.
    Settled {
        /// Paid to the deliverer.
        amount: Decimal,
        /// Kept by the treasury.
        fee: Decimal,
    },
    /// A rejection.
    Rejected {
        /// Why.
        category: RejectCategory,
        /// The poster's feedback.
        text: String,
    },
    /// A refund of the held bounty.
    Refunded {
        /// Credits returned.
        refund: Decimal,
    },
    /// A bid.
    Bid {
        /// The bid.
        bid: BidId,
        /// Its price.
        offered_price: Decimal,
    },
    /// A task message.
    Message {
        /// The message.
        message: MessageId,
        /// A public question.
        pre_claim: bool,
    },
    /// A contract's state.
    Contract {
        /// The contract.
        contract: ContractId,
        /// Its state now.
        status: ContractStatus,
    },
    /// A board post.
    Post {
        /// The post.
        post: PostId,
        /// Its kind.
        kind: PostKind,
    },
    /// A follow-up that could not be posted.
    Skipped {
        /// Which follow-up.
        followup: Followup,
        /// The error code that refused it.
        error: Cow<'static, str>,
    },
}

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
    /// The events a webhook may subscribe to, in the order the AgentMarket document lists
    /// them: what happens to a task, its claim, its queue and its bids.
    pub const SUBSCRIBABLE: [Self; 8] = [
        Self::TaskPosted,
        Self::TaskClaimed,
        Self::TaskDelivered,
        Self::TaskAccepted,
        Self::TaskRejected,
        Self::ClaimExpired,
        Self::QueuePromoted,
        Self::BidReceived,
    ];

    /// Every kind, in declaration order.
    pub const ALL: [Self; 20] = [
        Self::IdentityRegistered,
        Self::TaskPosted,
        Self::TaskClaimed,
        Self::ClaimExtended,
        Self::ClaimExpired,
        Self::QueueJoined,
        Self::QueueLeft,
        Self::QueuePromoted,
        Self::TaskDelivered,
        Self::TaskAccepted,
        Self::TaskRejected,
        Self::TaskReopened,
        Self::TaskCancelled,
        Self::TaskExpired,
        Self::BountyEscalated,
        Self::BidReceived,
        Self::RepostSkipped,
        Self::MessagePosted,
        Self::ContractUpdated,
        Self::PostCreated,
    ];

    /// What a webhook receives until its owner chooses: new matching tasks.
    pub const SUBSCRIBED_BY_DEFAULT: [Self; 1] = [Self::TaskPosted];

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

impl Event {
    /// Whether `viewer` (`None`: anyone, unauthenticated) may see the event as it happens:
    /// - a task's posting: everyone, but an assigned task's only its poster and assignee;
    /// - a board post: everyone;
    /// - anything else: the event's subject, and whoever takes part in its task
    ///   ([`Task::takes_part`], as the task stood after the event's command).
    ///
    /// What it may see *of* the task is [`Task::redacted_for`]'s to say.
    pub fn visible_to(&self, viewer: Option<&IdentityId>) -> bool {
        let task = self.task.as_deref();
        match self.kind {
            EventKind::TaskPosted => task.is_some_and(|t| match &t.spec.assign_to {
                None => true,
                Some(assignee) => viewer.is_some_and(|v| v == assignee || v == &t.poster),
            }),
            EventKind::PostCreated => true,
            _ => viewer.is_some_and(|v| {
                self.subject.as_ref() == Some(v) || task.is_some_and(|t| t.takes_part(v))
            }),
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
    /// Event-specific details.
    pub data: EventData,
    /// When.
    pub at: Timestamp,
    /// The task concerned as the event's command left it — unredacted, so whoever shows
    /// it redacts it for its viewer ([`Task::redacted_for`]). A webhook sent later shows
    /// what happened then, not what has happened since. `None` without a task, and in
    /// events stored before events carried their task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Arc<Task>>,
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn the_names_of_subscribable_events_are_their_wire_names() {
        for kind in EventKind::SUBSCRIBABLE {
            let wire = serde_json::to_value(kind).expect("a name");
            assert_eq!(wire, kind.as_str());
        }
        let names: Vec<&str> = EventKind::SUBSCRIBABLE.map(EventKind::as_str).to_vec();
        assert_eq!(
            names.join(", "),
            "task.posted, task.claimed, task.delivered, task.accepted, task.rejected, \
             claim.expired, queue.promoted, bid.received"
        );
    }

    #[test]
    fn every_kind_is_listed_once_under_its_wire_name() {
        let mut seen = std::collections::HashSet::new();
        for kind in EventKind::ALL {
            assert_eq!(serde_json::to_value(kind).expect("a name"), kind.as_str());
            assert!(seen.insert(kind), "{kind:?} twice");
            // A kind added to the enum stops this compiling until it is named here: name
            // it in `ALL` as well.
            match kind {
                EventKind::IdentityRegistered
                | EventKind::TaskPosted
                | EventKind::TaskClaimed
                | EventKind::ClaimExtended
                | EventKind::ClaimExpired
                | EventKind::QueueJoined
                | EventKind::QueueLeft
                | EventKind::QueuePromoted
                | EventKind::TaskDelivered
                | EventKind::TaskAccepted
                | EventKind::TaskRejected
                | EventKind::TaskReopened
                | EventKind::TaskCancelled
                | EventKind::TaskExpired
                | EventKind::BountyEscalated
                | EventKind::BidReceived
                | EventKind::RepostSkipped
                | EventKind::MessagePosted
                | EventKind::ContractUpdated
                | EventKind::PostCreated => {}
            }
        }
    }
}
