//! Group commit's pieces: its settings, a command submitted to it, the queue and its
//! counters. The lanes and batches themselves, methods of the [`Marketplace`](super::Marketplace),
//! are in `commit`. [`GroupCommit`] says what a batch guarantees.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::command::{Command, Outcome};
use crate::error::Error;
use crate::ids::IdentityId;
use crate::time::Timestamp;

/// Group commit: how commands that arrive while a commit is in flight are decided and
/// written into one transaction and made durable by one commit.
///
/// With [`Marketplace::with_group_commit`](super::Marketplace::with_group_commit), every command goes to a queue that one or more
/// *lanes* take from. A lane takes the first command waiting, begins a transaction, and
/// decides and writes the commands one after the other in arrival order — taking in those
/// that arrive meanwhile, up to [`GroupCommit::max_commands`] or until the batch has been
/// open [`GroupCommit::max_open`] — then commits once and answers each. A command alone
/// commits at once: nothing waits for company.
///
/// The semantics, the same on every store (the conformance suite checks them):
///
/// - a command that fails its rules is refused before it writes anything, and alone: the
///   others of its batch commit;
/// - commands of one batch see each other's effects in order (the store's transaction reads
///   its own writes): a claim after the post of its task works, and of two claims of one
///   task exactly one wins;
/// - an idempotency record commits with its command's effects, in the same transaction; a
///   duplicate later in the same batch replays the first's answer;
/// - each command is answered only after the commit that holds it is durable;
/// - a batch whose commit fails answers every command it would have acknowledged with the
///   store's error, and none of them took effect;
/// - a batch that fails before its commit (a store error while loading or writing, such as
///   a lost race) is rolled back and its commands run again one by one, each with the retries
///   a lone command gets: a command's idempotency key and ids stay the same across them, so
///   nothing is acknowledged twice.
///
/// Reads, the deadline sweep and idempotency reservations ([`Marketplace::reserve`](super::Marketplace::reserve)) run
/// in transactions of their own, as without group commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// The most commands one commit holds (at least 1).
    pub max_commands: usize,
    /// How long a batch keeps taking in commands that arrive while it decides, from the
    /// start of its first, on the marketplace's clock (a manual clock that stands still
    /// leaves only the size bound).
    pub max_open: Duration,
    /// Batches in flight at once, each in its own transaction (at least 1). SQLite has one
    /// writer, so one lane is all it uses; on PostgreSQL several lanes keep several
    /// connections busy.
    pub lanes: usize,
}

impl Default for GroupCommit {
    /// 64 commands, 2 ms, one lane.
    fn default() -> Self {
        Self {
            max_commands: 64,
            max_open: Duration::from_millis(2),
            lanes: 1,
        }
    }
}

/// A lane of group commit: a future the embedder runs on its runtime
/// ([`Marketplace::with_group_commit`](super::Marketplace::with_group_commit)).
pub type Lane = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One command of a batch: who issues it, and its idempotency key if it has one.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Who issues the command (`None`: the system).
    pub actor: Option<IdentityId>,
    /// The command.
    pub command: Command,
    /// Its idempotency key, scoped to `actor`.
    pub key: Option<String>,
}

impl Submission {
    /// `command` issued by `actor`, without an idempotency key.
    pub fn new(actor: &IdentityId, command: Command) -> Self {
        Self {
            actor: Some(actor.clone()),
            command,
            key: None,
        }
    }

    /// The same, executed at most once per `key`.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

/// A command waiting in a lane's queue, with where its answer goes.
pub(super) struct Job {
    pub(super) submission: Submission,
    /// Fixed when the command arrives: its ids are the same on every try.
    pub(super) seed: u64,
    /// `None` for a batch run by [`Marketplace::execute_batch`](super::Marketplace::execute_batch), which answers itself.
    pub(super) answer: Option<flume::Sender<Result<Outcome, Error>>>,
}

/// The queue the lanes take from (held by every clone of a marketplace with group commit).
pub(super) struct Batcher {
    pub(super) jobs: flume::Sender<Job>,
    pub(super) stats: Arc<Counters>,
}

/// What the lanes have committed, counted as they go.
#[derive(Debug, Default)]
pub(super) struct Counters {
    batches: AtomicU64,
    commands: AtomicU64,
    largest: AtomicU64,
}

impl Counters {
    /// Counts a batch of `commands` committed.
    pub(super) fn committed(&self, commands: usize) {
        let commands = u64::try_from(commands).unwrap_or(u64::MAX);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.commands.fetch_add(commands, Ordering::Relaxed);
        self.largest.fetch_max(commands, Ordering::Relaxed);
    }
}

/// What group commit has done since the marketplace was made
/// ([`Marketplace::group_commit_stats`](super::Marketplace::group_commit_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Batches committed.
    pub batches: u64,
    /// Commands in them (refused ones included: each was decided in its batch).
    pub commands: u64,
    /// The most commands one batch held.
    pub largest: u64,
    /// Commands waiting for a lane now.
    pub queued: u64,
}

impl Batcher {
    /// What the lanes have done so far, and the commands waiting.
    pub(super) fn stats(&self) -> GroupCommitStats {
        let count = &self.stats;
        GroupCommitStats {
            batches: count.batches.load(Ordering::Relaxed),
            commands: count.commands.load(Ordering::Relaxed),
            largest: count.largest.load(Ordering::Relaxed),
            queued: u64::try_from(self.jobs.len()).unwrap_or(u64::MAX),
        }
    }
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("queued", &self.jobs.len())
            .finish()
    }
}

/// The next command for a batch that holds `taken` and opened at `opened`, if one is
/// waiting and the batch is within its bounds.
pub(super) fn take_in(
    queue: &flume::Receiver<Job>,
    bounds: &GroupCommit,
    taken: usize,
    opened: Timestamp,
    now: Timestamp,
) -> Option<Job> {
    let open_for = (now - opened).to_std().unwrap_or_default();
    if taken >= bounds.max_commands || open_for >= bounds.max_open {
        return None;
    }
    queue.try_recv().ok()
}
