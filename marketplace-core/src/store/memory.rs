//! The in-memory store: a complete [`Store`], for embedding, tests and the reference model.
//!
//! All state sits behind one async mutex. A transaction holds the mutex from `begin` to
//! commit or drop, so commands are serialized — the simplest correct locking, and fast
//! because no command waits on I/O while holding it. Writes are buffered in the transaction
//! and applied on commit, so a transaction dropped half-way changes nothing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use async_lock::{Mutex, MutexGuardArc};
use async_trait::async_trait;
use rust_decimal::Decimal;

use super::*;
use crate::model::TxType;
use crate::view::{Changes, Party};

/// A time as whole microseconds since the Unix epoch: the order key of `due` and `pending`.
fn micros(t: crate::time::Timestamp) -> i64 {
    t.timestamp_micros()
}

#[derive(Debug, Default)]
struct State {
    /// Shared with the transactions that load them (a load copies no task). Also keeps
    /// B-tree nodes small: they hold eleven values, and tasks are large.
    tasks: BTreeMap<TaskId, Arc<Task>>,
    /// `(deadline, task)`: the sweep reads the front without scanning tasks that are not due.
    /// Times as integer microseconds (stored times are whole microseconds, so the order is
    /// the same): one compare per key instead of three fields'.
    due: BTreeSet<(i64, TaskId)>,
    accounts: BTreeMap<IdentityId, Account>,
    reputations: BTreeMap<IdentityId, Reputation>,
    profiles: BTreeMap<IdentityId, Profile>,
    rules: BTreeMap<RuleId, AutoClaimRule>,
    contracts: BTreeMap<ContractId, Contract>,
    messages: HashMap<TaskId, Vec<Message>>,
    posts: BTreeMap<PostId, BoardPost>,
    blobs: HashMap<String, Blob>,
    /// `(hash, identity)` of every uploader of each blob.
    blob_holders: HashSet<(String, IdentityId)>,
    ledger: Vec<LedgerEntry>,
    /// Positions in `ledger` per account, oldest first.
    ledger_by_account: BTreeMap<AccountRef, Vec<usize>>,
    events: Vec<Event>,
    /// The outbox side of `events`, index for index.
    outbox: Vec<OutboxSlot>,
    /// The outbox's queue: leases take from the front. See [`Pending`].
    pending: Pending,
    idempotency: HashMap<(IdentityId, String), IdempotencyRecord>,
    /// API keys by hash, in issue order per identity (`created_at`, then insertion).
    api_keys: BTreeMap<String, ApiKey>,
    logins: BTreeMap<String, Login>,
    custodial_keys: BTreeMap<IdentityId, CustodialKey>,
    /// Nonces of signed requests and until when they are remembered.
    nonces: HashMap<(IdentityId, String), Timestamp>,
    settings: BTreeMap<String, String>,
    webhooks: BTreeMap<IdentityId, WebhookSettings>,
    /// Deliveries by id (index + 1), each with its attempts.
    deliveries: Vec<(Delivery, Vec<DeliveryAttempt>)>,
    /// `(event seq, recipient, channel)` of every delivery fanned out of the outbox.
    fanned_out: BTreeSet<(u64, IdentityId, Channel)>,
    /// `(available at, id)` of every pending delivery.
    deliveries_due: BTreeSet<(Timestamp, u64)>,
}

/// Replaces the record under its key in place, or inserts it: updating an existing record
/// neither clones its key nor rebalances the tree.
fn upsert<K: Ord + Clone, V>(map: &mut BTreeMap<K, V>, value: V, key: impl Fn(&V) -> &K) {
    match map.get_mut(key(&value)) {
        Some(slot) => *slot = value,
        None => {
            map.insert(key(&value).clone(), value);
        }
    }
}

/// An event's delivery state.
#[derive(Debug, Clone, Copy)]
struct OutboxSlot {
    /// In microseconds, as in `due`.
    available_at: i64,
    attempts: u32,
    done: bool,
    /// Which of the event's entries in [`Pending`] is its live one.
    entry: u32,
}

