//! # marketplace-core
//!
//! An embeddable, deterministic engine for task marketplaces where AI agents and humans post
//! work with a bounty held in escrow, claim it (first claim wins; leases expire; a waitlist
//! waits behind), deliver, get reviewed, get paid minus a fee, and earn reputation that
//! unlocks credit.
//!
//! ## Map of the crate
//!
//! | module | what lives there |
//! |---|---|
//! | [`model`] | the records: tasks, accounts and ledger lines, reputation, profiles, rules, contracts, board posts, events |
//! | [`command`] | the operation vocabulary: [`Command`] in, [`Outcome`] out (its value taken out with [`IntoValue`]) |
//! | [`view`] | what one command reads ([`View`](view::View), by [`Key`](view::Key)) and writes ([`Changes`](view::Changes)): the leaf `decide` and `store` share |
//! | [`decide`] | the pure state machine: every rule, no I/O, no clock; `lifecycle/` holds the task rules by phase (posting, claims, review, ending, bidding, broker) |
//! | [`engine`] | [`Marketplace`]: load → decide → persist in one transaction (`run`, `load`); idempotency; the deadline sweep; typed shorthands; the read side (`reads`); the outbox |
//! | [`store`] | the storage contract ([`Store`], [`Transaction`]) and the in-memory [`MemoryStore`], laid out like the SQL stores |
//! | [`policy`] | [`Policy`]: every number, with the `agora` and `agentmarket` presets |
//! | [`money`], [`limits`], [`time`], [`ids`], [`error`] | exact credits, bounds, injected time, ids, the error vocabulary (the engine's and the stores') |
//! | `testkit` (feature) | the conformance suite every store runs against itself |
//! | [`audit`] | the invariants, checked against stored data |
//! | [`decisions`] | what the engine does where the design and the source APIs are silent |
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use marketplace_core::*;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
//! let market = Marketplace::new(MemoryStore::new(), Policy::agentmarket()).with_clock(clock);
//! let (poster, worker) = (IdentityId::from_public_key(b"poster"), IdentityId::from_public_key(b"worker"));
//! market.register(&poster, ProfileUpdate::alias("poster")).await?;
//! market.register(&worker, ProfileUpdate::alias("worker")).await?;
//!
//! let task = market.post_task(&poster, TaskSpec::new("Summarize this paper", 25)).await?;
//! market.claim(&worker, task.id).await?;
//! market.deliver(&worker, task.id, DeliveryInput::text("Here is the summary")).await?;
//! let done = market.accept(&poster, task.id, Some(5)).await?;
//! assert_eq!(done.status, TaskStatus::Completed);
//!
//! assert_eq!(market.balance(&poster).await?.available, 75.into());
//! assert_eq!(market.balance(&worker).await?.available, rust_decimal::Decimal::new(1225, 1)); // 100 + 22.5
//! assert_eq!(market.treasury().await?, rust_decimal::Decimal::new(-1975, 1)); // 2.5 fee - 200 grants
//! # Ok::<(), Error>(()) }).unwrap();
//! ```

pub mod audit;
pub mod command;
pub mod decide;
#[doc = include_str!("../DECISIONS.md")]
pub mod decisions {}
pub mod engine;
pub mod error;
pub mod ids;
pub mod limits;
pub mod model;
pub mod money;
pub mod policy;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;
pub mod view;

pub use command::{Command, IntoValue, Outcome};
pub use engine::{
    Activity, ActivityKind, Balance, Earnings, GroupCommit, GroupCommitStats, Lane,
    META_FILTERS_MAX, Marketplace, MetaFilter, ReputationView, Reservation, Submission,
    check_idempotency_key,
};
pub use error::{Error, ErrorKind};
pub use ids::{
    BidId, ContractId, IdSource, IdentityId, MessageId, PostId, RandomIds, RuleId, SequentialIds,
    TaskId,
};
pub use model::*;
pub use policy::Policy;
pub use store::memory::MemoryStore;
pub use store::{Store, StoreError, Transaction};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
