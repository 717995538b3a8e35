//! One error vocabulary: every rejection has a stable machine code.

use std::borrow::Cow;

use rust_decimal::Decimal;

use crate::model::TaskStatus;

/// Why a command or query did not happen. Nothing changed when one of these is returned.
///
/// Variants are in precedence order: when several apply, the earlier one is reported.
/// [`Error::code`] gives the stable string the HTTP layer sends; [`ErrorKind`] groups them
/// the way status codes do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field failed validation (size, range, format, precision).
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field, as the caller named it.
        field: Cow<'static, str>,
        /// What is wrong with it.
        reason: Cow<'static, str>,
    },
    /// The acting identity is not registered.
    #[error("unknown identity")]
    UnknownIdentity,
    /// Registration of an identity that already exists.
    #[error("identity already registered")]
    IdentityExists,
    /// No such task.
    #[error("task not found")]
    TaskNotFound,
    /// A task named in `depends_on` does not exist.
    #[error("dependency task not found")]
    DependencyNotFound,
    /// No such bid on this task.
    #[error("bid not found")]
    BidNotFound,
    /// No such auto-claim rule of the caller's.
    #[error("rule not found")]
    RuleNotFound,
    /// No such contract involving the caller.
    #[error("contract not found")]
    ContractNotFound,
    /// No such board post.
    #[error("post not found")]
    PostNotFound,
    /// `artifact_hash` names no uploaded blob.
    #[error("artifact not found")]
    ArtifactNotFound,
    /// Only the task's poster may do this.
    #[error("only the poster may do this")]
    NotPoster,
    /// Only the live claimant may do this.
    #[error("only the claimant may do this")]
    NotClaimant,
    /// Posters cannot claim, queue for or bid on their own tasks.
    #[error("the poster cannot take its own task")]
    OwnTask,
    /// The task is assigned to another identity.
    #[error("the task is assigned to another agent")]
    NotAssignee,
    /// Only the task's parties may do this: its poster and its agent (the claimant who
    /// messages a claimed task, the deliverer who reads a private result).
    #[error("only the task's poster and its agent may do this")]
    NotParticipant,
    /// Only the parties of a contract may act on it, each in its own role.
    #[error("not a party to this contract in that role")]
    NotContractParty,
    /// The task takes bids, not claims.
    #[error("this task takes bids, not claims")]
    BiddingOnly,
    /// The task does not take bids.
    #[error("this task does not take bids")]
    NotBidding,
    /// The task is already claimed by another agent.
    #[error("task already claimed")]
    AlreadyClaimed,
    /// The caller already holds the claim.
    #[error("you already hold the claim")]
    AlreadyClaimant,
    /// The waitlist is at its maximum.
    #[error("queue full")]
    QueueFull,
    /// The caller is already in the waitlist.
    #[error("already in the queue")]
    AlreadyQueued,
    /// The caller is not in the waitlist.
    #[error("not in the queue")]
    NotQueued,
    /// The task is not in a state that allows this.
    #[error("task is {status}, which does not allow this")]
    WrongState {
        /// The task's state when the command ran.
        status: TaskStatus,
    },
    /// The contract is not in a state that allows this.
    #[error("contract is not in a state that allows this")]
    ContractState,
    /// A task named in `depends_on` is not completed yet.
    #[error("a dependency is not completed yet")]
    DependenciesIncomplete,
    /// The caller's reputation is below the task's `min_reputation`.
    #[error("reputation {score} is below the required {required}")]
    ReputationTooLow {
        /// The caller's score now.
        score: Decimal,
        /// The task's minimum.
        required: Decimal,
    },
    /// The caller holds as many live claims as the policy allows.
    #[error("too many open claims")]
    TooManyClaims,
    /// The caller has as many items of some kind as allowed (rules, bids, messages, ...).
    #[error("limit reached: {what}")]
    LimitReached {
        /// What is at its limit.
        what: &'static str,
    },
    /// The poster cannot cover the amount.
    #[error("insufficient funds: need {needed}, available {available}")]
    InsufficientFunds {
        /// What the command needs.
        needed: Decimal,
        /// What the poster can spend: balance - escrowed + credit limit.
        available: Decimal,
    },
    /// The delivered output does not match the task's `result_schema`.
    #[error("result does not match result_schema: {reason}")]
    ResultSchemaMismatch {
        /// The first validation failure.
        reason: String,
    },
    /// The idempotency key was used before with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyConflict,
    /// A request under the same idempotency key is still running; retry shortly to get its
    /// answer.
    #[error("a request with this idempotency key is still running; retry shortly")]
    IdempotencyInProgress,
    /// The storage backend failed; the command did not happen and may be retried.
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
}

