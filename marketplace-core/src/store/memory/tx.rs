//! Transactions: the store's mutex held from `begin` to commit or drop, writes buffered and
//! applied on commit.

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
    /// The engine writes once per transaction; more writes are applied in order.
    pub(super) pending: Option<Changes>,
    pub(super) more: Vec<Changes>,
    pub(super) idempotency: Vec<IdempotencyRecord>,
    pub(super) purge: Option<(Timestamp, usize)>,
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
