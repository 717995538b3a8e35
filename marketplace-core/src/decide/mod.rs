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

mod context;
mod identity;
mod lifecycle;
mod timers;
pub(crate) mod validate;
mod work;

use std::sync::Arc;

use crate::command::{Command, Outcome};
use crate::error::Error;
use crate::ids::IdentityId;

pub use context::{Context, Fault};
pub(crate) use work::Work;

pub use crate::view::{Changes, Key, Party, Records, View};

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
