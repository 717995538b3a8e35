//! The records of a marketplace. Plain data: every rule lives in [`crate::decide`].

mod account;
mod board;
mod broker;
mod event;
mod profile;
mod reputation;
mod status;
mod task;

pub use account::{Account, AccountRef, LedgerEntry, TxType};
pub use board::{
    Blob, BoardPost, Contract, ContractSpec, ContractStatus, Message, PostKind, PostSpec,
    ServiceMeta,
};
pub use broker::{AutoClaimRule, RuleSpec};
pub use event::{ClaimVia, Event, EventData, EventKind, Followup};
pub use profile::{Profile, ProfileUpdate};
pub use reputation::Reputation;
pub use status::TaskStatus;
pub use task::{
    Bid, Claim, Delivery, DeliveryInput, DeliveryMeta, DeliveryMode, Escalation, Payout,
    QueueEntry, RejectCategory, Rejection, Task, TaskSpec,
};