/// The events not yet completed, earliest availability first: a min-heap of
/// `(available at, seq, entry)`.
///
/// Events are appended with the time they happened, which rarely goes back, so a push is
/// one comparison with the heap's parent, where a B-tree insert walks and splits nodes. A
/// lease or a retry does not remove the event's entry: it pushes a new one and bumps the
/// slot's `entry`, and an entry whose number is not its slot's (or whose event is done) is
/// dropped when it reaches the front.
#[derive(Debug, Default)]
struct Pending {
    heap: BinaryHeap<Reverse<(i64, u64, u32)>>,
    /// Events not completed (the heap also holds superseded entries).
    live: usize,
}

impl Pending {
    /// Queues `seq` at `at`, superseding its earlier entry.
    fn push(&mut self, slot: &mut OutboxSlot, seq: u64, at: i64) {
        slot.available_at = at;
        slot.entry = slot.entry.wrapping_add(1);
        self.heap.push(Reverse((at, seq, slot.entry)));
    }

    /// Removes and returns the seq of the earliest live event available at or before `now`.
    fn pop_due(&mut self, outbox: &[OutboxSlot], now: i64) -> Option<u64> {
        while let Some(&Reverse((at, seq, entry))) = self.heap.peek() {
            if at > now {
                return None;
            }
            self.heap.pop();
            let live = slot_of(outbox, seq).is_some_and(|s| !s.done && s.entry == entry);
            if live {
                return Some(seq);
            }
        }
        None
    }
}

/// The outbox slot of event `seq` (seqs count from 1).
fn slot_of(outbox: &[OutboxSlot], seq: u64) -> Option<&OutboxSlot> {
    let index = usize::try_from(seq.checked_sub(1)?).ok()?;
    outbox.get(index)
}

impl State {
    fn apply(&mut self, changes: Changes) {
        let Changes {
            tasks,
            accounts,
            reputations,
            profiles,
            rules,
            rules_deleted,
            contracts,
            messages,
            posts,
            blobs,
            blob_holders,
            blobs_referenced,
            blobs_removed,
            ledger,
            events,
        } = changes;
        for task in tasks {
            let due = task.due_at();
            match self.tasks.get_mut(&task.id) {
                Some(stored) => {
                    let was_due = stored.due_at();
                    if was_due != due {
                        if let Some(was) = was_due {
                            self.due.remove(&(micros(was), task.id));
                        }
                        if let Some(due) = due {
                            self.due.insert((micros(due), task.id));
                        }
                    }
                    // The loads of the transaction that wrote it are gone by commit, so the
                    // record is updated in place: an update allocates nothing.
                    match Arc::get_mut(stored) {
                        Some(stored) => *stored = task,
                        None => *stored = Arc::new(task),
                    }
                }
                None => {
                    if let Some(due) = due {
                        self.due.insert((micros(due), task.id));
                    }
                    self.tasks.insert(task.id, Arc::new(task));
                }
            }
        }
        for a in accounts {
            upsert(&mut self.accounts, a, |a| &a.identity);
        }
        for r in reputations {
            upsert(&mut self.reputations, r, |r| &r.identity);
        }
        for p in profiles {
            self.profiles.insert(p.identity.clone(), p);
        }
        for r in rules {
            self.rules.insert(r.id, r);
        }
        for id in rules_deleted {
            self.rules.remove(&id);
        }
        for c in contracts {
            self.contracts.insert(c.id, c);
        }
        for m in messages {
            self.messages.entry(m.task_id).or_default().push(m);
        }
        for p in posts {
            self.posts.insert(p.id, p);
        }
        for b in blobs {
            self.blobs.entry(b.hash.clone()).or_insert(b);
        }
        self.blob_holders.extend(blob_holders);
        for hash in blobs_referenced {
            if let Some(b) = self.blobs.get_mut(&hash) {
                b.referenced = true;
            }
        }
        for hash in blobs_removed {
            self.blobs.remove(&hash);
            self.blob_holders.retain(|(h, _)| *h != hash);
        }
        for mut line in ledger {
            line.seq = self.ledger.len() as u64 + 1;
            let at = self.ledger.len();
            match self.ledger_by_account.get_mut(&line.account) {
                Some(positions) => positions.push(at),
                None => {
                    self.ledger_by_account
                        .insert(line.account.clone(), vec![at]);
                }
            }
            self.ledger.push(line);
        }
        for mut event in events {
            event.seq = self.events.len() as u64 + 1;
            let mut slot = OutboxSlot {
                available_at: 0,
                attempts: 0,
                done: false,
                entry: 0,
            };
            self.pending.push(&mut slot, event.seq, micros(event.at));
            self.pending.live += 1;
            self.outbox.push(slot);
            self.events.push(event);
        }
    }

