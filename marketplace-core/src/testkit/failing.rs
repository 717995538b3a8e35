//! A store whose commits fail: for the cases that check what a failed commit does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rust_decimal::Decimal;

use crate::ids::{ContractId, IdentityId, PostId, RuleId, TaskId};
use crate::model::{
    Account, AccountRef, AutoClaimRule, Blob, BoardPost, Contract, Event, LedgerEntry, Message,
    Profile, Reputation, Task,
};
use crate::store::{
    FeedItem, FeedQuery, IdempotencyRecord, LeasedEvent, LedgerQuery, LedgerTotals, MarketSignals,
    ProfileQuery, SearchQuery, Store, StoreError, TaskParties, TaskQuery, Transaction,
};
use crate::time::Timestamp;
use crate::view::{Changes, Party, View};

/// `S` with its next commits rolled back and reported failed with an error of the test's
/// choosing; everything else is `S`'s own.
#[derive(Debug, Clone)]
pub struct FailingCommits<S> {
    store: S,
    failures: Arc<Failures>,
}

#[derive(Debug)]
struct Failures {
    /// Commits still to fail.
    left: AtomicUsize,
    error: StoreError,
}

impl<S> FailingCommits<S> {
    /// `store`, its next `count` commits failing with `error` (`usize::MAX`: every one).
    pub fn new(store: S, count: usize, error: StoreError) -> Self {
        let failures = Failures {
            left: AtomicUsize::new(count),
            error,
        };
        Self {
            store,
            failures: Arc::new(failures),
        }
    }
}

/// A transaction of [`FailingCommits`].
pub struct FailingTx<T>(T, Arc<Failures>);

impl<T: Transaction> Transaction for FailingTx<T> {
    async fn task(&mut self, id: TaskId) -> Result<Option<Arc<Task>>, StoreError> {
        self.0.task(id).await
    }

    async fn party(&mut self, id: &IdentityId) -> Result<Option<Party>, StoreError> {
        self.0.party(id).await
    }

    async fn parties(&mut self, ids: &[IdentityId]) -> Result<Vec<Option<Party>>, StoreError> {
        self.0.parties(ids).await
    }

    async fn rules_and_party(
        &mut self,
        tags: &[String],
        actor: &IdentityId,
    ) -> Result<(Vec<AutoClaimRule>, Option<Party>), StoreError> {
        self.0.rules_and_party(tags, actor).await
    }

    async fn profile(&mut self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        self.0.profile(id).await
    }

    async fn rule(&mut self, id: RuleId) -> Result<Option<AutoClaimRule>, StoreError> {
        self.0.rule(id).await
    }

    async fn rules_owned_by(
        &mut self,
        owner: &IdentityId,
    ) -> Result<Vec<AutoClaimRule>, StoreError> {
        self.0.rules_owned_by(owner).await
    }

    async fn rules_matching(&mut self, tags: &[String]) -> Result<Vec<AutoClaimRule>, StoreError> {
        self.0.rules_matching(tags).await
    }

    async fn contract(&mut self, id: ContractId) -> Result<Option<Contract>, StoreError> {
        self.0.contract(id).await
    }

    async fn post(&mut self, id: PostId) -> Result<Option<BoardPost>, StoreError> {
        self.0.post(id).await
    }

    async fn blob(&mut self, hash: &str) -> Result<Option<Blob>, StoreError> {
        self.0.blob(hash).await
    }

    async fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.0.idempotency(caller, key).await
    }

    async fn due_tasks(&mut self, now: Timestamp, limit: usize) -> Result<Vec<TaskId>, StoreError> {
        self.0.due_tasks(now, limit).await
    }

    async fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        self.0.write(changes).await
    }

    async fn put_idempotency(&mut self, record: IdempotencyRecord) -> Result<(), StoreError> {
        self.0.put_idempotency(record).await
    }

    async fn purge_idempotency(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.0.purge_idempotency(before, limit).await
    }

    async fn task_with_parties(
        &mut self,
        id: TaskId,
        want: &TaskParties<'_>,
        view: &mut View,
    ) -> Result<(), StoreError> {
        self.0.task_with_parties(id, want, view).await
    }

    fn holds_batch(&mut self) {
        self.0.holds_batch();
    }

    /// Rolls back instead, and says the commit failed, while failures are left.
    async fn commit(self) -> Result<(), StoreError> {
        let fail = self
            .1
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !fail {
            return self.0.commit().await;
        }
        self.0.rollback().await?;
        Err(self.1.error.clone())
    }

    async fn rollback(self) -> Result<(), StoreError> {
        self.0.rollback().await
    }
}

#[async_trait]
impl<S: Store> Store for FailingCommits<S> {
    type Tx<'a> = FailingTx<S::Tx<'a>>;

    // Not `async fn`: in an `#[async_trait]` impl that would box the future.
    #[allow(clippy::manual_async_fn)]
    fn begin(&self) -> impl Future<Output = Result<Self::Tx<'_>, StoreError>> + Send {
        async move { Ok(FailingTx(self.store.begin().await?, self.failures.clone())) }
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.store.task(id).await
    }

    async fn tasks(&self, query: &TaskQuery) -> Result<Vec<Task>, StoreError> {
        self.store.tasks(query).await
    }

    async fn messages(&self, task: TaskId, limit: usize) -> Result<Vec<Message>, StoreError> {
        self.store.messages(task, limit).await
    }

    async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError> {
        self.store.account(id).await
    }

    async fn accounts(
        &self,
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        self.store.accounts(after, limit).await
    }

    async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError> {
        self.store.reputation(id).await
    }

    async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        self.store.profile(id).await
    }

    async fn profiles(&self, query: &ProfileQuery) -> Result<Vec<Profile>, StoreError> {
        self.store.profiles(query).await
    }

    async fn ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        self.store.ledger(query).await
    }

    async fn ledger_since(&self, after: u64, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        self.store.ledger_since(after, limit).await
    }

    async fn ledger_totals(&self, account: &AccountRef) -> Result<LedgerTotals, StoreError> {
        self.store.ledger_totals(account).await
    }

    async fn rules(&self, owner: &IdentityId) -> Result<Vec<AutoClaimRule>, StoreError> {
        self.store.rules(owner).await
    }

    async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError> {
        self.store.contracts(identity).await
    }

    async fn feed(&self, query: &FeedQuery) -> Result<Vec<FeedItem>, StoreError> {
        self.store.feed(query).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<FeedItem>, StoreError> {
        self.store.search(query).await
    }

    async fn market_signals(&self, limit: usize) -> Result<MarketSignals, StoreError> {
        self.store.market_signals(limit).await
    }

    async fn blob(&self, hash: &str) -> Result<Option<Blob>, StoreError> {
        self.store.blob(hash).await
    }

    async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError> {
        self.store.blob_holder(hash, identity).await
    }

    async fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.store.events(after, limit).await
    }

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        self.store.last_event_seq().await
    }

    async fn lease_events(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedEvent>, StoreError> {
        self.store.lease_events(now, until, limit).await
    }

    async fn complete_event(&self, seq: u64, attempt: u32) -> Result<bool, StoreError> {
        self.store.complete_event(seq, attempt).await
    }

    async fn retry_event(&self, seq: u64, attempt: u32, at: Timestamp) -> Result<bool, StoreError> {
        self.store.retry_event(seq, attempt, at).await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.store.outbox_depth().await
    }

    async fn credit_exposure(&self) -> Result<Decimal, StoreError> {
        self.store.credit_exposure().await
    }
}
