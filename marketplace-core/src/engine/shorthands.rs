//! Typed shorthands: one method per command, returning what that command produces.

use rust_decimal::Decimal;

use crate::command::{Command, Outcome};
use crate::error::Error;
use crate::ids::{BidId, ContractId, IdentityId, RuleId, TaskId};
use crate::model::{
    Account, AutoClaimRule, Bid, Blob, BoardPost, Contract, ContractSpec, DeliveryInput, Message,
    PostSpec, Profile, ProfileUpdate, RejectCategory, RuleSpec, Task, TaskSpec,
};
use crate::store::Store;

use super::market::Marketplace;
use crate::command::IntoValue;

impl<S: Store> Marketplace<S> {
    pub(super) async fn task_outcome(
        &self,
        actor: &IdentityId,
        command: Command,
    ) -> Result<Task, Error> {
        // `run`, not `execute`: one future less between the caller and the store, and the
        // command kept in one place (each nested future holds its own arguments).
        self.run(Some(actor), &command, None, None)
            .await?
            .into_value()
    }

    /// Registers `actor` with a profile; returns its account (with the signup grant).
    pub async fn register(
        &self,
        actor: &IdentityId,
        profile: ProfileUpdate,
    ) -> Result<(Account, Profile), Error> {
        self.execute(actor, Command::Register(profile))
            .await?
            .into_value()
    }

    /// Changes `actor`'s profile.
    pub async fn update_profile(
        &self,
        actor: &IdentityId,
        update: ProfileUpdate,
    ) -> Result<Profile, Error> {
        self.execute(actor, Command::UpdateProfile(update))
            .await?
            .into_value()
    }

    /// Posts a task, escrowing its bounty.
    pub async fn post_task(&self, actor: &IdentityId, spec: TaskSpec) -> Result<Task, Error> {
        self.task_outcome(actor, Command::PostTask(spec.into()))
            .await
    }

    /// Claims a task.
    pub async fn claim(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.claim_with_note(actor, task, None).await
    }

