//! Errors as each dialect answers them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An Agora error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine code, e.g. `already_claimed`.
    pub code: String,
    /// For people.
    pub message: String,
}

/// An AgentMarket error: `{"success": false, "error", "code"}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AmError {
    /// Always `false`.
    pub success: bool,
    /// For people.
    pub error: String,
    /// A stable machine code.
    pub code: String,
}

/// Defines [`ErrorCode`]: each variant with its code on the wire.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// Every stable machine code the marketplace answers an error with (`error.code` in
        /// the Agora dialect, `code` in the AgentMarket one). A code this version does not
        /// know — a newer server's — reads as [`ErrorCode::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this version of the API does not know.
            Other(String),
        }

        impl ErrorCode {
            /// Every known code, in the order declared.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it travels.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Other(code) => code,
                }
            }

            /// The code `text` names ([`ErrorCode::Other`] if none).
            pub fn parse(text: &str) -> Self {
                match text {
                    $($code => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// The request is malformed or out of range (400).
    InvalidInput = "invalid_input",
    /// No credentials, or credentials that prove nothing (401).
    Unauthorized = "unauthorized",
    /// The identity named does not exist.
    UnknownIdentity = "unknown_identity",
    /// The identity is registered already.
    IdentityExists = "identity_exists",
    /// No such task.
    TaskNotFound = "task_not_found",
    /// A task named in `depends_on` does not exist.
    DependencyNotFound = "dependency_not_found",
    /// No such bid.
    BidNotFound = "bid_not_found",
    /// No such auto-claim rule.
    RuleNotFound = "rule_not_found",
    /// No such contract.
    ContractNotFound = "contract_not_found",
    /// No such board post.
    PostNotFound = "post_not_found",
    /// No such artifact, or not one the caller may read.
    ArtifactNotFound = "artifact_not_found",
    /// No API key with that prefix.
    KeyNotFound = "key_not_found",
    /// A route or resource of the HTTP layer does not exist.
    NotFound = "not_found",
    /// Only the task's poster may do this.
    NotPoster = "not_poster",
    /// Only the task's claimant may do this.
    NotClaimant = "not_claimant",
    /// A poster cannot claim its own task.
    OwnTask = "own_task",
    /// The task is assigned to another identity.
    NotAssignee = "not_assignee",
    /// Only the poster and the claimant may do this.
    NotParticipant = "not_participant",
    /// Only the contract's poster or agent may do this.
    NotContractParty = "not_contract_party",
    /// The task takes bids, not claims.
    BiddingOnly = "bidding_only",
    /// The task does not take bids.
    NotBidding = "not_bidding",
    /// Someone else holds the claim.
    AlreadyClaimed = "already_claimed",
    /// The caller holds the claim already.
    AlreadyClaimant = "already_claimant",
    /// The waitlist is full.
    QueueFull = "queue_full",
    /// The caller waits in the queue already.
    AlreadyQueued = "already_queued",
    /// The caller is not in the queue.
    NotQueued = "not_queued",
    /// The task's state does not allow this.
    WrongState = "wrong_state",
    /// The contract's state does not allow this.
    ContractState = "contract_state",
    /// A task this one depends on is not completed.
    DependenciesIncomplete = "dependencies_incomplete",
    /// The caller's reputation is below the task's minimum.
    ReputationTooLow = "reputation_too_low",
    /// The caller holds too many claims at once.
    TooManyClaims = "too_many_claims",
    /// A bound of the marketplace is reached.
    LimitReached = "limit_reached",
    /// Not enough available credit (402).
    InsufficientFunds = "insufficient_funds",
    /// The delivery's output does not satisfy the task's result schema (422).
    ResultSchemaMismatch = "result_schema_mismatch",
    /// The `Idempotency-Key` was used with another request.
    IdempotencyConflict = "idempotency_conflict",
    /// A request with the same `Idempotency-Key` is still running; retry (409, `Retry-After`).
    IdempotencyInProgress = "idempotency_in_progress",
    /// The email is signed up already.
    EmailTaken = "email_taken",
    /// The identity's last credential cannot be revoked.
    LastCredential = "last_credential",
    /// The request body is larger than allowed (413).
    TooLarge = "too_large",
    /// The body is not JSON where JSON is expected (415).
    UnsupportedMediaType = "unsupported_media_type",
    /// The request body stopped arriving (408).
    RequestTimeout = "request_timeout",
    /// The request target is too long (414).
    UriTooLong = "uri_too_long",
    /// The request headers are too large (431).
    HeadersTooLarge = "headers_too_large",
    /// Too many requests; retry after `Retry-After` (429).
    RateLimited = "rate_limited",
    /// The artifact store is full (507).
    InsufficientStorage = "insufficient_storage",
    /// The agent called on the caller's behalf failed (502).
    AgentFailed = "agent_failed",
    /// The agent called on the caller's behalf did not answer in time (504).
    AgentTimeout = "agent_timeout",
    /// No LLM is configured for direct execution (503).
    LlmUnavailable = "llm_unavailable",
    /// The store failed (500 or 503).
    StorageError = "storage_error",
    /// The server failed on its own side (500).
    Internal = "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_reads_back_as_itself_and_unknown_codes_are_kept() {
        for code in ErrorCode::KNOWN {
            assert_eq!(&ErrorCode::parse(code.as_str()), code);
        }
        let mut texts: Vec<_> = ErrorCode::KNOWN.iter().map(ErrorCode::as_str).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(
            texts.len(),
            ErrorCode::KNOWN.len(),
            "a code is listed twice"
        );
        assert_eq!(
            ErrorCode::parse("brand_new"),
            ErrorCode::Other("brand_new".into())
        );
    }
}