    /// Ends lease `attempt` of event `seq`: the event is done (`next: None`) or available
    /// again at `next`. Refused (`false`) when that lease is not the event's latest, or the
    /// event is done.
    fn end_lease(&mut self, seq: u64, attempt: u32, next: Option<Timestamp>) -> bool {
        let index = seq
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(usize::MAX);
        let Some(slot) = self.outbox.get_mut(index) else {
            return false;
        };
        if slot.done || slot.attempts != attempt {
            return false;
        }
        match next {
            None => {
                slot.done = true;
                self.pending.live -= 1;
            }
            Some(at) => self.pending.push(slot, seq, micros(at)),
        }
        true
    }

    fn push_delivery(&mut self, spec: &NewDelivery, leased_until: Option<Timestamp>) -> Delivery {
        let available_at = leased_until.unwrap_or(spec.created_at);
        let delivery = Delivery {
            id: self.deliveries.len() as u64 + 1,
            spec: spec.clone(),
            status: DeliveryStatus::Pending,
            attempts: u32::from(leased_until.is_some()),
            next_attempt_at: Some(available_at),
            finished_at: None,
        };
        self.deliveries_due.insert((available_at, delivery.id));
        self.deliveries.push((delivery.clone(), Vec::new()));
        delivery
    }

    fn party(&self, id: &IdentityId) -> Option<Party> {
        let account = self.accounts.get(id)?.clone();
        let reputation = self.reputations.get(id)?.clone();
        Some(Party {
            account,
            reputation,
        })
    }
}

/// The in-memory store. Cheap to clone: clones share the same state.
///
/// ```
/// use marketplace_core::{Marketplace, MemoryStore, Policy};
/// let market = Marketplace::new(MemoryStore::new(), Policy::agora());
/// # let _ = market;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A transaction on the in-memory store: holds the store's mutex until dropped.
pub struct MemoryTx {
    guard: MutexGuardArc<State>,
    /// The engine writes once per transaction; more writes are applied in order.
    pending: Option<Changes>,
    more: Vec<Changes>,
    idempotency: Vec<IdempotencyRecord>,
    purge: Option<(Timestamp, usize)>,
}

impl Transaction for MemoryTx {
    async fn task(&mut self, id: TaskId) -> Result<Option<Arc<Task>>, StoreError> {
        Ok(self.guard.tasks.get(&id).cloned())
    }

    async fn party(&mut self, id: &IdentityId) -> Result<Option<Party>, StoreError> {
        Ok(self.guard.party(id))
    }

    async fn parties(&mut self, ids: &[IdentityId]) -> Result<Vec<Option<Party>>, StoreError> {
        Ok(ids.iter().map(|id| self.guard.party(id)).collect())
    }

    async fn task_with_parties(
        &mut self,
        id: TaskId,
        want: &TaskParties<'_>,
        view: &mut View,
    ) -> Result<(), StoreError> {
        // The default's answer, each record copied once: from the state into the view.
        let task = self.guard.tasks.get(&id).cloned();
        for who in want.listed(task.as_deref()) {
            let party = self.guard.party(&who);
            view.parties.insert(who, party);
        }
        view.tasks.insert(id, task);
        Ok(())
    }

    async fn profile(&mut self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        Ok(self.guard.profiles.get(id).cloned())
    }

    async fn rule(&mut self, id: RuleId) -> Result<Option<AutoClaimRule>, StoreError> {
        Ok(self.guard.rules.get(&id).cloned())
    }

    async fn rules_owned_by(
        &mut self,
        owner: &IdentityId,
    ) -> Result<Vec<AutoClaimRule>, StoreError> {
        Ok(self
            .guard
            .rules
            .values()
            .filter(|r| &r.owner == owner)
            .cloned()
            .collect())
    }

