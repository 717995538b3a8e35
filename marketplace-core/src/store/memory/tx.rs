//! Transactions: the store's mutex held from `begin` to commit or drop, writes buffered and
//! applied on commit.
//!
//! A transaction reads its own writes: a batch of commands in one transaction (group
//! commit) has each command see the ones before it. Every load looks at the buffered
//! writes, oldest first, over the committed state, as [`State::apply`] would apply them.
//! A lone command writes after its last load, so its loads find nothing buffered.

use std::sync::Arc;

use async_lock::MutexGuardArc;

use crate::store::{
    AutoClaimRule, Blob, BoardPost, Contract, ContractId, IdempotencyRecord, IdentityId, PostId,
    Profile, RuleId, StoreError, Task, TaskId, TaskParties, Timestamp, Transaction, View,
};
use crate::view::{Changes, Party};

use super::state::*;

/// A transaction on the in-memory store: holds the store's mutex until dropped.
pub struct MemoryTx {
    pub(super) guard: MutexGuardArc<State>,
    /// The first write; later ones (a batch's commands after the first) in `more`, applied
    /// in order.
    pub(super) pending: Option<Changes>,
    pub(super) more: Vec<Changes>,
    pub(super) idempotency: Vec<IdempotencyRecord>,
    pub(super) purge: Option<(Timestamp, usize)>,
}

impl MemoryTx {
    /// The writes buffered so far, oldest first.
    fn written(&self) -> impl DoubleEndedIterator<Item = &Changes> {
        self.pending.iter().chain(self.more.iter())
    }

    fn task_now(&self, id: TaskId) -> Option<Arc<Task>> {
        if self.pending.is_none() {
            // Nothing written yet (a lone command's loads): the stored record.
            return self.guard.tasks.get(&id).cloned();
        }
        let newest = self
            .written()
            .rev()
            .find_map(|c| c.tasks.iter().rev().find(|t| t.id == id));
        match newest {
            Some(task) => Some(Arc::new(task.clone())),
            None => self.guard.tasks.get(&id).cloned(),
        }
    }

    fn party_now(&self, id: &IdentityId) -> Option<Party> {
        if self.pending.is_none() {
            return self.guard.party(id);
        }
        let account = self
            .written()
            .rev()
            .find_map(|c| c.accounts.iter().rev().find(|a| &a.identity == id));
        let reputation = self
            .written()
            .rev()
            .find_map(|c| c.reputations.iter().rev().find(|r| &r.identity == id));
        if account.is_none() && reputation.is_none() {
            return self.guard.party(id);
        }
        Some(Party {
            account: account.or_else(|| self.guard.accounts.get(id))?.clone(),
            reputation: reputation
                .or_else(|| self.guard.reputations.get(id))?
                .clone(),
        })
    }

    /// The newest record `is` picks among the written lists `of` names, or else `stored`.
    fn newest<T: Clone>(
        &self,
        of: fn(&Changes) -> &Vec<T>,
        is: impl Fn(&T) -> bool,
        stored: Option<&T>,
    ) -> Option<T> {
        let written = self.written().rev();
        written
            .filter_map(|c| of(c).iter().rev().find(|r| is(r)))
            .next()
            .or(stored)
            .cloned()
    }

    /// The rules `keep` picks, as they stand after the buffered writes, in id order.
    fn rules_now(&self, keep: impl Fn(&AutoClaimRule) -> bool) -> Vec<AutoClaimRule> {
        let mut rules: std::collections::BTreeMap<RuleId, AutoClaimRule> = self
            .guard
            .rules
            .values()
            .filter(|r| keep(r))
            .map(|r| (r.id, r.clone()))
            .collect();
        for c in self.written() {
            for r in &c.rules {
                rules.remove(&r.id);
                if keep(r) {
                    rules.insert(r.id, r.clone());
                }
            }
            for id in &c.rules_deleted {
                rules.remove(id);
            }
        }
        rules.into_values().collect()
    }
}