    /// Claims a task with a note to its poster ("On it").
    pub async fn claim_with_note(
        &self,
        actor: &IdentityId,
        task: TaskId,
        note: Option<String>,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Claim { task, note })
            .await
    }

    /// Renews `actor`'s claim for `secs` (default: the task's claim TTL) from now.
    pub async fn extend(
        &self,
        actor: &IdentityId,
        task: TaskId,
        secs: Option<u64>,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Extend { task, secs })
            .await
    }

    /// Joins a claimed task's waitlist.
    pub async fn join_queue(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::JoinQueue { task }).await
    }

    /// Leaves a waitlist.
    pub async fn leave_queue(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::LeaveQueue { task }).await
    }

    /// Delivers the result of `actor`'s claim.
    pub async fn deliver(
        &self,
        actor: &IdentityId,
        task: TaskId,
        delivery: DeliveryInput,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Deliver { task, delivery })
            .await
    }

    /// Accepts a delivery and settles.
    pub async fn accept(
        &self,
        actor: &IdentityId,
        task: TaskId,
        rating: Option<u8>,
    ) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Accept { task, rating })
            .await
    }

    /// Rejects a delivery with feedback.
    pub async fn reject(
        &self,
        actor: &IdentityId,
        task: TaskId,
        text: impl Into<String>,
        category: RejectCategory,
    ) -> Result<Task, Error> {
        self.task_outcome(
            actor,
            Command::Reject {
                task,
                text: text.into(),
                category,
            },
        )
        .await
    }

    /// Cancels an open or claimed task and refunds it.
    pub async fn cancel(&self, actor: &IdentityId, task: TaskId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Cancel { task }).await
    }

    /// Bids on a bidding task.
    pub async fn bid(
        &self,
        actor: &IdentityId,
        task: TaskId,
        text: impl Into<String>,
        offered_price: Decimal,
        turnaround_secs: Option<u64>,
    ) -> Result<Bid, Error> {
        let command = Command::Bid {
            task,
            text: text.into(),
            offered_price,
            turnaround_secs,
        };
        self.execute(actor, command).await?.into_value()
    }

    /// Awards a bid.
    pub async fn award(&self, actor: &IdentityId, task: TaskId, bid: BidId) -> Result<Task, Error> {
        self.task_outcome(actor, Command::Award { task, bid }).await
    }

    /// Posts a task-scoped message.
    pub async fn message(
        &self,
        actor: &IdentityId,
        task: TaskId,
        text: impl Into<String>,
        pre_claim: bool,
    ) -> Result<Message, Error> {
        let command = Command::Message {
            task,
            text: text.into(),
            pre_claim,
        };
        self.execute(actor, command).await?.into_value()
    }

    /// Creates a broker auto-claim rule.
    pub async fn create_rule(
        &self,
        actor: &IdentityId,
        spec: RuleSpec,
    ) -> Result<AutoClaimRule, Error> {
        self.execute(actor, Command::CreateRule(spec))
            .await?
            .into_value()
    }

    /// Deletes one of `actor`'s rules.
    pub async fn delete_rule(&self, actor: &IdentityId, rule: RuleId) -> Result<(), Error> {
        self.execute(actor, Command::DeleteRule { rule })
            .await
            .map(drop)
    }

    pub(super) async fn contract_outcome(
        &self,
        actor: &IdentityId,
        command: Command,
    ) -> Result<Contract, Error> {
        self.execute(actor, command).await?.into_value()
    }

    /// Proposes a standing contract.
    pub async fn propose_contract(
        &self,
        actor: &IdentityId,
        spec: ContractSpec,
    ) -> Result<Contract, Error> {
        self.contract_outcome(actor, Command::ProposeContract(spec))
            .await
    }

    /// Accepts a contract proposed to `actor`.
    pub async fn accept_contract(
        &self,
        actor: &IdentityId,
        contract: ContractId,
    ) -> Result<Contract, Error> {
        self.contract_outcome(actor, Command::AcceptContract { contract })
            .await
    }

    /// Cancels a contract.
    pub async fn cancel_contract(
        &self,
        actor: &IdentityId,
        contract: ContractId,
    ) -> Result<Contract, Error> {
        self.contract_outcome(actor, Command::CancelContract { contract })
            .await
    }

    /// Publishes a board post.
    pub async fn create_post(
        &self,
        actor: &IdentityId,
        spec: PostSpec,
    ) -> Result<BoardPost, Error> {
        self.execute(actor, Command::CreatePost(spec))
            .await?
            .into_value()
    }

    /// Records an uploaded artifact.
    pub async fn record_blob(
        &self,
        actor: &IdentityId,
        hash: impl Into<String>,
        size: u64,
        content_type: impl Into<String>,
    ) -> Result<Blob, Error> {
        let command = Command::RecordBlob {
            hash: hash.into(),
            size,
            content_type: content_type.into(),
        };
        self.execute(actor, command).await?.into_value()
    }

    /// [`Command::CollectBlob`] now: whether the bytes of `hash` may be deleted (no record
    /// names them any more). A blob store calls it for a file older than
    /// [`Policy::blob_grace_secs`](crate::Policy::blob_grace_secs) before deleting it.
    pub async fn collect_blob(&self, hash: &str) -> Result<bool, Error> {
        let command = Command::CollectBlob {
            hash: hash.to_owned(),
        };
        match self.run(None, &command, None, None).await? {
            Outcome::BlobCollected { removed } => Ok(removed),
            other => Err(crate::command::unexpected(&other)),
        }
    }

    /// Applies the task's passed deadlines now, and returns it.
    pub async fn touch(&self, task: TaskId) -> Result<Task, Error> {
        self.run(None, &Command::Touch { task }, None, None)
            .await?
            .into_value()
    }
}
