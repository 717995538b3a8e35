//! The pure state machine: `decide(view, actor, command, context) -> Changes`.
//!
//! No I/O, no clock, no randomness: the records a command touches come in a [`View`], time
//! and the id seed in a [`Context`]. The result lists every record to write, the ledger lines
//! and the events. When the view lacks a record, `decide` answers [`Fault::Needs`] with the
//! [`Key`] to load; the engine loads it (in the same transaction) and calls again — so the
//! state machine never reads storage and never has to guess what a command will touch.
//!
//! Every rule of the task lifecycle, the ledger and reputation lives in this module:
//! [`lifecycle`](self) for tasks, `identity` for accounts, rules, contracts and the board,
//! `timers` for deadlines.

mod identity;
mod lifecycle;
mod timers;
pub(crate) mod validate;
mod work;

use std::sync::Arc;

use smallvec::SmallVec;

use crate::command::{Command, Outcome};
use crate::error::Error;
use crate::ids::{ContractId, IdentityId, PostId, RuleId, TaskId};
use crate::model::{
    Account, AutoClaimRule, Blob, BoardPost, Contract, Event, LedgerEntry, Message, Profile,
    Reputation, Task,
};
use crate::policy::Policy;
use crate::time::Timestamp;

pub(crate) use work::Work;

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

/// Everything `decide` needs besides records.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The command's time.
    pub now: Timestamp,
    /// The marketplace's numbers.
    pub policy: &'a Policy,
    /// Seed for the ids the command creates.
    pub seed: u64,
}

/// Why `decide` stopped without a result.
#[derive(Debug)]
pub enum Fault {
    /// The view lacks this record: load it and call again.
    Needs(Key),
    /// The command is refused; nothing changes.
    Rejected(Error),
}

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        Self::Rejected(e)
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

/// A decided command: what to write, and what the caller gets back.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to write.
    pub changes: Changes,
    /// What the caller gets back.
    pub outcome: Outcome,
}

/// Decides `command` issued by `actor` (`None`: the system, for [`Command::Touch`] only).
pub fn decide(
    view: &View,
    actor: Option<&IdentityId>,
    command: &Command,
    ctx: &Context<'_>,
) -> Result<Decision, Fault> {
    let mut w = Work::new(view, ctx);
    let outcome = match (command, actor) {
        (Command::Touch { task }, _) => Outcome::Task(Box::new(w.advance(*task)?)),
        (Command::CollectBlob { hash }, _) => Outcome::BlobCollected {
            removed: w.collect_blob(hash)?,
        },
        (_, None) => return Err(Error::UnknownIdentity.into()),
        (command, Some(actor)) => {
            let outcome = w.run(actor, command)?;
            w.mark_active(actor)?;
            outcome
        }
    };
    Ok(Decision {
        changes: w.finish(),
        outcome,
    })
}

impl Work<'_> {
    fn run(&mut self, actor: &IdentityId, command: &Command) -> Result<Outcome, Fault> {
        Ok(match command {
            Command::Register(profile) => self.register(actor, profile)?,
            Command::UpdateProfile(update) => {
                Outcome::Profile(Box::new(self.update_profile(actor, update)?))
            }
            Command::PostTask(spec) => {
                validate::task_spec(spec, 0)?;
                self.require_party(actor)?;
                Outcome::task(self.post_task(actor, Arc::clone(spec), None)?)
            }
            Command::Claim { task, note } => Outcome::task(self.claim(actor, *task, note)?),
            Command::Extend { task, secs } => Outcome::task(self.extend(actor, *task, *secs)?),
            Command::JoinQueue { task } => Outcome::task(self.join_queue(actor, *task)?),
            Command::LeaveQueue { task } => Outcome::task(self.leave_queue(actor, *task)?),
            Command::Deliver { task, delivery } => {
                Outcome::task(self.deliver(actor, *task, delivery)?)
            }
            Command::Accept { task, rating } => Outcome::task(self.accept(actor, *task, *rating)?),
            Command::Reject {
                task,
                text,
                category,
            } => Outcome::task(self.reject(actor, *task, text, *category)?),
            Command::Cancel { task } => Outcome::task(self.cancel(actor, *task)?),
            Command::Bid {
                task,
                text,
                offered_price,
                turnaround_secs,
            } => Outcome::Bid(self.bid(actor, *task, text, *offered_price, *turnaround_secs)?),
            Command::Award { task, bid } => Outcome::task(self.award(actor, *task, *bid)?),
            Command::Message {
                task,
                text,
                pre_claim,
            } => Outcome::Message(self.message(actor, *task, text, *pre_claim)?),
            Command::CreateRule(spec) => Outcome::Rule(self.create_rule(actor, spec)?),
            Command::DeleteRule { rule } => {
                self.delete_rule(actor, *rule)?;
                Outcome::RuleDeleted { rule: *rule }
            }
            Command::ProposeContract(spec) => {
                Outcome::Contract(self.propose_contract(actor, spec)?)
            }
            Command::AcceptContract { contract } => {
                Outcome::Contract(self.accept_contract(actor, *contract)?)
            }
            Command::CancelContract { contract } => {
                Outcome::Contract(self.cancel_contract(actor, *contract)?)
            }
            Command::CreatePost(spec) => Outcome::Post(Box::new(self.create_post(actor, spec)?)),
            Command::RecordBlob {
                hash,
                size,
                content_type,
            } => Outcome::Blob(self.record_blob(actor, hash, *size, content_type)?),
            Command::Touch { task } => Outcome::task(self.advance(*task)?),
            Command::CollectBlob { hash } => Outcome::BlobCollected {
                removed: self.collect_blob(hash)?,
            },
        })
    }
}