impl Transaction for MemoryTx {
    async fn task(&mut self, id: TaskId) -> Result<Option<Arc<Task>>, StoreError> {
        Ok(self.task_now(id))
    }

    async fn party(&mut self, id: &IdentityId) -> Result<Option<Party>, StoreError> {
        Ok(self.party_now(id))
    }

    async fn parties(&mut self, ids: &[IdentityId]) -> Result<Vec<Option<Party>>, StoreError> {
        Ok(ids.iter().map(|id| self.party_now(id)).collect())
    }

    async fn task_with_parties(
        &mut self,
        id: TaskId,
        want: &TaskParties<'_>,
        view: &mut View,
    ) -> Result<(), StoreError> {
        // The default's answer, each record copied once: from the state into the view.
        let task = self.task_now(id);
        for who in want.listed(task.as_deref()) {
            let party = self.party_now(&who);
            view.parties.insert(who, party);
        }
        view.tasks.insert(id, task);
        Ok(())
    }

    async fn profile(&mut self, id: &IdentityId) -> Result<Option<Profile>, StoreError> {
        let stored = self.guard.profiles.get(id);
        Ok(self.newest(|c| &c.profiles, |p| &p.identity == id, stored))
    }

    async fn rule(&mut self, id: RuleId) -> Result<Option<AutoClaimRule>, StoreError> {
        // Replayed as `apply` applies writes: a rule upserted, then rules deleted.
        let mut rule = self.guard.rules.get(&id).cloned();
        for c in self.written() {
            if let Some(r) = c.rules.iter().rev().find(|r| r.id == id) {
                rule = Some(r.clone());
            }
            if c.rules_deleted.contains(&id) {
                rule = None;
            }
        }
        Ok(rule)
    }

    async fn rules_owned_by(
        &mut self,
        owner: &IdentityId,
    ) -> Result<Vec<AutoClaimRule>, StoreError> {
        Ok(self.rules_now(|r| &r.owner == owner))
    }

    async fn rules_matching(&mut self, tags: &[String]) -> Result<Vec<AutoClaimRule>, StoreError> {
        Ok(self.rules_now(|r| r.matches_any(tags)))
    }

    async fn contract(&mut self, id: ContractId) -> Result<Option<Contract>, StoreError> {
        let stored = self.guard.contracts.get(&id);
        Ok(self.newest(|c| &c.contracts, |k| k.id == id, stored))
    }

    async fn post(&mut self, id: PostId) -> Result<Option<BoardPost>, StoreError> {
        let stored = self.guard.posts.get(&id);
        Ok(self.newest(|c| &c.posts, |p| p.id == id, stored))
    }

    async fn blob(&mut self, hash: &str) -> Result<Option<Blob>, StoreError> {
        // Replayed as `apply` applies writes: a record already stored is kept, a reference
        // marks it, a removal forgets it.
        let mut blob = self.guard.blobs.get(hash).cloned();
        for c in self.written() {
            if blob.is_none() {
                blob = c.blobs.iter().find(|b| b.hash == hash).cloned();
            }
            if let Some(b) = &mut blob
                && c.blobs_referenced.iter().any(|h| h == hash)
            {
                b.referenced = true;
            }
            if c.blobs_removed.iter().any(|h| h == hash) {
                blob = None;
            }
        }
        Ok(blob)
    }

    async fn idempotency(
        &mut self,
        caller: &IdentityId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let written = self
            .idempotency
            .iter()
            .rev()
            .find(|r| &r.caller == caller && r.key == key);
        match written {
            Some(record) => Ok(Some(record.clone())),
            None => Ok(self
                .guard
                .idempotency
                .get(&(caller.clone(), key.to_owned()))
                .cloned()),
        }
    }

    /// Reads the committed deadlines only: the sweep asks before it writes.
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