/// How an [`Error`] should be reported: the classes an HTTP status expresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or out of range (400).
    Invalid,
    /// Something named does not exist (404).
    NotFound,
    /// The caller may not do this (403).
    Forbidden,
    /// The target's state does not allow it (409).
    Conflict,
    /// Not enough money (402).
    InsufficientFunds,
    /// Semantically unacceptable content (422).
    Unprocessable,
    /// The backend failed (500/503).
    Internal,
}

impl Error {
    /// A validation error for `field`.
    pub fn invalid(
        field: impl Into<Cow<'static, str>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "invalid_input",
            Self::UnknownIdentity => "unknown_identity",
            Self::IdentityExists => "identity_exists",
            Self::TaskNotFound => "task_not_found",
            Self::DependencyNotFound => "dependency_not_found",
            Self::BidNotFound => "bid_not_found",
            Self::RuleNotFound => "rule_not_found",
            Self::ContractNotFound => "contract_not_found",
            Self::PostNotFound => "post_not_found",
            Self::ArtifactNotFound => "artifact_not_found",
            Self::NotPoster => "not_poster",
            Self::NotClaimant => "not_claimant",
            Self::OwnTask => "own_task",
            Self::NotAssignee => "not_assignee",
            Self::NotParticipant => "not_participant",
            Self::NotContractParty => "not_contract_party",
            Self::BiddingOnly => "bidding_only",
            Self::NotBidding => "not_bidding",
            Self::AlreadyClaimed => "already_claimed",
            Self::AlreadyClaimant => "already_claimant",
            Self::QueueFull => "queue_full",
            Self::AlreadyQueued => "already_queued",
            Self::NotQueued => "not_queued",
            Self::WrongState { .. } => "wrong_state",
            Self::ContractState => "contract_state",
            Self::DependenciesIncomplete => "dependencies_incomplete",
            Self::ReputationTooLow { .. } => "reputation_too_low",
            Self::TooManyClaims => "too_many_claims",
            Self::LimitReached { .. } => "limit_reached",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::ResultSchemaMismatch { .. } => "result_schema_mismatch",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::Storage(_) => "storage_error",
        }
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidInput { .. } => ErrorKind::Invalid,
            Self::UnknownIdentity
            | Self::TaskNotFound
            | Self::DependencyNotFound
            | Self::BidNotFound
            | Self::RuleNotFound
            | Self::ContractNotFound
            | Self::PostNotFound
            | Self::ArtifactNotFound => ErrorKind::NotFound,
            Self::NotPoster
            | Self::NotClaimant
            | Self::OwnTask
            | Self::NotAssignee
            | Self::NotParticipant
            | Self::NotContractParty
            | Self::ReputationTooLow { .. } => ErrorKind::Forbidden,
            Self::IdentityExists
            | Self::BiddingOnly
            | Self::NotBidding
            | Self::AlreadyClaimed
            | Self::AlreadyClaimant
            | Self::QueueFull
            | Self::AlreadyQueued
            | Self::NotQueued
            | Self::WrongState { .. }
            | Self::ContractState
            | Self::DependenciesIncomplete
            | Self::TooManyClaims
            | Self::LimitReached { .. }
            | Self::IdempotencyInProgress => ErrorKind::Conflict,
            Self::InsufficientFunds { .. } => ErrorKind::InsufficientFunds,
            Self::ResultSchemaMismatch { .. } | Self::IdempotencyConflict => {
                ErrorKind::Unprocessable
            }
            Self::Storage(_) => ErrorKind::Internal,
        }
    }
}

/// A storage failure. Commands that fail this way changed nothing.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The transaction lost a race (serialization failure, deadlock, busy): the engine
    /// retries the command a bounded number of times.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// The backend cannot be reached or refused the operation.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded: a bug or corruption.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}