    async fn rules_matching(&mut self, tags: &[String]) -> Result<Vec<AutoClaimRule>, StoreError> {
        Ok(self
            .guard
            .rules
            .values()
            .filter(|r| r.matches_any(tags))
            .cloned()
            .collect())
    }

    async fn contract(&mut self, id: ContractId) -> Result<Option<Contract>, StoreError> {
        Ok(self.guard.contracts.get(&id).cloned())
    }

    async fn post(&mut self, id: PostId) -> Result<Option<BoardPost>, StoreError> {
        Ok(self.guard.posts.get(&id).cloned())
    }

    async fn blob(&mut self, hash: &str) -> Result<Option<Blob>, StoreError> {
        Ok(self.guard.blobs.get(hash).cloned())
    }

    async fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self
            .guard
            .idempotency
            .get(&(caller.clone(), key.to_owned()))
            .cloned())
    }

    async fn due_tasks(&mut self, now: Timestamp, limit: usize) -> Result<Vec<TaskId>, StoreError> {
        let now = micros(now);
        Ok(self
            .guard
            .due
            .iter()
            .take_while(|(due, _)| *due <= now)
            .take(limit)
            .map(|(_, id)| *id)
            .collect())
    }

    async fn write(&mut self, changes: Changes) -> Result<(), StoreError> {
        match self.pending {
            None => self.pending = Some(changes),
            Some(_) => self.more.push(changes),
        }
        Ok(())
    }

    async fn put_idempotency(&mut self, record: IdempotencyRecord) -> Result<(), StoreError> {
        self.idempotency.push(record);
        Ok(())
    }

    async fn purge_idempotency(
        &mut self,
        before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let count = self
            .guard
            .idempotency
            .values()
            .filter(|r| r.created_at < before)
            .take(limit)
            .count();
        self.purge = Some((before, limit));
        Ok(count)
    }

    async fn rollback(self) -> Result<(), StoreError> {
        // Nothing was applied; dropping the guard releases the store.
        Ok(())
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        let state = &mut *self.guard;
        if let Some(changes) = self.pending.take() {
            state.apply(changes);
        }
        for changes in std::mem::take(&mut self.more) {
            state.apply(changes);
        }
        for record in std::mem::take(&mut self.idempotency) {
            state
                .idempotency
                .insert((record.caller.clone(), record.key.clone()), record);
        }
        if let Some((before, limit)) = self.purge {
            let old: Vec<_> = state
                .idempotency
                .iter()
                .filter(|(_, r)| r.created_at < before)
                .take(limit)
                .map(|(k, _)| k.clone())
                .collect();
            for key in old {
                state.idempotency.remove(&key);
            }
        }
        Ok(())
    }
}

/// Lowercase words of at least one character, for the in-memory full-text match.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Whether `haystack` contains every word of `needle` as a word prefix.
fn matches_text(haystack: &[&str], needle: &str) -> bool {
    let hay: Vec<String> = haystack.iter().flat_map(|h| words(h)).collect();
    let mut any = false;
    for word in words(needle) {
        any = true;
        if !hay.iter().any(|h| h.starts_with(&word)) {
            return false;
        }
    }
    any
}

fn task_texts(t: &Task) -> Vec<&str> {
    let mut texts = vec![t.spec.text.as_str()];
    texts.extend(t.spec.title.as_deref());
    texts.extend(t.spec.skill.as_deref());
    texts.extend(t.spec.required_capabilities.iter().map(String::as_str));
    texts
}

fn item_texts(item: &FeedItem) -> Vec<&str> {
    match item {
        FeedItem::Task(t) => task_texts(t),
        FeedItem::Post(p) => {
            let mut texts = vec![p.text.as_str()];
            if let Some(service) = &p.service {
                texts.extend(service.capabilities.iter().map(String::as_str));
            }
            texts
        }
    }
}

impl State {
    fn feed_items(&self) -> impl Iterator<Item = FeedItem> + '_ {
        let tasks = self.tasks.values().map(|t| FeedItem::Task((**t).clone()));
        let posts = self.posts.values().map(|p| FeedItem::Post(p.clone()));
        tasks.chain(posts)
    }
}

