//! The engine: executes commands as load → decide → persist in one transaction.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::command::{Command, Outcome};
use crate::decide::{Context, Decision, Fault, Key, View, decide};
use crate::error::Error;
use crate::ids::{BidId, ContractId, IdSource, IdentityId, RandomIds, RuleId, TaskId};
use crate::limits::{self, IDEMPOTENCY_TTL_SECS, QUERY_BYTES_MAX};
use crate::model::{
    Account, AccountRef, AutoClaimRule, Bid, Blob, BoardPost, Contract, ContractSpec,
    DeliveryInput, Event, LedgerEntry, Message, PostSpec, Profile, ProfileUpdate, RejectCategory,
    Reputation, RuleSpec, Task, TaskSpec, TaskStatus, TxType,
};
use crate::policy::Policy;
use crate::store::{
    FeedItem, FeedQuery, IdempotencyRecord, LeasedEvent, LedgerQuery, MarketSignals, ProfileQuery,
    SearchQuery, Store, StoreError, TaskParties, TaskQuery, Transaction,
};
use crate::time::{Clock, SystemClock, Timestamp, secs, truncate};

mod activity;
mod keys;

pub use activity::{Activity, ActivityKind, META_FILTERS_MAX, MetaFilter};
pub use keys::{Reservation, check_idempotency_key};
use keys::{Verdict, judge};

/// How many times a command is retried after a [`StoreError::Conflict`].
const CONFLICT_RETRIES_MAX: usize = 8;
/// How many extra records one command may load before it is refused as runaway.
const LOADS_PER_COMMAND_MAX: usize = 256;

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
    store: S,
    policy: Arc<Policy>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl<S: Clone> Clone for Marketplace<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            policy: self.policy.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
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

/// An identity's money, as the balance endpoints show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    /// Whose.
    pub identity: IdentityId,
    /// Owned credits (may be negative down to `-credit_limit`).
    pub balance: Decimal,
    /// How far below zero the balance may go.
    pub credit_limit: Decimal,
    /// What can be spent now: `balance - escrowed + credit_limit`.
    pub available: Decimal,
    /// Held for unsettled bounties.
    pub escrowed: Decimal,
    /// Net credits earned from accepted deliveries, ever.
    pub total_earned: Decimal,
    /// Bounties paid for accepted tasks, ever.
    pub total_spent: Decimal,
    /// Fees withheld from earnings, ever.
    pub total_fees: Decimal,
}

/// An identity's earnings summary (`GET /earnings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Earnings {
    /// Owned credits.
    pub balance: Decimal,
    /// How far below zero the balance may go.
    pub credit_limit: Decimal,
    /// What can be spent now.
    pub available: Decimal,
    /// Net credits earned from accepted deliveries.
    pub earned: Decimal,
    /// Bounties paid for accepted tasks.
    pub spent: Decimal,
    /// Fees withheld from earnings.
    pub fees: Decimal,
    /// Signup grants received.
    pub granted: Decimal,
    /// Deliveries accepted.
    pub completed_tasks: u64,
}

/// Reputation as the profile endpoints show it: counters, score and decay at `now`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReputationView {
    /// The counters.
    #[serde(flatten)]
    pub counters: Reputation,
    /// `raw` of the formula.
    pub raw: i64,
    /// The decay factor now.
    pub decay: Decimal,
    /// `max(0, raw * decay)`.
    pub score: Decimal,
    /// `accepted / (accepted + rejected)`.
    pub accept_rate: Decimal,
    /// Average 1-5 rating, if any.
    pub average_rating: Option<Decimal>,
    /// 0 to 5 over reviewed work (see [`Reputation::work_score`]).
    pub work_score: Decimal,
}

/// How a decided command ends its transaction.
enum Step {
    /// Changes were written: commit.
    Commit(Outcome),
    /// An idempotent replay: nothing was written.
    Replay(Outcome),
}

