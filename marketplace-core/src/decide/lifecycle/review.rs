//! Delivery and review: deliver, accept (settlement and reputation), reject.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::decide::{Fault, Work, validate};
use crate::error::Error;
use crate::ids::{IdentityId, TaskId};
use crate::limits::*;
use crate::model::{
    AccountRef, Delivery, DeliveryInput, EventData, EventKind, Followup, Payout, RejectCategory,
    Rejection, Task, TaskStatus, TxType,
};
use crate::money::fee;
use crate::time::secs;

type Result<T = ()> = std::result::Result<T, Fault>;

impl Work<'_> {
    // ---- delivery and review ----
    pub(crate) fn deliver(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        input: &DeliveryInput,
    ) -> Result<Task> {
        validate::delivery(input)?;
        let mut task = self.claimed_by(actor, id)?;
        if let Some(hash) = &input.meta.artifact_hash {
            let blob = self.blob_opt(hash)?.ok_or(Error::ArtifactNotFound)?;
            self.reference_blob(&blob);
        }
        if let Some(schema) = &task.spec.result_schema {
            check_schema(schema, input)?;
        }
        let claimed_at = task.claim.as_ref().map_or(self.now, |c| c.claimed_at);
        let late = task
            .spec
            .max_turnaround_secs
            .is_some_and(|m| self.now > claimed_at + secs(m));
        task.delivery = Some(Arc::new(Delivery {
            agent: actor.clone(),
            text: input.text.clone(),
            meta: input.meta.clone(),
            delivered_at: self.now,
            late,
            review_deadline: self.now + secs(self.policy.review_ttl_secs),
        }));
        task.status = TaskStatus::Delivered;
        let rep = self
            .update_rep(actor, |r| {
                r.delivered += 1;
                r.open_claims = r.open_claims.saturating_sub(1);
            })?
            .clone();
        self.event(
            EventKind::TaskDelivered,
            Some(id),
            Some(actor),
            EventData::Delivered { late },
        );
        let spec = &task.spec;
        let auto = !spec.require_review
            && (spec.auto_accept
                || self.policy.passes_gate(
                    &rep,
                    spec.min_auto_accept_accepted,
                    spec.min_auto_accept_rate,
                ));
        if auto {
            self.settle(task, None)?;
        } else {
            self.put_task(task);
        }
        self.task(id)
    }

    pub(crate) fn accept(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        rating: Option<u8>,
    ) -> Result<Task> {
        if rating.is_some_and(|r| !(1..=5).contains(&r)) {
            return Err(Error::invalid("rating", "must be 1-5").into());
        }
        let task = self.poster_task(actor, id)?;
        if task.status != TaskStatus::Delivered {
            return Err(Error::WrongState {
                status: task.status,
            }
            .into());
        }
        self.settle(task, rating)?;
        self.task(id)
    }

    /// The task if `actor` posted it.
    pub(super) fn poster_task(&mut self, actor: &IdentityId, id: TaskId) -> Result<Task> {
        self.require_party(actor)?;
        let task = self.advance(id)?;
        if &task.poster != actor {
            return Err(Error::NotPoster.into());
        }
        Ok(task)
    }

    /// Pays a delivered task: the poster's hold is released, the deliverer gets the bounty
    /// minus the fee, the treasury the fee. Then follow-ups are posted.
    pub(crate) fn settle(&mut self, mut task: Task, rating: Option<u8>) -> Result {
        let delivery = task.delivery.clone().ok_or(Error::WrongState {
            status: task.status,
        })?;
        let agent = delivery.agent.clone();
        let bounty = task.bounty;
        let cut = fee(bounty, self.policy.fee_rate);
        let net = bounty - cut;

        let mut poster = self.account(&task.poster)?;
        poster.balance -= bounty;
        poster.escrowed -= bounty;
        self.put_account(poster);
        let mut deliverer = self.account(&agent)?;
        deliverer.balance += net;
        self.put_account(deliverer);
        let tid = Some(task.id);
        self.ledger(
            AccountRef::Identity(task.poster.clone()),
            TxType::Release,
            -bounty,
            -bounty,
            Decimal::ZERO,
            tid,
            "bounty paid",
        );
        self.ledger(
            AccountRef::Identity(agent.clone()),
            TxType::Release,
            net,
            Decimal::ZERO,
            cut,
            tid,
            "bounty earned",
        );
        self.ledger(
            AccountRef::Treasury,
            TxType::Fee,
            cut,
            Decimal::ZERO,
            Decimal::ZERO,
            tid,
            "platform fee",
        );

        self.update_rep(&agent, |r| {
            r.accepted += 1;
            if let Some(stars) = rating {
                r.rating_sum += u64::from(stars);
                r.rating_count += 1;
            }
        })?;
        self.recalc_credit(&agent)?;

        task.status = TaskStatus::Completed;
        task.rating = rating;
        task.payout = Some(Payout {
            agent: agent.clone(),
            amount: net,
            fee: cut,
            at: self.now,
        });
        task.closed_at = Some(self.now);
        task.queue.clear();
        self.event(
            EventKind::TaskAccepted,
            tid,
            Some(&agent),
            EventData::Settled {
                amount: net,
                fee: cut,
            },
        );
        self.put_task(task.clone());

        if let Some(next) = &task.spec.chain_next {
            let mut next = (**next).clone();
            next.text = next.text.replace("{{result}}", &delivery.text);
            next.title = next.title.map(|t| t.replace("{{result}}", &delivery.text));
            self.repost(&task, next, Followup::ChainNext)?;
        }
        if task.spec.recurring {
            self.repost(&task, (*task.spec).clone(), Followup::Recurring)?;
        }
        Ok(())
    }

    pub(crate) fn reject(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        text: &str,
        category: RejectCategory,
    ) -> Result<Task> {
        validate::text("text", text, MESSAGE_BYTES_MAX, false)?;
        let mut task = self.poster_task(actor, id)?;
        if task.status != TaskStatus::Delivered {
            return Err(Error::WrongState {
                status: task.status,
            }
            .into());
        }
        let delivery = task.delivery.take().ok_or(Error::WrongState {
            status: task.status,
        })?;
        let agent = delivery.agent.clone();
        self.update_rep(&agent, |r| {
            r.rejected += 1;
            if delivery.late {
                r.late_rejections += 1;
            }
        })?;
        self.recalc_credit(&agent)?;
        if task.rejections.len() >= REJECTIONS_KEPT_MAX {
            task.rejections.remove(0);
        }
        task.rejections.push(Rejection {
            agent: agent.clone(),
            text: text.to_owned(),
            category,
            at: self.now,
        });
        task.rejection_count += 1;
        self.event(
            EventKind::TaskRejected,
            Some(id),
            Some(&agent),
            EventData::Rejected {
                category,
                text: text.to_owned(),
            },
        );
        self.hand_on(task)?;
        self.task(id)
    }
}

/// Checks the delivery against the task's schema: `meta.output` if given, else the text
/// parsed as JSON.
fn check_schema(
    schema: &serde_json::Value,
    input: &DeliveryInput,
) -> std::result::Result<(), Error> {
    let validator = jsonschema::validator_for(schema).map_err(|e| Error::ResultSchemaMismatch {
        reason: format!("schema unusable: {e}"),
    })?;
    let parsed;
    let instance = match &input.meta.output {
        Some(output) => output,
        None => {
            parsed = serde_json::from_str::<serde_json::Value>(&input.text).map_err(|_| {
                Error::ResultSchemaMismatch {
                    reason: "the task expects JSON output".to_owned(),
                }
            })?;
            &parsed
        }
    };
    validator
        .validate(instance)
        .map_err(|e| Error::ResultSchemaMismatch {
            reason: e.to_string(),
        })
}
