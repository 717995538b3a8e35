//! Posting a task, and the escrow it holds (money held and released as a task changes).

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::decide::{Fault, Work, validate};
use crate::error::Error;
use crate::ids::{IdentityId, TaskId};
use crate::model::{
    AccountRef, ClaimVia, ContractStatus, EventData, EventKind, Followup, Task, TaskSpec,
    TaskStatus, TxType,
};
use crate::time::secs;

type Result<T = ()> = std::result::Result<T, Fault>;

impl Work<'_> {
    // ---- money ----
    /// Changes how much of `poster`'s credits `task` holds by `delta`: holding more is
    /// refused unless the poster can spend it; releasing always succeeds.
    pub(super) fn change_hold(
        &mut self,
        poster: &IdentityId,
        task: TaskId,
        delta: Decimal,
        tx: TxType,
        memo: &'static str,
    ) -> Result {
        let mut account = self.account(poster)?;
        let available = self.policy.spendable(&account, self.now);
        if delta > available && delta > Decimal::ZERO {
            return Err(Error::InsufficientFunds {
                needed: delta,
                available,
            }
            .into());
        }
        account.escrowed += delta;
        self.put_account(account);
        let line = AccountRef::Identity(poster.clone());
        self.ledger(
            line,
            tx,
            Decimal::ZERO,
            delta,
            Decimal::ZERO,
            Some(task),
            memo,
        );
        Ok(())
    }

    // ---- posting ----
    /// Posts `spec` for `poster` (already validated). All refusals come before the first
    /// write, so a refused chained or recurring repost leaves the working set untouched.
    pub(crate) fn post_task(
        &mut self,
        poster: &IdentityId,
        mut spec: Arc<TaskSpec>,
        parent: Option<TaskId>,
    ) -> Result<Task> {
        let account = self.account(poster)?;
        let mut contract = None;
        if let Some(cid) = spec.contract {
            let c = self.contract_opt(cid)?.ok_or(Error::ContractNotFound)?;
            if &c.poster != poster {
                return Err(Error::NotContractParty.into());
            }
            if c.status != ContractStatus::Active {
                return Err(Error::ContractState.into());
            }
            // The agreed price is the bounty, and the contractor is the assignee.
            let spec = Arc::make_mut(&mut spec);
            spec.bounty = c.price_per_task;
            spec.assign_to = Some(c.agent.clone());
            contract = Some(c);
        }
        if let Some(assignee) = &spec.assign_to {
            if assignee == poster {
                return Err(Error::OwnTask.into());
            }
            if !self.is_party(assignee)? {
                return Err(Error::invalid("assign_to", "no such identity").into());
            }
        }
        for dep in &spec.depends_on {
            if self.task_ref_opt(*dep)?.is_none() {
                return Err(Error::DependencyNotFound.into());
            }
        }
        let available = self.policy.spendable(&account, self.now);
        if available < spec.bounty {
            return Err(Error::InsufficientFunds {
                needed: spec.bounty,
                available,
            }
            .into());
        }

        // From here on nothing is refused.
        let id = TaskId(self.new_uuid());
        let lifetime = spec
            .expires_in_secs
            .unwrap_or(self.policy.task_lifetime_default_secs);
        let mut task = Task {
            id,
            poster: poster.clone(),
            bounty: spec.bounty,
            status: TaskStatus::Open,
            created_at: self.now,
            expires_at: self.now + secs(lifetime),
            claim: None,
            queue: Vec::new(),
            bids: Vec::new(),
            delivery: None,
            rejections: Vec::new(),
            rejection_count: 0,
            escalation_steps: 0,
            escalation_stopped: false,
            payout: None,
            rating: None,
            message_count: 0,
            parent,
            closed_at: None,
            updated_at: self.now,
            spec,
        };
        self.change_hold(poster, id, task.bounty, TxType::Escrow, "bounty held")?;
        self.update_rep(poster, |r| r.total += 1)?;
        self.event(
            EventKind::TaskPosted,
            Some(id),
            Some(poster),
            EventData::Bounty {
                bounty: task.bounty,
            },
        );
        match contract {
            Some(mut c) => {
                c.tasks_used += 1;
                if c.tasks_used >= c.max_tasks {
                    c.status = ContractStatus::Fulfilled;
                }
                let agent = c.agent.clone();
                let (contract_id, status) = (c.id, c.status);
                self.put_contract(c);
                self.event(
                    EventKind::ContractUpdated,
                    Some(id),
                    Some(&agent),
                    EventData::Contract {
                        contract: contract_id,
                        status,
                    },
                );
                let ttl = task.claim_ttl_secs(self.policy.claim_ttl_default_secs);
                self.grant_claim(&mut task, &agent, None, ttl, ClaimVia::Contract)?;
                self.put_task(task);
            }
            None => {
                self.put_task(task);
                self.broker(id)?;
            }
        }
        self.task(id)
    }

    /// Posts a task's follow-up (chain or recurrence) for the same poster. A refusal (the
    /// poster cannot cover it, the text grew too long, ...) skips it with an event.
    pub(super) fn repost(&mut self, parent: &Task, spec: TaskSpec, followup: Followup) -> Result {
        let outcome = match validate::task_spec(&spec, 0) {
            Ok(()) => self.post_task(&parent.poster, spec.into(), Some(parent.id)),
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok(_) => Ok(()),
            Err(Fault::Rejected(e)) => {
                self.event(
                    EventKind::RepostSkipped,
                    Some(parent.id),
                    Some(&parent.poster),
                    EventData::Skipped {
                        followup,
                        error: e.code().into(),
                    },
                );
                Ok(())
            }
            Err(needs) => Err(needs),
        }
    }
}