/// The fingerprint of a request: SHA-256 hex of its canonical JSON.
fn fingerprint(command: &Command) -> String {
    let bytes = serde_json::to_vec(command).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl<S: Store> Marketplace<S> {
    /// A marketplace on `store` with `policy`, the system clock and random ids.
    pub fn new(store: S, policy: Policy) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds::default()),
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

    // ---- commands ----

    /// Executes `command` for `actor`.
    pub async fn execute(&self, actor: &IdentityId, command: Command) -> Result<Outcome, Error> {
        self.run(Some(actor), &command, None).await
    }

    /// Executes `command` for `actor` at most once per `key`: a retry with the same key and
    /// the same command returns the first outcome without executing again; the same key
    /// with another command is refused with [`Error::IdempotencyConflict`]. Keys are scoped
    /// to the actor and remembered for 24 hours. Refused commands are not remembered, so
    /// they may be retried. Duplicates sent at once execute once: each waits for the one
    /// ahead of it and replays its outcome. A key reserved by a request still running (see
    /// [`Marketplace::reserve`]) is refused with [`Error::IdempotencyInProgress`].
    pub async fn execute_idempotent(
        &self,
        actor: &IdentityId,
        command: Command,
        key: &str,
    ) -> Result<Outcome, Error> {
        check_idempotency_key(key)?;
        self.run(Some(actor), &command, Some(key)).await
    }

    async fn run(
        &self,
        actor: Option<&IdentityId>,
        command: &Command,
        key: Option<&str>,
    ) -> Result<Outcome, Error> {
        let seed = self.ids.next_seed();
        let mut attempt = 0;
        loop {
            let now = self.now();
            match self.attempt(actor, command, key, now, seed).await {
                Err(Error::Storage(StoreError::Conflict(_))) if attempt < CONFLICT_RETRIES_MAX => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// One try at a command: commit what it decided, or roll back — awaited, so a command
    /// that returns holds no locks (a dropped transaction may release them later).
    async fn attempt(
        &self,
        actor: Option<&IdentityId>,
        command: &Command,
        key: Option<&str>,
        now: Timestamp,
        seed: u64,
    ) -> Result<Outcome, Error> {
        let mut tx = self.store.begin().await?;
        match self
            .decide_in(&mut tx, actor, command, key, now, seed)
            .await
        {
            Ok(Step::Commit(outcome)) => {
                tx.commit().await?;
                Ok(outcome)
            }
            Ok(Step::Replay(outcome)) => {
                tx.rollback().await?;
                Ok(outcome)
            }
            Err(e) => {
                // The refusal (or failure) is what the caller needs to hear; a failed
                // rollback still ends the transaction when the connection is dropped.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Loads, decides and writes a command inside `tx`, without committing.
    async fn decide_in(
        &self,
        tx: &mut S::Tx<'_>,
        actor: Option<&IdentityId>,
        command: &Command,
        key: Option<&str>,
        now: Timestamp,
        seed: u64,
    ) -> Result<Step, Error> {
        let idempotency = match (actor, key) {
            (Some(actor), Some(key)) => {
                let print = fingerprint(command);
                let found = tx.idempotency(actor, key).await?;
                match judge(found.as_ref(), &print, now) {
                    Verdict::New => {}
                    Verdict::Replay(response) => {
                        return serde_json::from_str(&response)
                            .map(Step::Replay)
                            .map_err(|e| StoreError::Corrupt(e.to_string()).into());
                    }
                    Verdict::Running(_) => return Err(Error::IdempotencyInProgress),
                    Verdict::Conflict => return Err(Error::IdempotencyConflict),
                }
                Some((actor, key, print))
            }
            _ => None,
        };
        let mut view = View::default();
        prefetch(tx, &mut view, actor, command, now).await?;
        let ctx = Context {
            now,
            policy: &self.policy,
            seed,
        };
        for _ in 0..LOADS_PER_COMMAND_MAX {
            match decide(&view, actor, command, &ctx) {
                Ok(Decision { changes, outcome }) => {
                    if let Some((caller, key, fingerprint)) = &idempotency {
                        let response = serde_json::to_string(&outcome)
                            .map_err(|e| StoreError::Other(e.to_string()))?;
                        tx.put_idempotency(IdempotencyRecord {
                            caller: (*caller).clone(),
                            key: (*key).to_owned(),
                            fingerprint: fingerprint.clone(),
                            response,
                            created_at: now,
                            running_until: None,
                        })
                        .await?;
                    }
                    tx.write(changes).await?;
                    return Ok(Step::Commit(outcome));
                }
                Err(Fault::Needs(key)) => load(tx, &mut view, key).await?,
                Err(Fault::Rejected(e)) => return Err(e),
            }
        }
        Err(StoreError::Other(format!("{} loaded too many records", command.name())).into())
    }

    /// The deadline sweep: applies the deadlines of up to `limit` tasks due at or before
    /// `now`, earliest first, and forgets expired idempotency keys. Each task gets its own
    /// transaction; tasks locked by someone else are left to them. Returns how many tasks
    /// were advanced.
    pub async fn tick(&self, now: Timestamp, limit: usize) -> Result<usize, Error> {
        let now = truncate(now);
        let mut done = 0;
        while done < limit {
            let mut tx = self.store.begin().await?;
            let Some(id) = tx.due_tasks(now, 1).await?.into_iter().next() else {
                tx.rollback().await?;
                break;
            };
            let touch = Command::Touch { task: id };
            match self
                .decide_in(&mut tx, None, &touch, None, now, self.ids.next_seed())
                .await
            {
                Ok(_) => tx.commit().await?,
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
            done += 1;
        }
        let mut tx = self.store.begin().await?;
        tx.purge_idempotency(now - secs(IDEMPOTENCY_TTL_SECS), limit.max(1))
            .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// [`Marketplace::tick`] at the clock's time.
    pub async fn sweep(&self, limit: usize) -> Result<usize, Error> {
        self.tick(self.now(), limit).await
    }

    async fn task_outcome(&self, actor: &IdentityId, command: Command) -> Result<Task, Error> {
        // `run`, not `execute`: one future less between the caller and the store, and the
        // command kept in one place (each nested future holds its own arguments).
        self.run(Some(actor), &command, None).await?.try_into()
    }

    /// Registers `actor` with a profile; returns its account (with the signup grant).
    pub async fn register(
        &self,
        actor: &IdentityId,
        profile: ProfileUpdate,
    ) -> Result<(Account, Profile), Error> {
        self.execute(actor, Command::Register(profile))
            .await?
            .try_into()
    }

    /// Changes `actor`'s profile.
    pub async fn update_profile(
        &self,
        actor: &IdentityId,
        update: ProfileUpdate,
    ) -> Result<Profile, Error> {
        self.execute(actor, Command::UpdateProfile(update))
            .await?
            .try_into()
    }

    /// Posts a task, escrowing its bounty.
    pub async fn post_task(&self, actor: &IdentityId, spec: TaskSpec) -> Result<Task, Error> {
        self.task_outcome(actor, Command::PostTask(spec.into()))
            .await
    }

    /// Claims a task.
    pub async fn claim(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.claim_with_note(actor, task, None).await
    }

    /// Claims a task with a note to its poster ("On it").
    pub async fn claim_with_note(
        &self,
        actor: &IdentityId,
        task: TaskId,
        note: Option<String>,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Claim { task, note })
            .await
    }

    /// Renews `actor`'s claim for `secs` (default: the task's claim TTL) from now.
    pub async fn extend(
        &self,
        actor: &IdentityId,
        task: TaskId,
        secs: Option<u64>,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Extend { task, secs })
            .await
    }

    /// Joins a claimed task's waitlist.
    pub async fn join_queue(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::JoinQueue { task }).await
    }

    /// Leaves a waitlist.
    pub async fn leave_queue(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::LeaveQueue { task }).await
    }

    /// Delivers the result of `actor`'s claim.
    pub async fn deliver(
        &self,
        actor: &IdentityId,
        task: TaskId,
        delivery: DeliveryInput,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Deliver { task, delivery })
            .await
    }

    /// Accepts a delivery and settles.
    pub async fn accept(
        &self,
        actor: &IdentityId,
        task: TaskId,
        rating: Option<u8>,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Accept { task, rating })
            .await
    }

    /// Rejects a delivery with feedback.
    pub async fn reject(
        &self,
        actor: &IdentityId,
        task: TaskId,
        text: impl Into<String>,
        category: RejectCategory,
    ) -> Result<Task, Error> {
        self.task_outcome(
            actor,
            Command::Reject {
                task,
                text: text.into(),
                category,
            },
        )
        .await
    }

    /// Cancels an open or claimed task and refunds it.
    pub async fn cancel(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Cancel { task }).await
    }

    /// Bids on a bidding task.
    pub async fn bid(
        &self,
        actor: &IdentityId,
        task: TaskId,
        text: impl Into<String>,
        offered_price: Decimal,
        turnaround_secs: Option<u64>,
    ) -> Result<Bid, Error> {
        let command = Command::Bid {
            task,
            text: text.into(),
            offered_price,
            turnaround_secs,
        };
        self.execute(actor, command).await?.try_into()
    }

    /// Awards a bid.
    pub async fn award(&self, actor: &IdentityId, task: TaskId, bid: BidId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Award { task, bid }).await
    }

    /// Posts a task-scoped message.
    pub async fn message(
        &self,
        actor: &IdentityId,
        task: TaskId,
        text: impl Into<String>,
        pre_claim: bool,
    ) -> Result<Message, Error> {
        let command = Command::Message {
            task,
            text: text.into(),
            pre_claim,
        };
        self.execute(actor, command).await?.try_into()
    }

    /// Creates a broker auto-claim rule.
    pub async fn create_rule(
        &self,
        actor: &IdentityId,
        spec: RuleSpec,
    ) -> Result<AutoClaimRule, Error> {
        self.execute(actor, Command::CreateRule(spec))
            .await?
            .try_into()
    }

    /// Deletes one of `actor`'s rules.
    pub async fn delete_rule(&self, actor: &IdentityId, rule: RuleId) -> Result<(), Error> {
        self.execute(actor, Command::DeleteRule { rule })
            .await
            .map(drop)
    }

    async fn contract_outcome(
        &self,
        actor: &IdentityId,
        command: Command,
    ) -> Result<Contract, Error> {
        self.execute(actor, command).await?.try_into()
    }

    /// Proposes a standing contract.
    pub async fn propose_contract(
        &self,
        actor: &IdentityId,
        spec: ContractSpec,
    ) -> Result<Contract, Error> {
        self.contract_outcome(actor, Command::ProposeContract(spec))
            .await
    }

    /// Accepts a contract proposed to `actor`.
    pub async fn accept_contract(
        &self,
        actor: &IdentityId,
        contract: ContractId,
    ) -> Result<Contract, Error> {
        self.contract_outcome(actor, Command::AcceptContract { contract })
            .await
    }

    /// Cancels a contract.
    pub async fn cancel_contract(
        &self,
        actor: &IdentityId,
        contract: ContractId,
    ) -> Result<Contract, Error> {
        self.contract_outcome(actor, Command::CancelContract { contract })
            .await
    }

    /// Publishes a board post.
    pub async fn create_post(
        &self,
        actor: &IdentityId,
        spec: PostSpec,
    ) -> Result<BoardPost, Error> {
        self.execute(actor, Command::CreatePost(spec))
            .await?
            .try_into()
    }

    /// Records an uploaded artifact.
    pub async fn record_blob(
        &self,
        actor: &IdentityId,
        hash: impl Into<String>,
        size: u64,
        content_type: impl Into<String>,
    ) -> Result<Blob, Error> {
        let command = Command::RecordBlob {
            hash: hash.into(),
            size,
            content_type: content_type.into(),
        };
        self.execute(actor, command).await?.try_into()
    }

    /// [`Command::CollectBlob`] now: whether the bytes of `hash` may be deleted (no record
    /// names them any more). A blob store calls it for a file older than
    /// [`Policy::blob_grace_secs`] before deleting it.
    pub async fn collect_blob(&self, hash: &str) -> Result<bool, Error> {
        let command = Command::CollectBlob {
            hash: hash.to_owned(),
        };
        match self.run(None, &command, None).await? {
            Outcome::BlobCollected { removed } => Ok(removed),
            other => Err(crate::command::unexpected(&other)),
        }
    }

    /// Applies the task's passed deadlines now, and returns it.
    pub async fn touch(&self, task: TaskId) -> Result<Task, Error> {
        self.run(None, &Command::Touch { task }, None)
            .await?
            .try_into()
    }

    // ---- reads ----

    /// Brings a task read from the store up to date: if a deadline has passed, it is applied
    /// now (persisted) and the fresh task returned.
    async fn fresh(&self, task: Task) -> Result<Task, Error> {
        if task.due_at().is_some_and(|due| due <= self.now()) {
            self.touch(task.id).await
        } else {
            Ok(task)
        }
    }

    /// A task as `viewer` may see it (private deliveries hidden from others).
    pub async fn task(&self, viewer: Option<&IdentityId>, id: TaskId) -> Result<Task, Error> {
        let task = self.store.task(id).await?.ok_or(Error::TaskNotFound)?;
        Ok(self.fresh(task).await?.redacted_for(viewer))
    }

    /// A task's delivery content for its poster or deliverer (`GET .../result`).
    pub async fn task_result(&self, viewer: &IdentityId, id: TaskId) -> Result<Task, Error> {
        let task = self.task(Some(viewer), id).await?;
        let party =
            &task.poster == viewer || task.delivery.as_ref().is_some_and(|d| &d.agent == viewer);
        if !party {
            return Err(Error::NotParticipant);
        }
        Ok(task)
    }

    /// Tasks matching `query`, newest first, as `viewer` may see them. Tasks whose deadline
    /// passed are brought up to date first.
    pub async fn tasks(
        &self,
        viewer: Option<&IdentityId>,
        mut query: TaskQuery,
    ) -> Result<Vec<Task>, Error> {
        query.limit = limits::page_limit(query.limit);
        let now = self.now();
        let found = self.store.tasks(&query).await?;
        if found.iter().all(|t| t.due_at().is_none_or(|d| d > now)) {
            return Ok(found.into_iter().map(|t| t.redacted_for(viewer)).collect());
        }
        let mut out = Vec::with_capacity(found.len());
        for task in found {
            let task = self.fresh(task).await?;
            if query.status.is_none_or(|s| s == task.status) {
                out.push(task.redacted_for(viewer));
            }
        }
        Ok(out)
    }

    /// Open tasks whose required capabilities or skill match any of `capabilities`.
    pub async fn broker_match(
        &self,
        capabilities: Vec<String>,
        limit: usize,
    ) -> Result<Vec<Task>, Error> {
        if capabilities.is_empty() {
            return Err(Error::invalid(
                "capabilities",
                "name at least one capability",
            ));
        }
        crate::decide::validate::tags("capabilities", &capabilities)?;
        let query = TaskQuery {
            status: Some(TaskStatus::Open),
            capabilities,
            limit,
            ..TaskQuery::default()
        };
        self.tasks(None, query).await
    }

    /// A task's messages `viewer` may read: public questions for everyone; the rest for the
    /// poster and the worker only.
    pub async fn messages(
        &self,
        viewer: Option<&IdentityId>,
        task: TaskId,
    ) -> Result<Vec<Message>, Error> {
        let t = self.store.task(task).await?.ok_or(Error::TaskNotFound)?;
        let party = viewer.is_some_and(|v| {
            v == &t.poster
                || t.claim.as_ref().is_some_and(|c| &c.agent == v)
                || t.delivery.as_ref().is_some_and(|d| &d.agent == v)
        });
        let all = self
            .store
            .messages(task, limits::MESSAGES_PER_TASK_MAX as usize)
            .await?;
        Ok(all.into_iter().filter(|m| party || m.pre_claim).collect())
    }

    /// Feed items, newest first; `min_poster_rep` drops authors below that score, and
    /// `filters` items whose meta does not meet them (see [`MetaFilter`]: with filters,
    /// the newest [`limits::PAGE_LIMIT_MAX`] items are read, then filtered).
    pub async fn feed(
        &self,
        mut query: FeedQuery,
        min_poster_rep: Option<Decimal>,
        filters: &[MetaFilter],
    ) -> Result<Vec<FeedItem>, Error> {
        query.limit = limits::page_limit(query.limit);
        if let Some(text) = &query.text {
            check_query(text)?;
        }
        let wanted = query.limit;
        if !filters.is_empty() {
            query.limit = limits::PAGE_LIMIT_MAX;
        }
        let mut items = self.store.feed(&query).await?;
        items.retain(|i| activity::meets(i, filters));
        items.truncate(wanted);
        let Some(min) = min_poster_rep else {
            return Ok(redact_items(items));
        };
        let now = self.now();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let score = self
                .store
                .reputation(item.author())
                .await?
                .map(|r| r.score(now));
            if score.is_some_and(|s| s >= min) {
                out.push(item);
            }
        }
        Ok(redact_items(out))
    }

    /// Full-text search over tasks and board posts.
    pub async fn search(&self, mut query: SearchQuery) -> Result<Vec<FeedItem>, Error> {
        check_query(&query.text)?;
        if query.text.trim().is_empty() {
            return Err(Error::invalid("q", "must not be empty"));
        }
        query.limit = limits::page_limit(query.limit);
        Ok(redact_items(self.store.search(&query).await?))
    }

    /// Demand by skill, supply by capability, going rates.
    pub async fn market_signals(&self) -> Result<MarketSignals, Error> {
        Ok(self.store.market_signals(limits::PAGE_LIMIT_MAX).await?)
    }

    /// An identity's balance.
    pub async fn balance(&self, id: &IdentityId) -> Result<Balance, Error> {
        let account = self
            .store
            .account(id)
            .await?
            .ok_or(Error::UnknownIdentity)?;
        let totals = self
            .store
            .ledger_totals(&AccountRef::Identity(id.clone()))
            .await?;
        Ok(Balance {
            identity: id.clone(),
            balance: account.balance,
            credit_limit: account.credit_limit,
            available: account.available(),
            escrowed: account.escrowed,
            total_earned: totals.earned,
            total_spent: totals.spent,
            total_fees: totals.fees,
        })
    }

    /// An identity's earnings: balance plus what it earned, spent and paid in fees.
    pub async fn earnings(&self, id: &IdentityId) -> Result<Earnings, Error> {
        let account = self
            .store
            .account(id)
            .await?
            .ok_or(Error::UnknownIdentity)?;
        let totals = self
            .store
            .ledger_totals(&AccountRef::Identity(id.clone()))
            .await?;
        let completed_tasks = self.store.reputation(id).await?.map_or(0, |r| r.accepted);
        Ok(Earnings {
            balance: account.balance,
            credit_limit: account.credit_limit,
            available: account.available(),
            earned: totals.earned,
            spent: totals.spent,
            fees: totals.fees,
            granted: totals.granted,
            completed_tasks,
        })
    }

    /// An identity's ledger lines, newest first, optionally of one type.
    pub async fn transactions(
        &self,
        id: &IdentityId,
        tx_type: Option<TxType>,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, Error> {
        let query = LedgerQuery {
            account: AccountRef::Identity(id.clone()),
            tx_type,
            before_seq,
            limit: limits::page_limit(limit),
        };
        Ok(self.store.ledger(&query).await?)
    }

    /// How many outbox events are not yet completed.
    pub async fn outbox_depth(&self) -> Result<u64, Error> {
        Ok(self.store.outbox_depth().await?)
    }

    /// The credit extended and not yet earned back: every negative balance, summed (see
    /// [`Store::credit_exposure`]).
    pub async fn credit_exposure(&self) -> Result<Decimal, Error> {
        Ok(self.store.credit_exposure().await?)
    }

    /// The treasury's balance: fees in, grants out. Derived from the ledger.
    pub async fn treasury(&self) -> Result<Decimal, Error> {
        Ok(self
            .store
            .ledger_totals(&AccountRef::Treasury)
            .await?
            .balance)
    }

    /// An identity's reputation with its score at the clock's time.
    pub async fn reputation(&self, id: &IdentityId) -> Result<ReputationView, Error> {
        let rep = self
            .store
            .reputation(id)
            .await?
            .ok_or(Error::UnknownIdentity)?;
        let now = self.now();
        Ok(ReputationView {
            raw: i64::try_from(rep.raw()).unwrap_or(i64::MAX),
            decay: rep.decay(now),
            score: rep.score(now),
            accept_rate: rep.accept_rate().round_dp(4).normalize(),
            average_rating: rep.average_rating(),
            work_score: rep.work_score(),
            counters: rep,
        })
    }

    /// An identity's profile.
    pub async fn profile(&self, id: &IdentityId) -> Result<Profile, Error> {
        self.store.profile(id).await?.ok_or(Error::UnknownIdentity)
    }

    /// Profiles, optionally with a capability, in identity order.
    pub async fn profiles(&self, mut query: ProfileQuery) -> Result<Vec<Profile>, Error> {
        query.limit = limits::page_limit(query.limit);
        Ok(self.store.profiles(&query).await?)
    }

    /// Contracts `id` is party to.
    pub async fn contracts(&self, id: &IdentityId) -> Result<Vec<Contract>, Error> {
        Ok(self.store.contracts(id).await?)
    }

    /// `id`'s auto-claim rules.
    pub async fn rules(&self, id: &IdentityId) -> Result<Vec<AutoClaimRule>, Error> {
        Ok(self.store.rules(id).await?)
    }

    /// An artifact record.
    pub async fn blob(&self, hash: &str) -> Result<Option<Blob>, Error> {
        Ok(self.store.blob(hash).await?)
    }

    /// Whether `identity` uploaded the blob `hash` (any of its uploaders, not only the first).
    pub async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, Error> {
        Ok(self.store.blob_holder(hash, identity).await?)
    }

    /// Outbox events after `after`, oldest first.
    pub async fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>, Error> {
        Ok(self.store.events(after, limits::page_limit(limit)).await?)
    }

    /// Leases up to `limit` (at most [`limits::PAGE_LIMIT_MAX`]) undelivered outbox events
    /// to the caller for `lease_secs` seconds (1 to [`limits::OUTBOX_LEASE_SECS_MAX`]): the
    /// dispatcher's side of the outbox. Each event is delivered by one lease holder at a
    /// time; finish it with [`Marketplace::complete_event`] or
    /// [`Marketplace::retry_event`], or let the lease run out and it comes back. See
    /// [`Store::lease_events`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use marketplace_core::{Marketplace, MemoryStore, Policy, IdentityId, ProfileUpdate};
    /// let market = Marketplace::new(MemoryStore::new(), Policy::agora());
    /// let agent = IdentityId::from_public_key(b"agent");
    /// market.register(&agent, ProfileUpdate::alias("agent")).await?;
    /// for leased in market.lease_events(30, 100).await? {
    ///     // ... deliver `leased.event` to its subscribers, then:
    ///     market.complete_event(&leased).await?;
    /// }
    /// assert!(market.lease_events(30, 100).await?.is_empty());
    /// # Ok::<(), marketplace_core::Error>(()) }).unwrap();
    /// ```
    pub async fn lease_events(
        &self,
        lease_secs: u64,
        limit: usize,
    ) -> Result<Vec<LeasedEvent>, Error> {
        if !(1..=limits::OUTBOX_LEASE_SECS_MAX).contains(&lease_secs) {
            let reason = format!("must be 1 to {}", limits::OUTBOX_LEASE_SECS_MAX);
            return Err(Error::invalid("lease_secs", reason));
        }
        let now = self.now();
        let until = now + secs(lease_secs);
        Ok(self
            .store
            .lease_events(now, until, limits::page_limit(limit))
            .await?)
    }

    /// Takes a leased event out of the outbox: delivered, or given up. `false` when the
    /// lease was lost (it ran out and another dispatcher took the event).
    pub async fn complete_event(&self, leased: &LeasedEvent) -> Result<bool, Error> {
        Ok(self
            .store
            .complete_event(leased.event.seq, leased.attempt)
            .await?)
    }

    /// Puts a leased event back, to be leased again `after_secs` seconds from now (a retry
    /// with backoff; at most a year). `false` when the lease was lost.
    pub async fn retry_event(&self, leased: &LeasedEvent, after_secs: u64) -> Result<bool, Error> {
        let at = self.now() + secs(after_secs.min(limits::EXPIRES_IN_SECS_MAX));
        Ok(self
            .store
            .retry_event(leased.event.seq, leased.attempt, at)
            .await?)
    }
}

