//! Loading what a command reads: its surely-touched records first, in lock order, then
//! each record `decide` asks for; and how a decided command ends its transaction.

use crate::command::{Command, Outcome};
use crate::decide::{Key, View};
use crate::ids::IdentityId;
use crate::store::{StoreError, TaskParties, Transaction};
use crate::time::Timestamp;

/// How many times a command is retried after a [`StoreError::Conflict`].
pub(super) const CONFLICT_RETRIES_MAX: usize = 8;
/// How many extra records one command may load before it is refused as runaway.
pub(super) const LOADS_PER_COMMAND_MAX: usize = 256;

/// How a decided command ends its transaction.
pub(super) enum Step {
    /// Changes were written: commit.
    Commit(Outcome),
    /// An idempotent replay: nothing was written.
    Replay(Outcome),
}

/// Loads the records a command surely touches, in a fixed order: its task first, then the
/// identities involved sorted by id, so concurrent transactions lock accounts in one order.
pub(super) async fn prefetch(
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
pub(super) async fn load(
    tx: &mut impl Transaction,
    view: &mut View,
    key: Key,
) -> Result<(), StoreError> {
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
