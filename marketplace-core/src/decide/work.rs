//! The working set of one `decide` call: copy-on-write over the [`View`].

use std::sync::Arc;

use rust_decimal::Decimal;

use super::context::{Context, Fault};
use crate::error::Error;
use crate::ids::{ContractId, IdAllocator, IdentityId, PostId, RuleId, TaskId};
use crate::model::{
    Account, AccountRef, AutoClaimRule, Blob, BoardPost, Contract, Event, EventData, EventKind,
    LedgerEntry, Message, Profile, Reputation, Task, TxType,
};
use crate::policy::Policy;
use crate::time::Timestamp;
use crate::view::{Changes, Key, Records, View};

/// A record that carries its own key.
pub(crate) trait Keyed {
    type Key: PartialEq;
    fn key(&self) -> &Self::Key;
}

macro_rules! keyed {
    ($($record:ty => $field:ident: $key:ty),* $(,)?) => {$(
        impl Keyed for $record {
            type Key = $key;
            fn key(&self) -> &$key {
                &self.$field
            }
        }
    )*};
}

keyed! {
    Task => id: TaskId,
    Account => identity: IdentityId,
    Reputation => identity: IdentityId,
    Profile => identity: IdentityId,
    AutoClaimRule => id: RuleId,
    Contract => id: ContractId,
}

/// The records one command wrote, in first-write order, found by their own key: a command
/// writes a handful, so a vector searched in place beats a map, and it becomes the
/// [`Changes`] list as it is.
pub(crate) struct Written<V>(Vec<V>);

impl<V: Keyed> Written<V> {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn get(&self, key: &V::Key) -> Option<&V> {
        self.0.iter().find(|v| v.key() == key)
    }

    fn position(&self, key: &V::Key) -> Option<usize> {
        self.0.iter().position(|v| v.key() == key)
    }

    fn insert(&mut self, value: V) {
        match self.0.iter_mut().find(|v| v.key() == value.key()) {
            Some(slot) => *slot = value,
            None => {
                // Most commands write one or two records of a kind.
                if self.0.capacity() == 0 {
                    self.0.reserve_exact(2);
                }
                self.0.push(value);
            }
        }
    }

    fn remove(&mut self, key: &V::Key) {
        self.0.retain(|v| v.key() != key);
    }

    fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter()
    }
}

/// Records read from the view are cloned on first write; reads see the latest copy.
pub(crate) struct Work<'a> {
    view: &'a View,
    pub(crate) now: Timestamp,
    pub(crate) policy: &'a Policy,
    ids: IdAllocator,
    tasks: Written<Task>,
    accounts: Written<Account>,
    reps: Written<Reputation>,
    profiles: Written<Profile>,
    rules: Written<AutoClaimRule>,
    rules_deleted: Vec<RuleId>,
    contracts: Written<Contract>,
    messages: Vec<Message>,
    posts: Vec<BoardPost>,
    blobs: Vec<Blob>,
    blob_holders: Vec<(String, IdentityId)>,
    blobs_referenced: Vec<String>,
    blobs_removed: Vec<String>,
    ledger: Vec<LedgerEntry>,
    events: Vec<Event>,
}

/// Looks `id` up in `view_map`; absent from the map means "not loaded yet".
fn lookup<'v, K: PartialEq, V, const N: usize>(
    map: &'v Records<K, Option<V>, N>,
    id: &K,
    key: impl FnOnce() -> Key,
) -> Result<Option<&'v V>, Fault> {
    match map.get(id) {
        Some(found) => Ok(found.as_ref()),
        None => Err(Fault::Needs(key())),
    }
}

