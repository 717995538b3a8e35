//! The storage contract: what a backend must do, and what it must guarantee.
//!
//! A backend implements two traits:
//!
//! - [`Store`]: begins write transactions and answers the read side (lists, search, feed,
//!   signals, ledger). Reads see committed data only.
//! - [`Transaction`]: loads the records one command touches, **locking them until commit**,
//!   then writes the command's [`Changes`] and commits — all or nothing.
//!
//! Stores persist decisions; they never make them. Beyond locking, filtering and
//! constraints that back up the core's checks, no business rule belongs in a backend.
//!
//! The engine is generic over its store (`Marketplace<S: Store>`), so neither trait is used
//! as a trait object. [`Transaction`] is the hot path, a handful of calls per command: its
//! methods return plain `impl Future + Send`, each store names its transaction type as
//! [`Store::Tx`], and the engine awaits them without boxing. Implementations may write them
//! as `async fn`. [`Store::begin`] is dispatched the same way (inside an `#[async_trait]`
//! impl it is written as a `fn` returning an `async` block, which the macro leaves alone).
//! [`Store`]'s many read methods use `async-trait`.
//!
//! A transaction hands out loaded tasks as `Arc<Task>`: the in-memory store shares its own
//! record, and `decide` copies only the tasks it changes.

mod credentials;
mod deliveries;
pub mod memory;
mod query;

use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;
use smallvec::SmallVec;

pub use credentials::{ApiKey, Credentials, CustodialKey, Login};
pub use deliveries::{
    Channel, Deliveries, Delivery, DeliveryAttempt, DeliveryRecord, DeliveryStatus, FanOut,
    FinishedAttempt, LeasedDelivery, NewDelivery, NextStep, WebhookSettings,
};
pub use query::*;

use crate::ids::{ContractId, IdentityId, PostId, RuleId, TaskId};
use crate::model::{
    Account, AccountRef, AutoClaimRule, Blob, BoardPost, Contract, Event, LedgerEntry, Message,
    Profile, Reputation, Task,
};
use crate::time::Timestamp;
use crate::view::{Changes, Party, View};

/// Which identities a command on a task loads, and so locks, with the task: the actor, the
/// task's [involved](Task::involved) agents, and the poster when the command may change the
/// poster's records.
///
/// Commands that never write the poster's records unless a deadline of the task is due (a
/// claim, an extension, the queue, a message, a bid: an expiry would refund, an escalation
/// hold more) leave the poster unlocked, so one poster's tasks are claimed in parallel.
#[derive(Debug, Clone, Copy)]
pub struct TaskParties<'a> {
    /// Who issues the command (`None`: the system).
    pub actor: Option<&'a IdentityId>,
    /// Whether the poster is loaded even when no deadline of the task is due.
    pub poster: bool,
    /// The command's time: a deadline at or before it is due.
    pub now: Timestamp,
}

