//! The conformance suite: every [`Store`] runs it against itself.
//!
//! A backend implements [`Harness`] (a fresh, empty store per case) and calls
//! [`conformance_suite!`](crate::conformance_suite) once in its tests:
//!
//! ```ignore
//! struct MyHarness;
//! impl marketplace_core::testkit::Harness for MyHarness {
//!     type Store = MyStore;
//!     type Guard = ScratchDatabase; // dropped at the end of the case: cleans up
//!     async fn store(&self) -> (MyStore, ScratchDatabase) { MyStore::connect_fresh().await }
//! }
//! marketplace_core::conformance_suite!(MyHarness);
//! ```
//!
//! The cases are plain public async functions in [`cases`], grouped by area, so a backend can
//! also call them one by one. Every case checks the invariants of [`crate::audit`] at its end.

pub mod cases;
mod failing;
mod fixture;
pub mod migration;
mod ops;

use std::future::Future;

pub use failing::{FailingCommits, FailingTx};
pub use fixture::{Fixture, dec, test_policy};
pub use ops::{
    Op, Runner, Snapshot, TaskKind, ops_from_bytes, ops_from_seed, run_checked, snapshot,
};

use crate::store::{Backend, memory::MemoryStore};

/// Makes fresh stores for the suite.
pub trait Harness: Send + Sync {
    /// The store under test.
    type Store: Backend + Clone;
    /// Cleans up after a case when dropped (a temporary file, a scratch database).
    type Guard: Send + Sync + 'static;
    /// A fresh, empty store (its own database or schema) and its cleanup guard.
    fn store(&self) -> impl Future<Output = (Self::Store, Self::Guard)> + Send;
}

/// The in-memory store's harness.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryHarness;

impl Harness for MemoryHarness {
    type Store = MemoryStore;
    type Guard = ();
    async fn store(&self) -> (MemoryStore, ()) {
        (MemoryStore::new(), ())
    }
}

/// Expands to one `#[tokio::test]` per conformance case, each running against a fresh store
/// from the given [`Harness`]. The calling crate needs `tokio` (with `macros` and
/// `rt-multi-thread`) as a dev-dependency.
///
/// `conformance_suite!(harness, skip_unless = expr)` runs a case only when `expr` (a `bool`,
/// evaluated per case) holds: for backends whose server may be absent on a machine.
#[macro_export]
macro_rules! conformance_suite {
    ($harness:expr) => {
        $crate::conformance_suite!($harness, skip_unless = true);
    };
    ($harness:expr, skip_unless = $ready:expr) => {
        fn __conformance_ready() -> bool {
            $ready
        }
        $crate::conformance_suite!(@cases $harness;
            lifecycle::register_opens_account,
            lifecycle::post_escrows_bounty,
            lifecycle::lifecycle_settles_with_fee,
            lifecycle::auto_accept_paths,
            lifecycle::reject_promotes_or_reopens,
            lifecycle::cancel_and_expiry_refund,
            lifecycle::chain_and_recurring,
            lifecycle::private_delivery,
            lifecycle::young_accounts_hold_no_base_credit,
            lifecycle::credit_exposure_sums_negative_balances,
            batches::later_commands_see_earlier,
            batches::refused_alone,
            batches::one_claim_wins_in_a_batch,
            batches::keys_in_a_batch,
            batches::failed_commit_fails_all,
            batches::conflicted_batch_runs_one_by_one,
            batches::lanes_answer_each_command,
            claims::first_claim_wins,
            claims::claim_rules,
            claims::extend_claim,
            claims::queue_rules,
            claims::claim_expiry_promotes_fifo,
            claims::deliver_rules,
            claims::artifacts_held_and_collected,
            market::escalation,
            market::bidding_and_award,
            market::contracts,
            market::broker,
            market::messages,
            market::board,
            market::idempotency,
            market::reads,
            market::queued_and_delivered,
            market::pages_by_capability_and_search,
            races::fifty_claims_one_wins,
            races::deliver_vs_cancel,
            races::accept_vs_reject,
            races::concurrent_posts_never_overdraw,
            races::abandoned_commands_hold_nothing,
            races::idempotent_duplicates_execute_once,
            races::reservations_run_once,
            races::deliver_vs_collect,
            outbox::leases_complete_and_expire,
            outbox::retries_back_off,
            outbox::concurrent_leases_never_share,
            outbox::events_carry_their_task_as_of_their_command,
            outbox::last_event_seq_is_the_newest_events,
            credentials::api_keys,
            credentials::the_last_key_is_kept,
            credentials::logins,
            credentials::settings,
            credentials::custodial_keys,
            credentials::nonces,
            deliveries::webhook_settings,
            deliveries::fan_out_is_fenced,
            deliveries::delivery_attempts,
            deliveries::finished_attempts_commit_together,
            deliveries::concurrent_delivery_leases_never_share,
            deliveries::added_leased,
            timers::sweep_in_deadline_order,
            timers::lazy_application,
            differential::random_sequences_match_reference
        );
    };
    (@cases $harness:expr; $($area:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if !__conformance_ready() {
                    return;
                }
                $crate::testkit::cases::$area::$case(&$harness).await;
            }
        )*
    };
}