fn check_query(text: &str) -> Result<(), Error> {
    if text.len() > QUERY_BYTES_MAX {
        return Err(Error::invalid("q", "longer than 256 bytes"));
    }
    Ok(())
}

fn redact_items(items: Vec<FeedItem>) -> Vec<FeedItem> {
    items
        .into_iter()
        .map(|i| match i {
            FeedItem::Task(t) => FeedItem::Task(t.redacted_for(None)),
            post => post,
        })
        .collect()
}

/// Loads the records a command surely touches, in a fixed order: its task first, then the
/// identities involved sorted by id, so concurrent transactions lock accounts in one order.
async fn prefetch(
    tx: &mut impl Transaction,
    view: &mut View,
    actor: Option<&IdentityId>,
    command: &Command,
    now: Timestamp,
) -> Result<(), StoreError> {
    if let Command::PostTask(spec) = command {
        // The broker looks for rules matching every posted task with tags.
        let tags = spec.match_tags();
        if !tags.is_empty() && spec.contract.is_none() {
            // With the poster's party, which a post (no task yet) loads anyway.
            if let Some(actor) = actor {
                let (rules, party) = tx.rules_and_party(&tags, actor).await?;
                view.rules_matching.insert(tags, rules);
                view.parties.insert(actor.clone(), party);
                return Ok(());
            }
            let rules = tx.rules_matching(&tags).await?;
            view.rules_matching.insert(tags, rules);
        }
    }
    let Some(id) = command.task_id() else {
        if let Some(actor) = actor {
            let party = tx.party(actor).await?;
            view.parties.insert(actor.clone(), party);
        }
        return Ok(());
    };
    // Should `decide` need the poster after all, it asks for it and gets it.
    let poster = !matches!(
        command,
        Command::Claim { .. }
            | Command::Extend { .. }
            | Command::JoinQueue { .. }
            | Command::LeaveQueue { .. }
            | Command::Message { .. }
            | Command::Bid { .. }
    );
    let want = TaskParties { actor, poster, now };
    tx.task_with_parties(id, &want, view).await
}

