//! The store's state behind its mutex: every record, the indexes reads use, and the outbox.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use crate::store::{
    Account, AccountRef, ApiKey, AutoClaimRule, Blob, BoardPost, Channel, Contract, ContractId,
    CustodialKey, Delivery, DeliveryAttempt, DeliveryStatus, Event, FeedItem, IdempotencyRecord,
    IdentityId, LedgerEntry, Login, Message, NewDelivery, PostId, Profile, Reputation, RuleId,
    Task, TaskId, Timestamp, WebhookSettings,
};
use crate::view::{Changes, Party};

/// A time as whole microseconds since the Unix epoch: the order key of `due` and `pending`.
pub(super) fn micros(t: crate::time::Timestamp) -> i64 {
    t.timestamp_micros()
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// Shared with the transactions that load them (a load copies no task). Also keeps
    /// B-tree nodes small: they hold eleven values, and tasks are large.
    pub(super) tasks: BTreeMap<TaskId, Arc<Task>>,
    /// `(deadline, task)`: the sweep reads the front without scanning tasks that are not due.
    /// Times as integer microseconds (stored times are whole microseconds, so the order is
    /// the same): one compare per key instead of three fields'.
    pub(super) due: BTreeSet<(i64, TaskId)>,
    pub(super) accounts: BTreeMap<IdentityId, Account>,
    pub(super) reputations: BTreeMap<IdentityId, Reputation>,
    pub(super) profiles: BTreeMap<IdentityId, Profile>,
    pub(super) rules: BTreeMap<RuleId, AutoClaimRule>,
    pub(super) contracts: BTreeMap<ContractId, Contract>,
    pub(super) messages: HashMap<TaskId, Vec<Message>>,
    pub(super) posts: BTreeMap<PostId, BoardPost>,
    pub(super) blobs: HashMap<String, Blob>,
    /// `(hash, identity)` of every uploader of each blob.
    pub(super) blob_holders: HashSet<(String, IdentityId)>,
    pub(super) ledger: Vec<LedgerEntry>,
    /// Positions in `ledger` per account, oldest first.
    pub(super) ledger_by_account: BTreeMap<AccountRef, Vec<usize>>,
    pub(super) events: Vec<Event>,
    /// The outbox side of `events`, index for index.
    pub(super) outbox: Vec<OutboxSlot>,
    /// The outbox's queue: leases take from the front. See [`Pending`].
    pub(super) pending: Pending,
    pub(super) idempotency: HashMap<(IdentityId, String), IdempotencyRecord>,
    /// API keys by hash, in issue order per identity (`created_at`, then insertion).
    pub(super) api_keys: BTreeMap<String, ApiKey>,
    pub(super) logins: BTreeMap<String, Login>,
    pub(super) custodial_keys: BTreeMap<IdentityId, CustodialKey>,
    /// Nonces of signed requests and until when they are remembered.
    pub(super) nonces: HashMap<(IdentityId, String), Timestamp>,
    pub(super) settings: BTreeMap<String, String>,
    pub(super) webhooks: BTreeMap<IdentityId, WebhookSettings>,
    /// Deliveries by id (index + 1), each with its attempts.
    pub(super) deliveries: Vec<(Delivery, Vec<DeliveryAttempt>)>,
    /// `(event seq, recipient, channel)` of every delivery fanned out of the outbox.
    pub(super) fanned_out: BTreeSet<(u64, IdentityId, Channel)>,
    /// `(available at, id)` of every pending delivery.
    pub(super) deliveries_due: BTreeSet<(Timestamp, u64)>,
}

/// Replaces the record under its key in place, or inserts it: updating an existing record
/// neither clones its key nor rebalances the tree.
pub(super) fn upsert<K: Ord + Clone, V>(
    map: &mut BTreeMap<K, V>,
    value: V,
    key: impl Fn(&V) -> &K,
) {
    match map.get_mut(key(&value)) {
        Some(slot) => *slot = value,
        None => {
            map.insert(key(&value).clone(), value);
        }
    }
}

/// An event's delivery state.
#[derive(Debug, Clone, Copy)]
pub(super) struct OutboxSlot {
    /// In microseconds, as in `due`.
    pub(super) available_at: i64,
    pub(super) attempts: u32,
    pub(super) done: bool,
    /// Which of the event's entries in [`Pending`] is its live one.
    pub(super) entry: u32,
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
pub(super) struct Pending {
    pub(super) heap: BinaryHeap<Reverse<(i64, u64, u32)>>,
    /// Events not completed (the heap also holds superseded entries).
    pub(super) live: usize,
}

impl Pending {
    /// Queues `seq` at `at`, superseding its earlier entry.
    pub(super) fn push(&mut self, slot: &mut OutboxSlot, seq: u64, at: i64) {
        slot.available_at = at;
        slot.entry = slot.entry.wrapping_add(1);
        self.heap.push(Reverse((at, seq, slot.entry)));
    }

    /// Removes and returns the seq of the earliest live event available at or before `now`.
    pub(super) fn pop_due(&mut self, outbox: &[OutboxSlot], now: i64) -> Option<u64> {
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
pub(super) fn slot_of(outbox: &[OutboxSlot], seq: u64) -> Option<&OutboxSlot> {
    let index = usize::try_from(seq.checked_sub(1)?).ok()?;
    outbox.get(index)
}

impl State {
    pub(super) fn apply(&mut self, changes: Changes) {
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
    pub(super) fn end_lease(&mut self, seq: u64, attempt: u32, next: Option<Timestamp>) -> bool {
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

    pub(super) fn push_delivery(
        &mut self,
        spec: &NewDelivery,
        leased_until: Option<Timestamp>,
    ) -> Delivery {
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

    pub(super) fn party(&self, id: &IdentityId) -> Option<Party> {
        let account = self.accounts.get(id)?.clone();
        let reputation = self.reputations.get(id)?.clone();
        Some(Party {
            account,
            reputation,
        })
    }
}

impl State {
    pub(super) fn feed_items(&self) -> impl Iterator<Item = FeedItem> + '_ {
        let tasks = self.tasks.values().map(|t| FeedItem::Task((**t).clone()));
        let posts = self.posts.values().map(|p| FeedItem::Post(p.clone()));
        tasks.chain(posts)
    }
}
