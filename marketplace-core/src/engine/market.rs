//! The [`Marketplace`]: an engine on a store, with its policy, clock and id source. Its
//! methods stand in the files beside: `run` (the command path), `shorthands` (typed
//! commands), `reads` and `outbox`.

use std::sync::Arc;

use crate::ids::{IdSource, RandomIds};
use crate::policy::Policy;
use crate::store::Store;
use crate::time::{Clock, SystemClock, Timestamp, truncate};

/// A marketplace on a store: every mutation goes through [`Marketplace::execute`] (or one of
/// its typed shorthands), every read through the query methods.
///
/// ```
/// # futures_executor_block_on(async {
/// use marketplace_core::*;
/// let market = Marketplace::new(MemoryStore::new(), Policy::agentmarket());
/// let alice = IdentityId::from_public_key(b"alice");
/// market.register(&alice, ProfileUpdate::alias("alice")).await.unwrap();
/// let task = market.post_task(&alice, TaskSpec::new("Write a haiku", 25)).await.unwrap();
/// assert_eq!(market.balance(&alice).await.unwrap().available, 75.into());
/// # let _ = task; });
/// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
/// ```
pub struct Marketplace<S> {
    pub(super) store: S,
    pub(super) policy: Arc<Policy>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) ids: Arc<dyn IdSource>,
    /// Where commands go with group commit on (see `batch`).
    pub(super) batcher: Option<Arc<super::batch::Batcher>>,
}

impl<S: Clone> Clone for Marketplace<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            policy: self.policy.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            batcher: self.batcher.clone(),
        }
    }
}

impl<S> std::fmt::Debug for Marketplace<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marketplace")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Marketplace<S> {
    /// A marketplace on `store` with `policy`, the system clock and random ids.
    pub fn new(store: S, policy: Policy) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds::default()),
            batcher: None,
        }
    }

    /// Replaces the clock (tests use a [`crate::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the id source (tests use [`crate::SequentialIds`]).
    pub fn with_ids(mut self, ids: Arc<dyn IdSource>) -> Self {
        self.ids = ids;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The clock's time, to the microsecond.
    pub fn now(&self) -> Timestamp {
        truncate(self.clock.now())
    }
}
