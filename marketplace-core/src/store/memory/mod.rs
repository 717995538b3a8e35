//! The in-memory store: a complete [`Store`], for embedding, tests and the reference model.
//!
//! All state sits behind one async mutex. A transaction holds the mutex from `begin` to
//! commit or drop, so commands are serialized — the simplest correct locking, and fast
//! because no command waits on I/O while holding it. Writes are buffered in the transaction
//! and applied on commit, so a transaction dropped half-way changes nothing.
//!
//! Laid out like the SQL stores: the store and its reads here, `tx` for transactions,
//! `credentials` and `deliveries` for those traits; `state` holds what they share.

mod credentials;
mod deliveries;
mod state;
mod tx;

use std::collections::BTreeMap;

use async_lock::Mutex;
use async_trait::async_trait;
use rust_decimal::Decimal;

use crate::model::TxType;
use crate::store::*;

use state::*;
pub use tx::MemoryTx;

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
                q.queued
                    .as_ref()
                    .is_none_or(|a| t.queue.iter().any(|e| &e.agent == a))
            })
            .filter(|t| {
                q.deliverer
                    .as_ref()
                    .is_none_or(|a| t.delivery.as_ref().is_some_and(|d| &d.agent == a))
            })
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

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        let state = self.state.lock().await;
        Ok(state.events.last().map_or(0, |e| e.seq))
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
