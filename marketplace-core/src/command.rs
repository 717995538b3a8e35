//! The operation vocabulary: every mutation is a [`Command`]; its result an [`Outcome`].

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::error::StoreError;
use crate::ids::{BidId, ContractId, RuleId, TaskId};
use crate::model::{
    Account, AutoClaimRule, Bid, Blob, BoardPost, Contract, ContractSpec, DeliveryInput, Message,
    PostSpec, Profile, ProfileUpdate, RejectCategory, RuleSpec, Task, TaskSpec,
};

/// A mutation, issued by an identity (the actor). See [`crate::decide`] for the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Open an account for the actor's identity, with the policy's signup grant.
    Register(ProfileUpdate),
    /// Change the actor's profile.
    UpdateProfile(ProfileUpdate),
    /// Post a task, escrowing its bounty. Shared: the posted task keeps the same spec.
    PostTask(Arc<TaskSpec>),
    /// Claim an open task: first claim wins.
    Claim {
        /// The task.
        task: TaskId,
        /// A note to the poster ("On it").
        note: Option<String>,
    },
    /// Renew the actor's claim: it lapses `secs` (default: the task's claim TTL) from now,
    /// never later than `max_turnaround_s` after the claim.
    Extend {
        /// The task.
        task: TaskId,
        /// New lease length from now.
        secs: Option<u64>,
    },
    /// Join the waitlist of a claimed task.
    JoinQueue {
        /// The task.
        task: TaskId,
    },
    /// Leave the waitlist.
    LeaveQueue {
        /// The task.
        task: TaskId,
    },
    /// Deliver the result of the actor's claim.
    Deliver {
        /// The task.
        task: TaskId,
        /// Text and metadata.
        delivery: DeliveryInput,
    },
    /// Accept the delivery and settle: the poster's escrow pays the deliverer minus the fee.
    Accept {
        /// The task.
        task: TaskId,
        /// Optional 1-5 rating of the deliverer.
        rating: Option<u8>,
    },
    /// Reject the delivery with feedback; the queue's head takes over, or the task reopens.
    Reject {
        /// The task.
        task: TaskId,
        /// Feedback for the deliverer.
        text: String,
        /// Why.
        category: RejectCategory,
    },
    /// Cancel an open or claimed task and refund its bounty.
    Cancel {
        /// The task.
        task: TaskId,
    },
    /// Bid on a bidding task (replaces the actor's earlier bid).
    Bid {
        /// The task.
        task: TaskId,
        /// The pitch.
        text: String,
        /// The price asked.
        offered_price: Decimal,
        /// Promised turnaround in seconds, if any: the awarded claim lasts this long (else
        /// the task's claim TTL).
        turnaround_secs: Option<u64>,
    },
    /// Award a bid: the bidder holds the claim and the bounty becomes the offered price.
    Award {
        /// The task.
        task: TaskId,
        /// The winning bid.
        bid: BidId,
    },
    /// Post a task-scoped message.
    Message {
        /// The task.
        task: TaskId,
        /// The content.
        text: String,
        /// A public question on an open task.
        pre_claim: bool,
    },
    /// Create a broker auto-claim rule.
    CreateRule(RuleSpec),
    /// Delete one of the actor's rules.
    DeleteRule {
        /// The rule.
        rule: RuleId,
    },
    /// Propose a standing contract to an agent.
    ProposeContract(ContractSpec),
    /// Accept a contract proposed to the actor.
    AcceptContract {
        /// The contract.
        contract: ContractId,
    },
    /// Cancel a proposed or active contract (either side).
    CancelContract {
        /// The contract.
        contract: ContractId,
    },
    /// Publish a board post (service, post, question, answer).
    CreatePost(PostSpec),
    /// Record an uploaded artifact so deliveries can name it.
    RecordBlob {
        /// `<sha256 hex>.<ext>`.
        hash: String,
        /// Size in bytes.
        size: u64,
        /// The uploader's content type.
        content_type: String,
    },
    /// Forget an artifact record no delivery names once [`Policy::blob_grace_secs`] has
    /// passed since it was recorded (with its holders); a record that is younger, or that
    /// a delivery names, stays. Needs no rights, like [`Command::Touch`]: it only does what
    /// time has already decided. The blob store deletes the bytes once this says so.
    ///
    /// [`Policy::blob_grace_secs`]: crate::Policy::blob_grace_secs
    CollectBlob {
        /// `<sha256 hex>.<ext>`.
        hash: String,
    },
    /// Apply whatever deadlines of the task have passed (claim expiry, review TTL, lifetime,
    /// escalation). Needs no rights: it only does what time has already decided.
    Touch {
        /// The task.
        task: TaskId,
    },
}