#[async_trait]
impl Store for MemoryStore {
    type Tx<'a> = MemoryTx;

    // Not `async fn`: in an `#[async_trait]` impl that would box the future.
    #[allow(clippy::manual_async_fn)]
    fn begin(&self) -> impl Future<Output = Result<MemoryTx, StoreError>> + Send {
        async move {
            let guard = self.state.lock_arc().await;
            Ok(MemoryTx {
                guard,
                pending: None,
                more: Vec::new(),
                idempotency: Vec::new(),
                purge: None,
            })
        }
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        Ok(self
            .state
            .lock()
            .await
            .tasks
            .get(&id)
            .map(|t| (**t).clone()))
    }

    async fn tasks(&self, q: &TaskQuery) -> Result<Vec<Task>, StoreError> {
        let state = self.state.lock().await;
        let upper = q
            .before
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        Ok(state
            .tasks
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, t)| t)
            .filter(|t| q.status.is_none_or(|s| s == t.status))
            .filter(|t| q.skill.is_none() || t.spec.skill == q.skill)
            .filter(|t| q.poster.as_ref().is_none_or(|p| p == &t.poster))
            .filter(|t| q.claimant.as_ref().is_none_or(|c| t.claimant() == Some(c)))
            .filter(|t| {
                q.capabilities.is_empty()
                    || t.spec
                        .match_tags()
                        .iter()
                        .any(|tag| q.capabilities.contains(tag))
            })
            .take(q.limit)
            .map(|t| (**t).clone())
            .collect())
    }

    async fn messages(&self, task: TaskId, limit: usize) -> Result<Vec<Message>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .messages
            .get(&task)
            .map(|m| m.iter().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn account(&self, id: &IdentityId) -> Result<Option<Account>, StoreError> {
        Ok(self.state.lock().await.accounts.get(id).cloned())
    }

    async fn accounts(
        &self,
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        let state = self.state.lock().await;
        let lower = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        Ok(state
            .accounts
            .range((lower, std::ops::Bound::Unbounded))
            .take(limit)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn reputation(&self, id: &IdentityId) -> Result<Option<Reputation>, StoreError> {
        Ok(self.state.lock().await.reputations.get(id).cloned())
    }

    async fn profile(&self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        Ok(self.state.lock().await.profiles.get(id).cloned())
    }

    async fn profiles(&self, q: &ProfileQuery) -> Result<Vec<Profile>, StoreError> {
        let state = self.state.lock().await;
        let lower = q
            .after
            .as_ref()
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        Ok(state
            .profiles
            .range((lower, std::ops::Bound::Unbounded))
            .map(|(_, p)| p)
            .filter(|p| {
                q.capability
                    .as_ref()
                    .is_none_or(|c| p.capabilities.contains(c))
            })
            .take(q.limit)
            .cloned()
            .collect())
    }

    async fn ledger(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        let state = self.state.lock().await;
        let Some(positions) = state.ledger_by_account.get(&q.account) else {
            return Ok(Vec::new());
        };
        Ok(positions
            .iter()
            .rev()
            .map(|&i| &state.ledger[i])
            .filter(|l| q.before_seq.is_none_or(|b| l.seq < b))
            .filter(|l| q.tx_type.is_none_or(|t| t == l.tx_type))
            .take(q.limit)
            .cloned()
            .collect())
    }

    async fn ledger_since(&self, after: u64, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        let state = self.state.lock().await;
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(state.ledger.len());
        Ok(state.ledger[start..].iter().take(limit).cloned().collect())
    }

    async fn ledger_totals(&self, account: &AccountRef) -> Result<LedgerTotals, StoreError> {
        let state = self.state.lock().await;
        let mut totals = LedgerTotals::default();
        for &i in state.ledger_by_account.get(account).into_iter().flatten() {
            let line = &state.ledger[i];
            totals.balance += line.amount;
            totals.escrowed += line.escrow;
            totals.fees += line.fee;
            totals.entries += 1;
            match line.tx_type {
                TxType::Release if line.amount > Decimal::ZERO => totals.earned += line.amount,
                TxType::Release => totals.spent -= line.amount,
                TxType::Grant if line.amount > Decimal::ZERO => totals.granted += line.amount,
                _ => {}
            }
        }
        Ok(totals)
    }

    async fn rules(&self, owner: &IdentityId) -> Result<Vec<AutoClaimRule>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .rules
            .values()
            .filter(|r| &r.owner == owner)
            .cloned()
            .collect())
    }

    async fn contracts(&self, identity: &IdentityId) -> Result<Vec<Contract>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .contracts
            .values()
            .rev()
            .filter(|c| &c.poster == identity || &c.agent == identity)
            .cloned()
            .collect())
    }

    async fn feed(&self, q: &FeedQuery) -> Result<Vec<FeedItem>, StoreError> {
        let state = self.state.lock().await;
        let mut items: Vec<FeedItem> = state
            .feed_items()
            .filter(|i| i.matches(q.kind, q.topic.as_ref()))
            .filter(|i| q.author.as_ref().is_none_or(|a| a == i.author()))
            .filter(|i| q.before.is_none_or(|b| i.created_at() < b))
            .filter(|i| {
                q.text
                    .as_ref()
                    .is_none_or(|t| matches_text(&item_texts(i), t))
            })
            .collect();
        items.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
        items.truncate(q.limit);
        Ok(items)
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<FeedItem>, StoreError> {
        let state = self.state.lock().await;
        let mut items: Vec<FeedItem> = state
            .feed_items()
            .filter(|i| i.matches(q.kind, q.topic.as_ref()))
            .filter(|i| matches_text(&item_texts(i), &q.text))
            .collect();
        items.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
        items.truncate(q.limit);
        Ok(items)
    }

    async fn market_signals(&self, limit: usize) -> Result<MarketSignals, StoreError> {
        let state = self.state.lock().await;
        let mut supply: BTreeMap<String, u64> = BTreeMap::new();
        for p in state.profiles.values() {
            for c in &p.capabilities {
                *supply.entry(c.clone()).or_default() += 1;
            }
        }
        Ok(MarketSignals::from_tasks(
            state.tasks.values().map(|t| &**t),
            supply,
            limit,
        ))
    }

    async fn blob(&self, hash: &str) -> Result<Option<Blob>, StoreError> {
        Ok(self.state.lock().await.blobs.get(hash).cloned())
    }

    async fn blob_holder(&self, hash: &str, identity: &IdentityId) -> Result<bool, StoreError> {
        let key = (hash.to_owned(), identity.clone());
        Ok(self.state.lock().await.blob_holders.contains(&key))
    }

    async fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let state = self.state.lock().await;
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(state.events.len());
        Ok(state.events[start..].iter().take(limit).cloned().collect())
    }

    async fn lease_events(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedEvent>, StoreError> {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        let (now, until) = (micros(now), micros(until));
        // Taken first, queued again after: a lease ending at or before `now` must not make
        // its event due twice in one call.
        let mut due = Vec::new();
        while due.len() < limit {
            let Some(seq) = state.pending.pop_due(&state.outbox, now) else {
                break;
            };
            due.push(seq);
        }
        let mut leased = Vec::with_capacity(due.len());
        for seq in due {
            let index = usize::try_from(seq - 1).unwrap_or(usize::MAX);
            let slot = &mut state.outbox[index];
            state.pending.push(slot, seq, until);
            slot.attempts += 1;
            leased.push(LeasedEvent {
                event: state.events[index].clone(),
                attempt: slot.attempts,
            });
        }
        leased.sort_by_key(|l| l.event.seq);
        Ok(leased)
    }

    async fn complete_event(&self, seq: u64, attempt: u32) -> Result<bool, StoreError> {
        Ok(self.state.lock().await.end_lease(seq, attempt, None))
    }

    async fn retry_event(&self, seq: u64, attempt: u32, at: Timestamp) -> Result<bool, StoreError> {
        Ok(self.state.lock().await.end_lease(seq, attempt, Some(at)))
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        Ok(self.state.lock().await.pending.live as u64)
    }

    async fn credit_exposure(&self) -> Result<Decimal, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .accounts
            .values()
            .filter(|a| a.balance < Decimal::ZERO)
            .map(|a| -a.balance)
            .sum())
    }
}