/// Loads one record `decide` asked for.
async fn load(tx: &mut impl Transaction, view: &mut View, key: Key) -> Result<(), StoreError> {
    if view.has(&key) {
        return Err(StoreError::Other(format!("decide asked twice for {key:?}")));
    }
    match key {
        Key::Task(id) => {
            let task = tx.task(id).await?;
            view.tasks.insert(id, task);
        }
        Key::Identity(id) => {
            let party = tx.party(&id).await?;
            view.parties.insert(id, party);
        }
        Key::Profile(id) => {
            let profile = tx.profile(&id).await?;
            view.profiles.insert(id, profile);
        }
        Key::Rule(id) => {
            let rule = tx.rule(id).await?;
            view.rules.insert(id, rule);
        }
        Key::RulesOwnedBy(id) => {
            let rules = tx.rules_owned_by(&id).await?;
            view.rules_owned.insert(id, rules);
        }
        Key::RulesMatching(tags) => {
            let rules = tx.rules_matching(&tags).await?;
            view.rules_matching.insert(tags, rules);
        }
        Key::Contract(id) => {
            let contract = tx.contract(id).await?;
            view.contracts.insert(id, contract);
        }
        Key::Post(id) => {
            let post = tx.post(id).await?;
            view.posts.insert(id, post);
        }
        Key::Blob(hash) => {
            let blob = tx.blob(&hash).await?;
            view.blobs.insert(hash, blob);
        }
    }
    Ok(())
}