impl Command {
    /// The task this command acts on, if any.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Self::Claim { task, .. }
            | Self::Extend { task, .. }
            | Self::JoinQueue { task }
            | Self::LeaveQueue { task }
            | Self::Deliver { task, .. }
            | Self::Accept { task, .. }
            | Self::Reject { task, .. }
            | Self::Cancel { task }
            | Self::Bid { task, .. }
            | Self::Award { task, .. }
            | Self::Message { task, .. }
            | Self::Touch { task } => Some(*task),
            _ => None,
        }
    }

    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register(_) => "register",
            Self::UpdateProfile(_) => "update_profile",
            Self::PostTask(_) => "post_task",
            Self::Claim { .. } => "claim",
            Self::Extend { .. } => "extend",
            Self::JoinQueue { .. } => "join_queue",
            Self::LeaveQueue { .. } => "leave_queue",
            Self::Deliver { .. } => "deliver",
            Self::Accept { .. } => "accept",
            Self::Reject { .. } => "reject",
            Self::Cancel { .. } => "cancel",
            Self::Bid { .. } => "bid",
            Self::Award { .. } => "award",
            Self::Message { .. } => "message",
            Self::CreateRule(_) => "create_rule",
            Self::DeleteRule { .. } => "delete_rule",
            Self::ProposeContract(_) => "propose_contract",
            Self::AcceptContract { .. } => "accept_contract",
            Self::CancelContract { .. } => "cancel_contract",
            Self::CreatePost(_) => "create_post",
            Self::RecordBlob { .. } => "record_blob",
            Self::CollectBlob { .. } => "collect_blob",
            Self::Touch { .. } => "touch",
        }
    }
}

/// What a successful command returns. Stored with idempotency keys, so a retry gets the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The new account and profile.
    Registered {
        /// The account, with the signup grant.
        account: Account,
        /// The profile.
        profile: Box<Profile>,
    },
    /// The profile after the change.
    Profile(Box<Profile>),
    /// The task after the command (boxed: outcomes travel through several async returns).
    Task(Box<Task>),
    /// The bid placed.
    Bid(Bid),
    /// The message posted.
    Message(Message),
    /// The rule created.
    Rule(AutoClaimRule),
    /// The rule deleted.
    RuleDeleted {
        /// Which.
        rule: RuleId,
    },
    /// The contract after the command.
    Contract(Contract),
    /// The board post published.
    Post(Box<BoardPost>),
    /// The artifact record (the existing one if it was uploaded before).
    Blob(Blob),
    /// What [`Command::CollectBlob`] decided.
    BlobCollected {
        /// Whether the bytes may go: no record names them any more (none was made — an
        /// upload without credentials that no delivery named — or it was just forgotten).
        /// False when the record stays.
        removed: bool,
    },
}

impl Outcome {
    /// A task outcome.
    pub fn task(task: Task) -> Self {
        Self::Task(Box::new(task))
    }
}

/// An outcome of another kind than its command yields: a bug, reported as corrupt data.
pub(crate) fn unexpected(outcome: &Outcome) -> Error {
    Error::Storage(StoreError::Corrupt(format!(
        "unexpected outcome {outcome:?}"
    )))
}

/// The value an outcome carries, as the type its command yields: the one way to take a
/// command's result out of its [`Outcome`], for the engine's shorthands and every face.
/// Implemented on [`Outcome`] (not as `TryFrom` on each record type), so the records know
/// nothing of commands.
///
/// ```
/// use marketplace_core::{IntoValue, Outcome, RuleId, Task};
/// let deleted = Outcome::RuleDeleted { rule: RuleId(uuid::Uuid::nil()) };
/// assert!(IntoValue::<Task>::into_value(deleted).is_err());
/// ```
pub trait IntoValue<T> {
    /// The value; an outcome of another kind is an error (a bug).
    fn into_value(self) -> Result<T, Error>;
}

/// [`IntoValue`] for the value each kind of outcome carries.
macro_rules! outcome_values {
    ($($ty:ty: $pattern:pat => $value:expr;)*) => {$(
        impl IntoValue<$ty> for Outcome {
            fn into_value(self) -> Result<$ty, Error> {
                match self {
                    $pattern => Ok($value),
                    other => Err(unexpected(&other)),
                }
            }
        }
    )*};
}

outcome_values! {
    Task: Outcome::Task(task) => *task;
    Profile: Outcome::Profile(profile) => *profile;
    (Account, Profile): Outcome::Registered { account, profile } => (account, *profile);
    Bid: Outcome::Bid(bid) => bid;
    Message: Outcome::Message(message) => message;
    AutoClaimRule: Outcome::Rule(rule) => rule;
    Contract: Outcome::Contract(contract) => contract;
    BoardPost: Outcome::Post(post) => *post;
    Blob: Outcome::Blob(blob) => blob;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RuleId;

    #[test]
    fn an_outcome_yields_its_own_kind_only() {
        let deleted = Outcome::RuleDeleted {
            rule: RuleId(uuid::Uuid::from_u128(7)),
        };
        let refused = IntoValue::<Task>::into_value(deleted).unwrap_err();
        assert!(
            matches!(refused, Error::Storage(StoreError::Corrupt(_))),
            "{refused}"
        );
        assert!(refused.to_string().contains("RuleDeleted"));
        let collected = Outcome::BlobCollected { removed: true };
        assert!(IntoValue::<Blob>::into_value(collected).is_err());
    }
}
