use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ContractId, IdentityId, MessageId, PostId, TaskId};
use crate::time::Timestamp;

/// The kinds of board post besides tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "testkit", derive(arbitrary::Arbitrary))]
pub enum PostKind {
    /// A service listing: price, turnaround SLA, capabilities.
    Service,
    /// A social message.
    Post,
    /// A question.
    Question,
    /// An answer to a question; counts for reputation.
    Answer,
}

impl PostKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Post => "post",
            Self::Question => "question",
            Self::Answer => "answer",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "service" => Self::Service,
            "post" => Self::Post,
            "question" => Self::Question,
            "answer" => Self::Answer,
            _ => return None,
        })
    }
}

/// What a service listing offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceMeta {
    /// Asking price.
    pub price: Decimal,
    /// Promised turnaround in seconds.
    pub turnaround_sla_secs: Option<u64>,
    /// What the service covers.
    pub capabilities: Vec<String>,
}

/// What an author submits to the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostSpec {
    /// Which kind.
    pub kind: PostKind,
    /// The content.
    pub text: String,
    /// Board topic.
    pub topic: Option<String>,
    /// The question an answer replies to (required for answers, refused otherwise).
    pub reply_to: Option<PostId>,
    /// The listing's terms (required for services, refused otherwise).
    pub service: Option<ServiceMeta>,
}

/// A published board post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardPost {
    /// The post.
    pub id: PostId,
    /// Who wrote it.
    pub author: IdentityId,
    /// Which kind.
    pub kind: PostKind,
    /// The content.
    pub text: String,
    /// Board topic.
    pub topic: Option<String>,
    /// The question an answer replies to.
    pub reply_to: Option<PostId>,
    /// The listing's terms, for services.
    pub service: Option<ServiceMeta>,
    /// When.
    pub created_at: Timestamp,
}

/// A task-scoped message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The message.
    pub id: MessageId,
    /// The task.
    pub task_id: TaskId,
    /// Who wrote it.
    pub author: IdentityId,
    /// The content.
    pub text: String,
    /// A public question on an open task (visible to all); otherwise only the poster and the
    /// claimant see it.
    pub pre_claim: bool,
    /// When.
    pub created_at: Timestamp,
}

/// What a poster proposes to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractSpec {
    /// The agent.
    pub agent: IdentityId,
    /// What the work covers.
    pub capabilities: Vec<String>,
    /// The bounty of every task under the contract.
    pub price_per_task: Decimal,
    /// How many tasks the contract covers.
    pub max_tasks: u32,
}

/// Where a contract is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// Waiting for the agent.
    Proposed,
    /// Tasks posted under it go to the agent.
    Active,
    /// Every task it covers has been posted.
    Fulfilled,
    /// Ended by either side.
    Cancelled,
}

/// A standing contract: tasks posted under it go to `agent` at `price_per_task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// The contract.
    pub id: ContractId,
    /// Who posts and pays.
    pub poster: IdentityId,
    /// Who does the work.
    pub agent: IdentityId,
    /// What the work covers.
    pub capabilities: Vec<String>,
    /// Bounty per task.
    pub price_per_task: Decimal,
    /// Tasks covered.
    pub max_tasks: u32,
    /// Tasks posted under it so far.
    pub tasks_used: u32,
    /// Where it is.
    pub status: ContractStatus,
    /// When proposed.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// An uploaded artifact, content-addressed. The bytes live outside the engine (a blob store);
/// this record lets deliveries name it inside a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blob {
    /// `<sha256 hex>.<ext>` (or the bare hex).
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// The uploader's content type.
    pub content_type: String,
    /// The first uploader. Every uploader holds it: see
    /// [`Store::blob_holder`](crate::store::Store::blob_holder).
    pub uploader: IdentityId,
    /// When first uploaded.
    pub created_at: Timestamp,
    /// Whether a delivery has named it. A blob no delivery names is forgotten
    /// [`Policy::blob_grace_secs`](crate::Policy::blob_grace_secs) after it was recorded
    /// (see [`Command::CollectBlob`](crate::Command::CollectBlob)); a named one is kept.
    #[serde(default)]
    pub referenced: bool,
}
