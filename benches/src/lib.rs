//! Shared set-up for the benchmarks: a marketplace with funded identities, and the baseline
//! every engine figure is divided by.

use std::collections::HashMap;
use std::sync::Arc;

use async_lock::Mutex;
use marketplace_core::decide::{Party, View};
use marketplace_core::*;
use rust_decimal::Decimal;

pub mod process;
pub mod storage;

/// The median, lowest and highest of `values` (not empty), which it sorts: how the
/// generators report a figure over rounds.
pub fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// A policy whose signup grant funds millions of lifecycles.
pub fn bench_policy() -> Policy {
    Policy {
        signup_grant: Decimal::from(1_000_000_000),
        ..Policy::agentmarket()
    }
}

/// A fresh in-memory marketplace with a poster and a worker.
pub async fn market() -> (Marketplace<MemoryStore>, IdentityId, IdentityId) {
    let market = Marketplace::new(MemoryStore::new(), bench_policy());
    let (poster, worker) = storage::pairs(&market, 1).await.remove(0);
    (market, poster, worker)
}

/// The task every benchmark posts. It requires review, so every lifecycle runs all four
/// commands (the worker soon passes the quality gate and would be accepted at delivery).
pub fn spec() -> TaskSpec {
    let mut spec =
        TaskSpec::new("Summarize this paper in 200 words", Decimal::new(25, 2)).skill("research");
    spec.require_review = true;
    spec
}

/// One full lifecycle: post → claim → deliver → accept (four commands, four transactions).
pub async fn lifecycle<S: Store>(
    market: &Marketplace<S>,
    poster: &IdentityId,
    worker: &IdentityId,
) {
    let task = market.post_task(poster, spec()).await.expect("post");
    market.claim(worker, task.id).await.expect("claim");
    market
        .deliver(worker, task.id, DeliveryInput::text("summary"))
        .await
        .expect("deliver");
    market.accept(poster, task.id, None).await.expect("accept");
}

/// The view `decide` needs to claim `task`: the task and both parties.
pub async fn claim_view(
    market: &Marketplace<MemoryStore>,
    task: TaskId,
    parties: &[&IdentityId],
) -> View {
    let store = market.store();
    let mut view = View::default();
    view.tasks
        .insert(task, store.task(task).await.expect("task").map(Arc::new));
    for id in parties {
        let account = store
            .account(id)
            .await
            .expect("account")
            .expect("registered");
        let reputation = store
            .reputation(id)
            .await
            .expect("reputation")
            .expect("registered");
        view.parties.insert(
            (*id).clone(),
            Some(Party {
                account,
                reputation,
            }),
        );
    }
    view
}

/// The baseline: the same number of transactions as one lifecycle, each taking the store's
/// kind of lock, reading a task record, and writing it back with an account and a ledger
/// line — the data movement of a command with no rules at all.
#[derive(Default, Clone)]
pub struct RawBaseline {
    state: Arc<Mutex<RawState>>,
}

/// What the baseline's transactions touch.
#[derive(Default)]
struct RawState {
    tasks: HashMap<TaskId, Task>,
    accounts: HashMap<IdentityId, Account>,
    ledger: Vec<LedgerEntry>,
}

impl RawBaseline {
    /// Four raw transactions on `task` (stands for one lifecycle).
    pub async fn four_transactions(&self, task: &Task, account: &Account, line: &LedgerEntry) {
        for _ in 0..4 {
            let mut guard = self.state.lock_arc().await;
            let state = &mut *guard;
            let mut record = state
                .tasks
                .get(&task.id)
                .cloned()
                .unwrap_or_else(|| task.clone());
            record.message_count = record.message_count.wrapping_add(1);
            state.tasks.insert(record.id, record);
            state
                .accounts
                .insert(account.identity.clone(), account.clone());
            state.ledger.push(line.clone());
            if state.ledger.len() > 4096 {
                state.ledger.clear();
            }
        }
    }
}