impl<'a> Work<'a> {
    pub(crate) fn new(view: &'a View, ctx: &Context<'a>) -> Self {
        Self {
            view,
            now: ctx.now,
            policy: ctx.policy,
            ids: IdAllocator::new(ctx.now, ctx.seed),
            tasks: Written::new(),
            accounts: Written::new(),
            reps: Written::new(),
            profiles: Written::new(),
            rules: Written::new(),
            rules_deleted: Vec::new(),
            contracts: Written::new(),
            messages: Vec::new(),
            posts: Vec::new(),
            blobs: Vec::new(),
            blob_holders: Vec::new(),
            blobs_referenced: Vec::new(),
            blobs_removed: Vec::new(),
            ledger: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(crate) fn finish(self) -> Changes {
        let mut events = self.events;
        // Each event carries its task as this command leaves it (one copy per task).
        let mut last: Option<Arc<Task>> = None;
        for event in &mut events {
            let Some(id) = event.task_id else { continue };
            if last.as_ref().is_none_or(|t| t.id != id) {
                last = match self.tasks.get(&id) {
                    Some(written) => Some(Arc::new(written.clone())),
                    None => self.view.tasks.get(&id).cloned().flatten(),
                };
            }
            event.task.clone_from(&last);
        }
        Changes {
            tasks: self.tasks.0,
            accounts: self.accounts.0,
            reputations: self.reps.0,
            profiles: self.profiles.0,
            rules: self.rules.0,
            rules_deleted: self.rules_deleted,
            contracts: self.contracts.0,
            messages: self.messages,
            posts: self.posts,
            blobs: self.blobs,
            blob_holders: self.blob_holders,
            blobs_referenced: self.blobs_referenced,
            blobs_removed: self.blobs_removed,
            ledger: self.ledger,
            events,
        }
    }

    pub(crate) fn new_uuid(&mut self) -> uuid::Uuid {
        self.ids.next_uuid()
    }

    // ---- tasks ----

    /// The task, or `TaskNotFound`.
    pub(crate) fn task(&self, id: TaskId) -> Result<Task, Fault> {
        self.task_ref(id).cloned()
    }

    /// The task as it stands, borrowed: for reads that change nothing.
    pub(crate) fn task_ref(&self, id: TaskId) -> Result<&Task, Fault> {
        // A `match`, not `ok_or`: that builds (and drops) the error on every found task.
        match self.task_ref_opt(id)? {
            Some(task) => Ok(task),
            None => Err(Error::TaskNotFound.into()),
        }
    }

    pub(crate) fn task_ref_opt(&self, id: TaskId) -> Result<Option<&Task>, Fault> {
        if let Some(t) = self.tasks.get(&id) {
            return Ok(Some(t));
        }
        Ok(lookup(&self.view.tasks, &id, || Key::Task(id))?.map(|t| &**t))
    }

    pub(crate) fn put_task(&mut self, mut task: Task) {
        task.updated_at = self.now;
        self.tasks.insert(task);
    }

    // ---- identities ----

    fn party_account(&self, id: &IdentityId) -> Result<Option<&Account>, Fault> {
        if let Some(a) = self.accounts.get(id) {
            return Ok(Some(a));
        }
        let party = lookup(&self.view.parties, id, || Key::Identity(id.clone()))?;
        Ok(party.map(|p| &p.account))
    }

    /// Whether `id` is registered.
    pub(crate) fn is_party(&self, id: &IdentityId) -> Result<bool, Fault> {
        Ok(self.party_account(id)?.is_some())
    }

    /// Refuses unregistered actors.
    pub(crate) fn require_party(&self, id: &IdentityId) -> Result<(), Fault> {
        if self.is_party(id)? {
            Ok(())
        } else {
            Err(Error::UnknownIdentity.into())
        }
    }

    pub(crate) fn account(&self, id: &IdentityId) -> Result<Account, Fault> {
        match self.party_account(id)? {
            Some(account) => Ok(account.clone()),
            None => Err(Error::UnknownIdentity.into()),
        }
    }

    pub(crate) fn put_account(&mut self, account: Account) {
        self.accounts.insert(account);
    }

    pub(crate) fn rep(&self, id: &IdentityId) -> Result<Reputation, Fault> {
        if let Some(r) = self.reps.get(id) {
            return Ok(r.clone());
        }
        let party = lookup(&self.view.parties, id, || Key::Identity(id.clone()))?;
        match party {
            Some(p) => Ok(p.reputation.clone()),
            None => Err(Error::UnknownIdentity.into()),
        }
    }

    pub(crate) fn put_rep(&mut self, rep: Reputation) {
        self.reps.insert(rep);
    }

    /// Changes `id`'s reputation counters in place: the first change copies the loaded
    /// record into the written ones, later changes edit that copy.
    pub(crate) fn update_rep(
        &mut self,
        id: &IdentityId,
        change: impl FnOnce(&mut Reputation),
    ) -> Result<&Reputation, Fault> {
        let at = match self.reps.position(id) {
            Some(at) => at,
            None => {
                let rep = self.rep(id)?;
                self.reps.insert(rep);
                self.reps.0.len() - 1
            }
        };
        let rep = &mut self.reps.0[at];
        change(rep);
        Ok(rep)
    }

    /// Records that `id` acted now (reputation decay counts from here).
    pub(crate) fn mark_active(&mut self, id: &IdentityId) -> Result<(), Fault> {
        let now = self.now;
        self.update_rep(id, |r| r.last_active_at = now).map(drop)
    }

    /// Sets `id`'s credit limit from its reputation now.
    pub(crate) fn recalc_credit(&mut self, id: &IdentityId) -> Result<(), Fault> {
        let rep = self.rep(id)?;
        let mut account = self.account(id)?;
        account.credit_limit = self.policy.credit_limit(&rep, self.now);
        self.put_account(account);
        Ok(())
    }

    pub(crate) fn profile_opt(&self, id: &IdentityId) -> Result<Option<Profile>, Fault> {
        if let Some(p) = self.profiles.get(id) {
            return Ok(Some(p.clone()));
        }
        Ok(lookup(&self.view.profiles, id, || Key::Profile(id.clone()))?.cloned())
    }

    pub(crate) fn put_profile(&mut self, profile: Profile) {
        self.profiles.insert(profile);
    }

    // ---- other records ----

    pub(crate) fn rule_opt(&self, id: RuleId) -> Result<Option<AutoClaimRule>, Fault> {
        if let Some(r) = self.rules.get(&id) {
            return Ok(Some(r.clone()));
        }
        Ok(lookup(&self.view.rules, &id, || Key::Rule(id))?.cloned())
    }

    pub(crate) fn rules_owned_by(&self, id: &IdentityId) -> Result<usize, Fault> {
        let stored = self
            .view
            .rules_owned
            .get(id)
            .ok_or_else(|| Fault::Needs(Key::RulesOwnedBy(id.clone())))?;
        let fresh = self.rules.values().filter(|r| &r.owner == id).count();
        let gone = stored
            .iter()
            .filter(|r| self.rules_deleted.contains(&r.id))
            .count();
        Ok(stored.len() + fresh - gone)
    }

    pub(crate) fn rules_matching(&self, tags: &[String]) -> Result<Vec<AutoClaimRule>, Fault> {
        let stored = self
            .view
            .rules_matching
            .get(tags)
            .ok_or_else(|| Fault::Needs(Key::RulesMatching(tags.to_vec())))?;
        Ok(stored
            .iter()
            .filter(|r| !self.rules_deleted.contains(&r.id))
            .cloned()
            .collect())
    }

    pub(crate) fn put_rule(&mut self, rule: AutoClaimRule) {
        self.rules.insert(rule);
    }

    pub(crate) fn delete_rule_record(&mut self, id: RuleId) {
        self.rules.remove(&id);
        self.rules_deleted.push(id);
    }

    pub(crate) fn contract_opt(&self, id: ContractId) -> Result<Option<Contract>, Fault> {
        if let Some(c) = self.contracts.get(&id) {
            return Ok(Some(c.clone()));
        }
        Ok(lookup(&self.view.contracts, &id, || Key::Contract(id))?.cloned())
    }

    pub(crate) fn put_contract(&mut self, mut contract: Contract) {
        contract.updated_at = self.now;
        self.contracts.insert(contract);
    }

    pub(crate) fn post_opt(&self, id: PostId) -> Result<Option<BoardPost>, Fault> {
        if let Some(p) = self.posts.iter().find(|p| p.id == id) {
            return Ok(Some(p.clone()));
        }
        Ok(lookup(&self.view.posts, &id, || Key::Post(id))?.cloned())
    }

    pub(crate) fn add_post(&mut self, post: BoardPost) {
        self.posts.push(post);
    }

    pub(crate) fn add_message(&mut self, message: Message) {
        self.messages.push(message);
    }

    pub(crate) fn blob_opt(&self, hash: &str) -> Result<Option<Blob>, Fault> {
        if self.blobs_removed.iter().any(|h| h == hash) {
            return Ok(None);
        }
        let mut blob = match self.blobs.iter().find(|b| b.hash == hash) {
            Some(b) => b.clone(),
            None => {
                let key = hash.to_owned();
                match lookup(&self.view.blobs, &key, || Key::Blob(hash.to_owned()))? {
                    Some(b) => b.clone(),
                    None => return Ok(None),
                }
            }
        };
        blob.referenced |= self.blobs_referenced.iter().any(|h| h == hash);
        Ok(Some(blob))
    }

    pub(crate) fn add_blob(&mut self, blob: Blob) {
        self.blobs.push(blob);
    }

    /// Records `holder` as an uploader of `hash` (stored once, however often recorded).
    pub(crate) fn add_blob_holder(&mut self, hash: &str, holder: &IdentityId) {
        self.blob_holders.push((hash.to_owned(), holder.clone()));
    }

    /// Marks `hash` as named by a delivery, once.
    pub(crate) fn reference_blob(&mut self, blob: &Blob) {
        if !blob.referenced {
            self.blobs_referenced.push(blob.hash.clone());
        }
    }

    /// Forgets `hash` and its holders.
    pub(crate) fn remove_blob(&mut self, hash: &str) {
        self.blobs.retain(|b| b.hash != hash);
        self.blob_holders.retain(|(h, _)| h != hash);
        self.blobs_removed.push(hash.to_owned());
    }

    // ---- ledger and events ----

    /// Appends a ledger line (zero lines are skipped: they carry no information).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ledger(
        &mut self,
        account: AccountRef,
        tx_type: TxType,
        amount: Decimal,
        escrow: Decimal,
        fee: Decimal,
        task_id: Option<TaskId>,
        memo: &'static str,
    ) {
        if amount.is_zero() && escrow.is_zero() && fee.is_zero() {
            return;
        }
        self.ledger.push(LedgerEntry {
            seq: 0,
            account,
            tx_type,
            amount,
            escrow,
            fee,
            task_id,
            memo: std::borrow::Cow::Borrowed(memo),
            created_at: self.now,
        });
    }

    pub(crate) fn event(
        &mut self,
        kind: EventKind,
        task_id: Option<TaskId>,
        subject: Option<&IdentityId>,
        data: EventData,
    ) {
        self.events.push(Event {
            seq: 0,
            kind,
            task_id,
            subject: subject.cloned(),
            data,
            at: self.now,
            task: None,
        });
    }
}