impl TaskParties<'_> {
    /// The identities to load with `task` (`None`: not found), sorted, each once.
    ///
    /// ```
    /// use marketplace_core::IdentityId;
    /// use marketplace_core::store::TaskParties;
    /// let actor = IdentityId::from_public_key(b"agent");
    /// let want = TaskParties { actor: Some(&actor), poster: true, now: chrono::Utc::now() };
    /// assert_eq!(want.of(None), vec![actor.clone()]);
    /// ```
    pub fn of(&self, task: Option<&Task>) -> Vec<IdentityId> {
        self.listed(task).into_vec()
    }

    /// [`TaskParties::of`] without allocating: a command names at most five.
    pub(crate) fn listed(&self, task: Option<&Task>) -> SmallVec<[IdentityId; 5]> {
        let mut ids = SmallVec::new();
        ids.extend(self.actor.cloned());
        if let Some(t) = task {
            if self.poster || t.due_at().is_some_and(|due| due <= self.now) {
                ids.push(t.poster.clone());
            }
            ids.extend(t.involved().cloned());
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

pub use crate::error::StoreError;

/// A remembered idempotent request: the same key with the same request gets `response`
/// again; with another request it is refused. A request that runs beyond one command (a
/// call out, several commands) holds its key while it runs: `running_until` is set and
/// `response` empty until it finishes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    /// Whose key (keys are scoped to the caller).
    pub caller: IdentityId,
    /// The key the caller sent.
    pub key: String,
    /// SHA-256 hex of the request.
    pub fingerprint: String,
    /// The serialized outcome.
    pub response: String,
    /// When first executed; the record is ignored 24 hours later.
    pub created_at: Timestamp,
    /// While the request runs: until when it holds the key. A request still unfinished by
    /// then is taken to have died with its server, and a retry runs it again.
    pub running_until: Option<Timestamp>,
}

/// One write transaction. Dropping it without [`Transaction::commit`] rolls it back.
///
/// To ensure correctness, implementations must:
/// - lock every record returned by a `task`/`party` load until commit or rollback, so two
///   transactions never decide on the same task or account at once (a mutex, `BEGIN
///   IMMEDIATE`, `SELECT ... FOR UPDATE`);
/// - return `Ok(None)` for absent records, never an error;
/// - apply [`Transaction::write`] atomically with the commit, assigning `seq` to ledger
///   lines and events in increasing order;
/// - report lost races as [`StoreError::Conflict`], so the engine can retry.
pub trait Transaction: Send {
    /// A task, locked. Shared, not copied: `decide` reads most loaded tasks without changing
    /// them, and copies the ones it changes.
    fn task(
        &mut self,
        id: TaskId,
    ) -> impl Future<Output = Result<Option<Arc<Task>>, StoreError>> + Send;
    /// An identity's account and reputation, locked. The engine loads these in identity
    /// order first, so lock orders agree across transactions.
    fn party(
        &mut self,
        id: &IdentityId,
    ) -> impl Future<Output = Result<Option<Party>, StoreError>> + Send;
    /// Several parties at once, locked in the order given (the engine passes them sorted,
    /// so concurrent commands lock accounts in one order), answered in that order. The
    /// default loads them one by one; SQL backends override it to save round trips.
    fn parties(
        &mut self,
        ids: &[IdentityId],
    ) -> impl Future<Output = Result<Vec<Option<Party>>, StoreError>> + Send {
        async move {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                found.push(self.party(id).await?);
            }
            Ok(found)
        }
    }
    /// A task and the parties a command on it needs, locked in the order every command
    /// locks: the task, then the parties sorted by identity ([`TaskParties::of`] says which).
    /// Puts the task (`None`: not found) and each of those identities with its party
    /// (`None`: unknown) into `view`, where the command reads them.
    ///
    /// The default loads the task, then the parties: two steps. A store where each step is
    /// a round trip to a database overrides it to do both in one; the in-memory store, to
    /// put each record straight into the view.
    fn task_with_parties(
        &mut self,
        id: TaskId,
        want: &TaskParties<'_>,
        view: &mut View,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            let task = self.task(id).await?;
            let ids = want.listed(task.as_deref());
            let found = self.parties(&ids).await?;
            if found.len() != ids.len() {
                return Err(StoreError::Other(
                    "parties: answer does not match the ids".into(),
                ));
            }
            view.tasks.insert(id, task);
            for (who, party) in ids.into_iter().zip(found) {
                view.parties.insert(who, party);
            }
            Ok(())
        }
    }
    /// What a post loads first: the rules naming any of `tags`, then `actor`'s party,
    /// locked. The default asks for the one, then the other; a store where each is a round
    /// trip to a database overrides it to ask for both at once.
    fn rules_and_party(
        &mut self,
        tags: &[String],
        actor: &IdentityId,
    ) -> impl Future<Output = Result<(Vec<AutoClaimRule>, Option<Party>), StoreError>> + Send {
        async move {
            let rules = self.rules_matching(tags).await?;
            let party = self.party(actor).await?;
            Ok((rules, party))
        }
    }
    /// A profile.
    fn profile(
        &mut self,
        id: &IdentityId,
    ) -> impl Future<Output = Result<Option<Profile>, StoreError>> + Send;
    /// A broker rule.
    fn rule(
        &mut self,
        id: RuleId,
    ) -> impl Future<Output = Result<Option<AutoClaimRule>, StoreError>> + Send;
    /// Every rule owned by `owner`.
    fn rules_owned_by(
        &mut self,
        owner: &IdentityId,
    ) -> impl Future<Output = Result<Vec<AutoClaimRule>, StoreError>> + Send;
    /// Every rule naming any of `tags`.
    fn rules_matching(
        &mut self,
        tags: &[String],
    ) -> impl Future<Output = Result<Vec<AutoClaimRule>, StoreError>> + Send;
    /// A contract, locked.
    fn contract(
        &mut self,
        id: ContractId,
    ) -> impl Future<Output = Result<Option<Contract>, StoreError>> + Send;
    /// A board post.
    fn post(
        &mut self,
        id: PostId,
    ) -> impl Future<Output = Result<Option<BoardPost>, StoreError>> + Send;
    /// An artifact record, locked: a delivery naming it and its collection
    /// ([`Command::CollectBlob`](crate::Command::CollectBlob)) never interleave.
    fn blob(&mut self, hash: &str)
    -> impl Future<Output = Result<Option<Blob>, StoreError>> + Send;
    /// The idempotency record of `(caller, key)`, if any (expired ones included), with the
    /// key locked until the transaction ends: a concurrent transaction asking for the same
    /// key waits for this one to end, whether or not a record exists yet. (Without that,
    /// two duplicates sent at once both find nothing and both execute.)
    fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send;
    /// Up to `limit` tasks whose deadline is at or before `now`, earliest first, locked.
    /// Tasks locked by other transactions are skipped, not waited for.
    fn due_tasks(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TaskId>, StoreError>> + Send;
    /// Writes a command's changes (upserts records, appends ledger lines and events). The
    /// engine writes once, after every load and just before [`Transaction::commit`], so a
    /// store may hold the write back and send it with the commit; its errors then come
    /// from `commit`.
    fn write(&mut self, changes: Changes) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Remembers an idempotency record, replacing the key's record if it has one.
    fn put_idempotency(
        &mut self,
        record: IdempotencyRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes up to `limit` idempotency records created before `before`; returns how many.
    fn purge_idempotency(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
    /// Says that the transaction now holds a batch: the locks of more than one command
    /// (group commit). Two batches can each hold a lock the other waits for, in an order no
    /// single command would take them; a store that waits for locks may from now on stop
    /// waiting soon and report [`StoreError::Conflict`], and the engine then runs the
    /// batch's commands one by one. The default does nothing.
    fn holds_batch(&mut self) {}
    /// Makes everything durable.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Undoes everything and releases every lock before returning. (Dropping a transaction
    /// also rolls it back, but a backend may finish that later: the engine calls this so a
    /// refused command never holds rows after it has answered.)
    fn rollback(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A marketplace's storage: transactions for commands, queries for the read side.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The store's write transaction.
    type Tx<'a>: Transaction + 'a
    where
        Self: 'a;

    /// Begins a write transaction. Like the transaction's own methods, statically
    /// dispatched: beginning one allocates nothing.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx<'_>, StoreError>> + Send;

    /// A task, as committed.
    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError>;
    /// Tasks matching `query`, newest first.
    async fn tasks(&self, query: &TaskQuery) -> Result<Vec<Task>, StoreError>;
    /// A task's messages, oldest first.
    async fn messages(&self, task: TaskId, limit: usize) -> Result<Vec<Message>, StoreError>;
    /// An account.
    async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError>;
    /// Accounts in identity order after `after`: for audits.
    async fn accounts(
        &self,
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError>;
    /// A reputation record.
    async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError>;
    /// A profile.
    async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError>;
    /// Profiles matching `query`, in identity order.
    async fn profiles(&self, query: &ProfileQuery) -> Result<Vec<Profile>, StoreError>;
    /// Ledger lines matching `query`, newest first.
    async fn ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Ledger lines with `seq > after`, oldest first: for audits.
    async fn ledger_since(&self, after: u64, limit: usize) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Sums over an account's ledger lines.
    async fn ledger_totals(&self, account: &AccountRef) -> Result<LedgerTotals, StoreError>;
    /// An identity's broker rules, oldest first.
    async fn rules(&self, owner: &IdentityId) -> Result<Vec<AutoClaimRule>, StoreError>;
    /// Contracts where `identity` is poster or agent, newest first.
    async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError>;
    /// Board posts and tasks, newest first.
    async fn feed(&self, query: &FeedQuery) -> Result<Vec<FeedItem>, StoreError>;
    /// Full-text search over tasks and posts: items containing every word (as a word
    /// prefix), newest first.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<FeedItem>, StoreError>;
    /// Demand, supply and going rates.
    async fn market_signals(&self, limit: usize) -> Result<MarketSignals, StoreError>;
    /// An artifact record.
    async fn blob(&self, hash: &str) -> Result<Option<Blob>, StoreError>;
    /// Whether `identity` uploaded (recorded) the blob `hash`: every uploader of the same
    /// bytes holds it, not only the first.
    async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError>;
    /// Outbox events with `seq > after`, oldest first.
    async fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError>;
    /// The highest outbox sequence stored, 0 when there is none: where a reader that wants
    /// only what happens from now on starts.
    async fn last_event_seq(&self) -> Result<u64, StoreError>;

    /// Leases up to `limit` undelivered events available at `now`, earliest availability
    /// first (then `seq`), for one dispatcher: each is counted as an attempt and hidden from
    /// other leases until `until`. Concurrent callers — other connections, other processes —
    /// never lease the same event at once (`FOR UPDATE SKIP LOCKED` on PostgreSQL). An event
    /// whose lease runs out without being completed or retried becomes available again, so a
    /// dispatcher that dies loses nothing. Returned in `seq` order.
    async fn lease_events(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedEvent>, StoreError>;
    /// Takes event `seq` out of the outbox for good (delivered, or given up), if `attempt`
    /// is still its latest lease. Returns whether it did: `false` means another dispatcher
    /// leased it since, or it was completed already.
    async fn complete_event(&self, seq: u64, attempt: u32) -> Result<bool, StoreError>;
    /// Makes event `seq` available again at `at` (a retry with backoff), if `attempt` is
    /// still its latest lease and it is not completed. Returns whether it did.
    async fn retry_event(&self, seq: u64, attempt: u32, at: Timestamp) -> Result<bool, StoreError>;
    /// How many events are not yet completed (waiting, leased or backing off): the
    /// outbox's depth, for monitoring.
    async fn outbox_depth(&self) -> Result<u64, StoreError>;
    /// The credit extended and not yet earned back: the sum of every negative balance, as
    /// a positive amount (exact), for monitoring.
    async fn credit_exposure(&self) -> Result<Decimal, StoreError>;
}

/// Everything a server needs of one database: the marketplace's state, credentials, and
/// webhook deliveries. Implemented for every type that has all three.
pub trait Backend: Store + Credentials + Deliveries {}

impl<T: Store + Credentials + Deliveries> Backend for T {}

/// An outbox event leased to one dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedEvent {
    /// The event.
    pub event: Event,
    /// Which lease of the event this is, from 1: the fencing token for
    /// [`Store::complete_event`] and [`Store::retry_event`], and the attempt number for
    /// backoff.
    pub attempt: u32,
}
