//! A store whose commits fail: for the cases that check what a failed commit does.

use std::sync::Arc;

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

/// `S` with every commit rolled back and reported failed
/// ([`StoreError::Unavailable`]); everything else is `S`'s own.
#[derive(Debug, Clone)]
pub struct FailingCommits<S>(pub S);

/// A transaction of [`FailingCommits`].
pub struct FailingTx<T>(T);

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

    /// Rolls back instead, and says the commit failed.
    async fn commit(self) -> Result<(), StoreError> {
        self.0.rollback().await?;
        Err(StoreError::Unavailable(
            "the commit failed (a test's store)".into(),
        ))
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
        async move { Ok(FailingTx(self.0.begin().await?)) }
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.0.task(id).await
    }

    async fn tasks(&self, query: &TaskQuery) -> Result<Vec<Task>, StoreError> {
        self.0.tasks(query).await
    }

    async fn messages(&self, task: TaskId, limit: usize) -> Result<Vec<Message>, StoreError> {
        self.0.messages(task, limit).await
    }

    async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError> {
        self.0.account(id).await
    }

    async fn accounts(
        &self,
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        self.0.accounts(after, limit).await
    }

    async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError> {
        self.0.reputation(id).await
    }

    async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        self.0.profile(id).await
    }

    async fn profiles(&self, query: &ProfileQuery) -> Result<Vec<Profile>, StoreError> {
        self.0.profiles(query).await
    }

    async fn ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        self.0.ledger(query).await
    }

    async fn ledger_since(&self, after: u64, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        self.0.ledger_since(after, limit).await
    }

    async fn ledger_totals(&self, account: &AccountRef) -> Result<LedgerTotals, StoreError> {
        self.0.ledger_totals(account).await
    }

    async fn rules(&self, owner: &IdentityId) -> Result<Vec<AutoClaimRule>, StoreError> {
        self.0.rules(owner).await
    }

    async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError> {
        self.0.contracts(identity).await
    }

    async fn feed(&self, query: &FeedQuery) -> Result<Vec<FeedItem>, StoreError> {
        self.0.feed(query).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<FeedItem>, StoreError> {
        self.0.search(query).await
    }

    async fn market_signals(&self, limit: usize) -> Result<MarketSignals, StoreError> {
        self.0.market_signals(limit).await
    }

    async fn blob(&self, hash: &str) -> Result<Option<Blob>, StoreError> {
        self.0.blob(hash).await
    }

    async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError> {
        self.0.blob_holder(hash, identity).await
    }

    async fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.0.events(after, limit).await
    }

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        self.0.last_event_seq().await
    }

    async fn lease_events(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedEvent>, StoreError> {
        self.0.lease_events(now, until, limit).await
    }

    async fn complete_event(&self, seq: u64, attempt: u32) -> Result<bool, StoreError> {
        self.0.complete_event(seq, attempt).await
    }

    async fn retry_event(&self, seq: u64, attempt: u32, at: Timestamp) -> Result<bool, StoreError> {
        self.0.retry_event(seq, attempt, at).await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.0.outbox_depth().await
    }

    async fn credit_exposure(&self) -> Result<Decimal, StoreError> {
        self.0.credit_exposure().await
    }
}