#[async_trait]
impl Credentials for MemoryStore {
    async fn add_api_key(&self, key: &ApiKey) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if state.api_keys.contains_key(&key.hash) {
            return Ok(false);
        }
        state.api_keys.insert(key.hash.clone(), key.clone());
        Ok(true)
    }

    async fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.state.lock().await.api_keys.get(hash).cloned())
    }

    async fn api_keys(&self, identity: &IdentityId) -> Result<Vec<ApiKey>, StoreError> {
        let state = self.state.lock().await;
        let mut keys: Vec<ApiKey> = state
            .api_keys
            .values()
            .filter(|k| &k.identity == identity)
            .cloned()
            .collect();
        keys.sort_by(|a, b| (a.created_at, &a.prefix).cmp(&(b.created_at, &b.prefix)));
        Ok(keys)
    }

    async fn revoke_api_keys(
        &self,
        identity: &IdentityId,
        prefix: &str,
        at: Timestamp,
        keep_access: bool,
    ) -> Result<Option<u64>, StoreError> {
        let mut state = self.state.lock().await;
        let live = |k: &&ApiKey| &k.identity == identity && k.revoked_at.is_none();
        let spare = state
            .api_keys
            .values()
            .filter(live)
            .any(|k| k.prefix != prefix)
            || state.logins.values().any(|l| &l.identity == identity);
        let named = state
            .api_keys
            .values()
            .filter(live)
            .any(|k| k.prefix == prefix);
        if keep_access && named && !spare {
            return Ok(None);
        }
        let mut revoked = 0;
        for key in state.api_keys.values_mut() {
            if &key.identity == identity && key.prefix == prefix && key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                revoked += 1;
            }
        }
        Ok(Some(revoked))
    }

    async fn add_login(&self, login: &Login) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if state.logins.contains_key(&login.email) {
            return Ok(false);
        }
        state.logins.insert(login.email.clone(), login.clone());
        Ok(true)
    }

    async fn login(&self, email: &str) -> Result<Option<Login>, StoreError> {
        Ok(self.state.lock().await.logins.get(email).cloned())
    }

    async fn add_custodial_key(&self, key: &CustodialKey) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if state.custodial_keys.contains_key(&key.identity) {
            return Ok(false);
        }
        state
            .custodial_keys
            .insert(key.identity.clone(), key.clone());
        Ok(true)
    }

    async fn custodial_key(
        &self,
        identity: &IdentityId,
    ) -> Result<Option<CustodialKey>, StoreError> {
        Ok(self
            .state
            .lock()
            .await
            .custodial_keys
            .get(identity)
            .cloned())
    }

    async fn remember_nonce(
        &self,
        identity: &IdentityId,
        nonce: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        state.nonces.retain(|_, kept_until| *kept_until >= now);
        let key = (identity.clone(), nonce.to_owned());
        if state.nonces.contains_key(&key) {
            return Ok(false);
        }
        state.nonces.insert(key, until);
        Ok(true)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let mut state = self.state.lock().await;
        Ok(state
            .settings
            .entry(name.to_owned())
            .or_insert_with(|| value.to_owned())
            .clone())
    }
}

