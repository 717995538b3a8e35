use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::audit::audit;
use crate::engine::Marketplace;
use crate::ids::{IdentityId, SequentialIds};
use crate::model::{DeliveryInput, ProfileUpdate, Task, TaskSpec};
use crate::policy::Policy;
use crate::store::{Store, TaskQuery};
use crate::time::ManualClock;

/// A decimal from its text: `dec("22.5")`.
pub fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text)
        .or_else(|_| Decimal::from_str(text))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The suite's policy: Agora's numbers (12% fee, credit 50) plus a signup grant of 100, so
/// every path of money is exercised.
pub fn test_policy() -> Policy {
    Policy {
        signup_grant: Decimal::from(100),
        ..Policy::agora()
    }
}

/// A marketplace on a fresh store with a manual clock and deterministic ids.
pub struct Fixture<S: Store> {
    /// The engine under test.
    pub market: Marketplace<S>,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// Cleans up the store's resources when the fixture is dropped.
    guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl<S: Store> Fixture<S> {
    /// A fixture with [`test_policy`].
    pub fn new(store: S) -> Self {
        Self::with_policy(store, test_policy())
    }

    /// A fixture with `policy`.
    pub fn with_policy(store: S, policy: Policy) -> Self {
        // 2026-01-01T00:00:00Z
        let clock = Arc::new(ManualClock::at_unix(1_767_225_600));
        let market = Marketplace::new(store, policy)
            .with_clock(clock.clone())
            .with_ids(Arc::new(SequentialIds::default()));
        Self {
            market,
            clock,
            guard: None,
        }
    }

    /// Keeps `guard` alive as long as the fixture (a harness's cleanup).
    pub fn with_guard(mut self, guard: impl Send + Sync + 'static) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// Registers an identity named `name`.
    pub async fn agent(&self, name: &str) -> IdentityId {
        self.agent_with(name, &[]).await
    }

    /// Registers an identity named `name` with capabilities.
    pub async fn agent_with(&self, name: &str, capabilities: &[&str]) -> IdentityId {
        let id = IdentityId::from_public_key(name.as_bytes());
        let profile = ProfileUpdate::alias(name).with_capabilities(capabilities.iter().copied());
        self.market
            .register(&id, profile)
            .await
            .unwrap_or_else(|e| panic!("register {name}: {e}"));
        id
    }

    /// Posts `spec` for `poster`, has `worker` claim it and deliver `text`: the task as it
    /// stands after the delivery (delivered, or completed if accepted at once).
    pub async fn delivered(
        &self,
        poster: &IdentityId,
        worker: &IdentityId,
        spec: TaskSpec,
        text: &str,
    ) -> Task {
        let task = self.market.post_task(poster, spec).await.expect("post");
        self.market.claim(worker, task.id).await.expect("claim");
        self.market
            .deliver(worker, task.id, DeliveryInput::text(text))
            .await
            .expect("deliver")
    }

    /// The most recently posted task.
    pub async fn newest_task(&self) -> Task {
        let query = TaskQuery {
            limit: 1,
            ..TaskQuery::default()
        };
        self.market
            .store()
            .tasks(&query)
            .await
            .expect("tasks")
            .remove(0)
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        self.clock.advance_secs(secs);
    }

    /// What `id` can spend.
    pub async fn available(&self, id: &IdentityId) -> Decimal {
        self.market.balance(id).await.expect("balance").available
    }

    /// Panics unless every invariant holds.
    pub async fn assert_invariants(&self) {
        let report = audit(self.market.store(), self.market.policy().queue_max)
            .await
            .expect("audit");
        assert!(
            report.is_clean(),
            "invariants violated:\n{}",
            report.violations().join("\n")
        );
    }
}
