//! The records one command reads and writes: the [`View`] a store loads for it (each record
//! under its [`Key`], identities as [`Party`]s, in small [`Records`] maps) and the
//! [`Changes`] the state machine hands back to be written. A leaf: the state machine
//! ([`crate::decide`]) and the stores ([`crate::store`]) both build on it, and it on neither.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::ids::{ContractId, IdentityId, PostId, RuleId, TaskId};
use crate::model::{
    Account, AutoClaimRule, Blob, BoardPost, Contract, Event, LedgerEntry, Message, Profile,
    Reputation, Task,
};

/// A record the state machine asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A task with everything hanging off it.
    Task(TaskId),
    /// An identity's account and reputation.
    Identity(IdentityId),
    /// An identity's profile.
    Profile(IdentityId),
    /// One auto-claim rule.
    Rule(RuleId),
    /// Every rule an identity owns.
    RulesOwnedBy(IdentityId),
    /// Every rule naming any of these tags (sorted).
    RulesMatching(Vec<String>),
    /// A contract.
    Contract(ContractId),
    /// A board post.
    Post(PostId),
    /// An artifact record.
    Blob(String),
}

/// An identity's account and reputation, loaded together.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    /// Money.
    pub account: Account,
    /// Track record.
    pub reputation: Reputation,
}

/// A handful of records by key. A command touches a few records, so a vector beats a hash
/// or tree map here: no hashing, and no node allocation sized for many large values. The
/// first `N` are held inline, so the kinds every command loads (a task, its parties)
/// allocate nothing; the view, and so every command's future, stays small for the rest.
#[derive(Debug, Clone)]
pub struct Records<K, V, const N: usize = 0>(SmallVec<[(K, V); N]>);

impl<K, V, const N: usize> Default for Records<K, V, N> {
    fn default() -> Self {
        Self(SmallVec::new())
    }
}

impl<K: PartialEq, V, const N: usize> Records<K, V, N> {
    /// The record under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.0
            .iter()
            .find(|(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Inserts or replaces the record under `key`.
    pub fn insert(&mut self, key: K, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// Removes the record under `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let index = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }

    /// The records, in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The records, in insertion order.
    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.0.into_iter().map(|(_, v)| v)
    }
}

/// The records loaded for one command. `None` means "loaded: does not exist".
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct View {
    pub tasks: Records<TaskId, Option<Arc<Task>>, 2>,
    pub parties: Records<IdentityId, Option<Party>, 2>,
    pub profiles: Records<IdentityId, Option<Profile>>,
    pub rules: Records<RuleId, Option<AutoClaimRule>>,
    pub rules_owned: Records<IdentityId, Vec<AutoClaimRule>>,
    pub rules_matching: Records<Vec<String>, Vec<AutoClaimRule>>,
    pub contracts: Records<ContractId, Option<Contract>>,
    pub posts: Records<PostId, Option<BoardPost>>,
    pub blobs: Records<String, Option<Blob>>,
}

impl View {
    /// Whether `key` has been loaded.
    pub fn has(&self, key: &Key) -> bool {
        match key {
            Key::Task(id) => self.tasks.contains_key(id),
            Key::Identity(id) => self.parties.contains_key(id),
            Key::Profile(id) => self.profiles.contains_key(id),
            Key::Rule(id) => self.rules.contains_key(id),
            Key::RulesOwnedBy(id) => self.rules_owned.contains_key(id),
            Key::RulesMatching(tags) => self.rules_matching.contains_key(tags),
            Key::Contract(id) => self.contracts.contains_key(id),
            Key::Post(id) => self.posts.contains_key(id),
            Key::Blob(hash) => self.blobs.contains_key(hash),
        }
    }
}

/// What a command changes: records to upsert, lines to append, events to publish.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Changes {
    pub tasks: Vec<Task>,
    pub accounts: Vec<Account>,
    pub reputations: Vec<Reputation>,
    pub profiles: Vec<Profile>,
    pub rules: Vec<AutoClaimRule>,
    pub rules_deleted: Vec<RuleId>,
    pub contracts: Vec<Contract>,
    pub messages: Vec<Message>,
    pub posts: Vec<BoardPost>,
    /// New artifact records; a record already stored is kept as it is.
    pub blobs: Vec<Blob>,
    /// `(hash, identity)`: an identity that uploaded the blob (stored once each).
    pub blob_holders: Vec<(String, IdentityId)>,
    /// Blobs a delivery has just named for the first time.
    pub blobs_referenced: Vec<String>,
    /// Blobs forgotten, with their holders.
    pub blobs_removed: Vec<String>,
    pub ledger: Vec<LedgerEntry>,
    pub events: Vec<Event>,
}
