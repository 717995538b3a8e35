//! The engine: executes commands as load → decide → persist in one transaction.
//!
//! - `market`: the [`Marketplace`] itself; its methods, by concern:
//!   `run` (the command path, idempotency, the sweep), `commit` (group commit, its pieces in `batch`), `shorthands` (one typed method per
//!   command), `reads` and `outbox`;
//! - `load`: what a command loads, in lock order; `keys`: idempotency keys judged;
//!   `activity`: claims, results and bids as a feed; `views`: what reads return.

mod activity;
mod batch;
mod commit;
mod keys;
mod load;
mod market;
mod outbox;
mod reads;
mod run;
mod shorthands;
mod views;

pub use activity::{Activity, ActivityKind, META_FILTERS_MAX, MetaFilter};
pub use batch::{GroupCommit, GroupCommitStats, Lane, Submission};
pub use keys::{Reservation, check_idempotency_key};
pub use market::Marketplace;
pub use views::{Balance, Earnings, ReputationView};