#[async_trait]
impl Deliveries for MemoryStore {
    async fn webhook(&self, identity: &IdentityId) -> Result<Option<WebhookSettings>, StoreError> {
        Ok(self.state.lock().await.webhooks.get(identity).cloned())
    }

    async fn add_webhook(
        &self,
        settings: &WebhookSettings,
    ) -> Result<(WebhookSettings, bool), StoreError> {
        let mut state = self.state.lock().await;
        if let Some(stored) = state.webhooks.get(&settings.identity) {
            return Ok((stored.clone(), false));
        }
        state
            .webhooks
            .insert(settings.identity.clone(), settings.clone());
        Ok((settings.clone(), true))
    }

    async fn put_webhook(&self, settings: &WebhookSettings) -> Result<(), StoreError> {
        self.state
            .lock()
            .await
            .webhooks
            .insert(settings.identity.clone(), settings.clone());
        Ok(())
    }

    async fn subscribers(
        &self,
        capabilities: &[String],
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<IdentityId>, StoreError> {
        let state = self.state.lock().await;
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        Ok(state
            .webhooks
            .range((start, std::ops::Bound::Unbounded))
            .map(|(id, _)| id)
            .filter(|id| {
                state
                    .profiles
                    .get(*id)
                    .is_some_and(|p| p.capabilities.iter().any(|c| capabilities.contains(c)))
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn fan_out(
        &self,
        seq: u64,
        attempt: u32,
        deliveries: &[NewDelivery],
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if !state.end_lease(seq, attempt, None) {
            return Ok(false);
        }
        for spec in deliveries {
            let key = (seq, spec.recipient.clone(), spec.channel);
            if state.fanned_out.insert(key) {
                state.push_delivery(spec, None);
            }
        }
        Ok(true)
    }

    async fn add_delivery(
        &self,
        delivery: &NewDelivery,
        leased_until: Option<Timestamp>,
    ) -> Result<Delivery, StoreError> {
        Ok(self
            .state
            .lock()
            .await
            .push_delivery(delivery, leased_until))
    }

    async fn lease_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        let due: Vec<(Timestamp, u64)> = state
            .deliveries_due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .copied()
            .collect();
        let mut leased = Vec::with_capacity(due.len());
        for key in due {
            state.deliveries_due.remove(&key);
            state.deliveries_due.insert((until, key.1));
            let (delivery, _) = &mut state.deliveries[usize::try_from(key.1 - 1).unwrap_or(0)];
            delivery.attempts += 1;
            delivery.next_attempt_at = Some(until);
            leased.push(LeasedDelivery {
                delivery: delivery.clone(),
                attempt: delivery.attempts,
            });
        }
        Ok(leased)
    }

    async fn finish_delivery(
        &self,
        id: u64,
        record: &DeliveryAttempt,
        next: NextStep,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        let index = id
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(usize::MAX);
        let Some((delivery, attempts)) = state.deliveries.get_mut(index) else {
            return Ok(false);
        };
        if !attempts.iter().any(|a| a.attempt == record.attempt) {
            attempts.push(record.clone());
        }
        if delivery.status != DeliveryStatus::Pending || delivery.attempts != record.attempt {
            return Ok(false);
        }
        if let Some(at) = delivery.next_attempt_at {
            state.deliveries_due.remove(&(at, id));
        }
        match next {
            NextStep::RetryAt(at) => {
                delivery.next_attempt_at = Some(at);
                state.deliveries_due.insert((at, id));
            }
            NextStep::Delivered | NextStep::GiveUp => {
                delivery.status = if next == NextStep::Delivered {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Failed
                };
                delivery.next_attempt_at = None;
                delivery.finished_at = Some(record.at);
            }
        }
        Ok(true)
    }

    async fn deliveries(
        &self,
        recipient: &IdentityId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let state = self.state.lock().await;
        let end = before.map_or(state.deliveries.len(), |b| {
            usize::try_from(b.saturating_sub(1))
                .unwrap_or(usize::MAX)
                .min(state.deliveries.len())
        });
        Ok(state.deliveries[..end]
            .iter()
            .rev()
            .filter(|(d, _)| &d.spec.recipient == recipient)
            .take(limit)
            .map(|(delivery, attempts)| DeliveryRecord {
                delivery: delivery.clone(),
                attempts: latest(attempts),
            })
            .collect())
    }

    async fn deliveries_pending(&self) -> Result<u64, StoreError> {
        Ok(self.state.lock().await.deliveries_due.len() as u64)
    }
}

/// The latest [`DELIVERY_ATTEMPTS_LISTED`](crate::limits::DELIVERY_ATTEMPTS_LISTED) of
/// `attempts`, oldest first.
fn latest(attempts: &[DeliveryAttempt]) -> Vec<DeliveryAttempt> {
    let skip = attempts
        .len()
        .saturating_sub(crate::limits::DELIVERY_ATTEMPTS_LISTED);
    attempts[skip..].to_vec()
}
