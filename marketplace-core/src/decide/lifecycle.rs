//! Task rules: post, claim, extend, queue, deliver, accept, reject, cancel, bid, award,
//! message, settlement, promotion and the broker.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::{Fault, Work, validate};
use crate::error::Error;
use crate::ids::{BidId, IdentityId, MessageId, TaskId};
use crate::limits::*;
use crate::model::{
    AccountRef, Bid, Claim, ClaimVia, ContractStatus, Delivery, DeliveryInput, EventData,
    EventKind, Followup, Message, Payout, QueueEntry, RejectCategory, Rejection, Task, TaskSpec,
    TaskStatus, TxType,
};
use crate::money::{fee, validate_amount};
use crate::time::secs;

type Result<T = ()> = std::result::Result<T, Fault>;

impl Work<'_> {
    // ---- money ----

    /// Changes how much of `poster`'s credits `task` holds by `delta`: holding more is
    /// refused unless the poster can spend it; releasing always succeeds.
    fn change_hold(
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
    fn repost(&mut self, parent: &Task, spec: TaskSpec, followup: Followup) -> Result {
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

    // ---- claims ----

    /// Gives `agent` a fresh claim on `task` for `ttl_secs`.
    fn grant_claim(
        &mut self,
        task: &mut Task,
        agent: &IdentityId,
        note: Option<String>,
        ttl_secs: u64,
        via: ClaimVia,
    ) -> Result {
        task.status = TaskStatus::Claimed;
        task.claim = Some(Claim {
            agent: agent.clone(),
            claimed_at: self.now,
            expires_at: self.now + secs(ttl_secs),
            note,
        });
        task.escalation_stopped = true;
        self.update_rep(agent, |r| {
            r.claims += 1;
            r.open_claims += 1;
        })?;
        self.event(
            EventKind::TaskClaimed,
            Some(task.id),
            Some(agent),
            EventData::Claim { via },
        );
        Ok(())
    }

    /// Releases `agent`'s live-claim count.
    fn end_claim(&mut self, agent: &IdentityId) -> Result {
        self.update_rep(agent, |r| r.open_claims = r.open_claims.saturating_sub(1))
            .map(drop)
    }

    /// Whether every dependency of `task` is completed (applying their due deadlines first).
    fn dependencies_done(&mut self, task: &Task) -> Result<bool> {
        for dep in &task.spec.depends_on {
            if self.advance(*dep)?.status != TaskStatus::Completed {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Refuses `agent` if its reputation is below the task's minimum.
    fn check_min_reputation(&self, task: &Task, agent: &IdentityId) -> Result {
        if let Some(required) = task.spec.min_reputation {
            let score = self.rep(agent)?.score(self.now);
            if score < required {
                return Err(Error::ReputationTooLow { score, required }.into());
            }
        }
        Ok(())
    }

    /// The checks every would-be taker passes: not the poster, the assignee if any.
    fn check_taker(task: &Task, agent: &IdentityId) -> Result {
        if &task.poster == agent {
            return Err(Error::OwnTask.into());
        }
        if task.spec.assign_to.as_ref().is_some_and(|a| a != agent) {
            return Err(Error::NotAssignee.into());
        }
        Ok(())
    }

    pub(crate) fn claim(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        note: &Option<String>,
    ) -> Result<Task> {
        if let Some(note) = note {
            validate::text("text", note, MESSAGE_BYTES_MAX, false)?;
        }
        self.require_party(actor)?;
        let mut task = self.advance(id)?;
        Self::check_taker(&task, actor)?;
        if task.spec.bidding {
            return Err(Error::BiddingOnly.into());
        }
        match task.status {
            TaskStatus::Open => {}
            TaskStatus::Claimed if task.claimant() == Some(actor) => {
                return Err(Error::AlreadyClaimant.into());
            }
            TaskStatus::Claimed => return Err(Error::AlreadyClaimed.into()),
            status => return Err(Error::WrongState { status }.into()),
        }
        if !self.dependencies_done(&task)? {
            return Err(Error::DependenciesIncomplete.into());
        }
        self.check_min_reputation(&task, actor)?;
        if self.rep(actor)?.open_claims >= self.policy.open_claims_max {
            return Err(Error::TooManyClaims.into());
        }
        let ttl = task.claim_ttl_secs(self.policy.claim_ttl_default_secs);
        self.grant_claim(&mut task, actor, note.clone(), ttl, ClaimVia::Claim)?;
        self.put_task(task.clone());
        Ok(task)
    }

    /// The task if `actor` holds its live claim.
    fn claimed_by(&mut self, actor: &IdentityId, id: TaskId) -> Result<Task> {
        self.require_party(actor)?;
        let task = self.advance(id)?;
        match task.claimant() {
            Some(agent) if agent == actor => Ok(task),
            Some(_) => Err(Error::NotClaimant.into()),
            None => Err(Error::WrongState {
                status: task.status,
            }
            .into()),
        }
    }

    pub(crate) fn extend(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        requested: Option<u64>,
    ) -> Result<Task> {
        if let Some(s) = requested
            && !(CLAIM_TTL_SECS_MIN..=CLAIM_TTL_SECS_MAX).contains(&s)
        {
            let reason =
                format!("must be between {CLAIM_TTL_SECS_MIN} and {CLAIM_TTL_SECS_MAX} seconds");
            return Err(Error::invalid("secs", reason).into());
        }
        let mut task = self.claimed_by(actor, id)?;
        let ttl =
            requested.unwrap_or_else(|| task.claim_ttl_secs(self.policy.claim_ttl_default_secs));
        let max_turnaround = task.spec.max_turnaround_secs;
        let claim = task.claim.as_mut().ok_or(Error::WrongState {
            status: task.status,
        })?;
        let mut until = self.now + secs(ttl);
        if let Some(max) = max_turnaround {
            until = until.min(claim.claimed_at + secs(max));
        }
        if until <= claim.expires_at {
            return Err(Error::LimitReached {
                what: "max_turnaround_s",
            }
            .into());
        }
        claim.expires_at = until;
        self.event(
            EventKind::ClaimExtended,
            Some(id),
            Some(actor),
            EventData::Extended { expires_at: until },
        );
        self.put_task(task.clone());
        Ok(task)
    }

    // ---- queue ----

    pub(crate) fn join_queue(&mut self, actor: &IdentityId, id: TaskId) -> Result<Task> {
        self.require_party(actor)?;
        let mut task = self.advance(id)?;
        Self::check_taker(&task, actor)?;
        if task.spec.bidding {
            return Err(Error::BiddingOnly.into());
        }
        match task.status {
            TaskStatus::Claimed | TaskStatus::Delivered => {}
            status => return Err(Error::WrongState { status }.into()),
        }
        if task.claim.as_ref().is_some_and(|c| &c.agent == actor) {
            return Err(Error::AlreadyClaimant.into());
        }
        if task.is_queued(actor) {
            return Err(Error::AlreadyQueued.into());
        }
        if task.queue.len() >= self.policy.queue_max {
            return Err(Error::QueueFull.into());
        }
        self.check_min_reputation(&task, actor)?;
        task.queue.push(QueueEntry {
            agent: actor.clone(),
            joined_at: self.now,
        });
        self.event(
            EventKind::QueueJoined,
            Some(id),
            Some(actor),
            EventData::Queue {
                position: task.queue.len() as u32,
            },
        );
        self.put_task(task.clone());
        Ok(task)
    }

    pub(crate) fn leave_queue(&mut self, actor: &IdentityId, id: TaskId) -> Result<Task> {
        self.require_party(actor)?;
        let mut task = self.advance(id)?;
        let before = task.queue.len();
        task.queue.retain(|e| &e.agent != actor);
        if task.queue.len() == before {
            return Err(Error::NotQueued.into());
        }
        self.event(EventKind::QueueLeft, Some(id), Some(actor), EventData::None);
        self.put_task(task.clone());
        Ok(task)
    }

    /// After a claim ends without payment: the queue's head takes over with a fresh claim, or
    /// the task reopens (and the broker may claim it).
    pub(crate) fn hand_on(&mut self, mut task: Task) -> Result {
        task.claim = None;
        if task.queue.is_empty() {
            task.status = TaskStatus::Open;
            let id = task.id;
            self.event(EventKind::TaskReopened, Some(id), None, EventData::None);
            self.put_task(task);
            return self.broker(id);
        }
        let head = task.queue.remove(0);
        let ttl = task.claim_ttl_secs(self.policy.claim_ttl_default_secs);
        self.grant_claim(&mut task, &head.agent, None, ttl, ClaimVia::Queue)?;
        self.event(
            EventKind::QueuePromoted,
            Some(task.id),
            Some(&head.agent),
            EventData::None,
        );
        self.put_task(task);
        Ok(())
    }

    /// A claim ran out undelivered: a ghost for the claimant, then hand on.
    pub(crate) fn expire_claim(&mut self, task: Task) -> Result {
        let claimant = task
            .claim
            .as_ref()
            .map(|c| c.agent.clone())
            .ok_or(Error::WrongState {
                status: task.status,
            })?;
        self.update_rep(&claimant, |r| {
            r.ghosts += 1;
            r.open_claims = r.open_claims.saturating_sub(1);
        })?;
        self.event(
            EventKind::ClaimExpired,
            Some(task.id),
            Some(&claimant),
            EventData::None,
        );
        self.hand_on(task)
    }

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
    fn poster_task(&mut self, actor: &IdentityId, id: TaskId) -> Result<Task> {
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

    // ---- ending ----

    pub(crate) fn cancel(&mut self, actor: &IdentityId, id: TaskId) -> Result<Task> {
        let mut task = self.poster_task(actor, id)?;
        if !matches!(task.status, TaskStatus::Open | TaskStatus::Claimed) {
            return Err(Error::WrongState {
                status: task.status,
            }
            .into());
        }
        if let Some(claimant) = task.claimant().cloned() {
            self.end_claim(&claimant)?;
        }
        self.close(
            &mut task,
            TaskStatus::Cancelled,
            EventKind::TaskCancelled,
            "bounty refunded: cancelled",
        )?;
        self.put_task(task.clone());
        Ok(task)
    }

    /// Lifetime over while open: refund.
    pub(crate) fn expire(&mut self, mut task: Task) -> Result {
        self.close(
            &mut task,
            TaskStatus::Expired,
            EventKind::TaskExpired,
            "bounty refunded: expired",
        )?;
        self.put_task(task);
        Ok(())
    }

    fn close(
        &mut self,
        task: &mut Task,
        status: TaskStatus,
        kind: EventKind,
        memo: &'static str,
    ) -> Result {
        self.change_hold(
            &task.poster.clone(),
            task.id,
            -task.bounty,
            TxType::Refund,
            memo,
        )?;
        task.status = status;
        task.claim = None;
        task.queue.clear();
        task.bids.clear();
        task.closed_at = Some(self.now);
        self.event(
            kind,
            Some(task.id),
            Some(&task.poster),
            EventData::Refunded {
                refund: task.bounty,
            },
        );
        Ok(())
    }

    /// One escalation step: `rate` more, up to the cap, if the poster can cover it.
    pub(crate) fn escalate(&mut self, mut task: Task) -> Result {
        let Some(esc) = task.spec.bounty_escalation.clone() else {
            task.escalation_stopped = true;
            self.put_task(task);
            return Ok(());
        };
        task.escalation_steps += 1;
        let step = esc.rate.min(esc.cap - task.bounty);
        if step <= Decimal::ZERO {
            task.escalation_stopped = true;
        } else {
            match self.change_hold(
                &task.poster.clone(),
                task.id,
                step,
                TxType::Adjust,
                "bounty escalated",
            ) {
                Ok(()) => {
                    task.bounty += step;
                    self.event(
                        EventKind::BountyEscalated,
                        Some(task.id),
                        None,
                        EventData::Bounty {
                            bounty: task.bounty,
                        },
                    );
                }
                // The poster cannot cover the step: escalation ends, the task stays as it is.
                Err(Fault::Rejected(_)) => task.escalation_stopped = true,
                Err(needs) => return Err(needs),
            }
        }
        self.put_task(task);
        Ok(())
    }

    // ---- bidding ----

    pub(crate) fn bid(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        text: &str,
        price: Decimal,
        turnaround: Option<u64>,
    ) -> Result<Bid> {
        validate::text("text", text, TEXT_BYTES_MAX, false)?;
        let price = validate_amount("offered_price", price)?;
        if turnaround.is_some_and(|t| !(TURNAROUND_SECS_MIN..=TURNAROUND_SECS_MAX).contains(&t)) {
            return Err(
                Error::invalid("turnaround_s", "must be between 1 and 31536000 seconds").into(),
            );
        }
        self.require_party(actor)?;
        let mut task = self.advance(id)?;
        Self::check_taker(&task, actor)?;
        if !task.spec.bidding {
            return Err(Error::NotBidding.into());
        }
        if task.status != TaskStatus::Open {
            return Err(Error::WrongState {
                status: task.status,
            }
            .into());
        }
        task.bids.retain(|b| &b.agent != actor);
        if task.bids.len() >= BIDS_PER_TASK_MAX {
            return Err(Error::LimitReached { what: "bids" }.into());
        }
        self.check_min_reputation(&task, actor)?;
        let bid = Bid {
            id: BidId(self.new_uuid()),
            agent: actor.clone(),
            text: text.to_owned(),
            offered_price: price,
            turnaround_secs: turnaround,
            created_at: self.now,
        };
        task.bids.push(bid.clone());
        self.event(
            EventKind::BidReceived,
            Some(id),
            Some(actor),
            EventData::Bid {
                bid: bid.id,
                offered_price: price,
            },
        );
        self.put_task(task);
        Ok(bid)
    }

    pub(crate) fn award(&mut self, actor: &IdentityId, id: TaskId, bid_id: BidId) -> Result<Task> {
        let mut task = self.poster_task(actor, id)?;
        if task.status != TaskStatus::Open {
            return Err(Error::WrongState {
                status: task.status,
            }
            .into());
        }
        let bid = task
            .bids
            .iter()
            .find(|b| b.id == bid_id)
            .cloned()
            .ok_or(Error::BidNotFound)?;
        if !self.dependencies_done(&task)? {
            return Err(Error::DependenciesIncomplete.into());
        }
        let delta = bid.offered_price - task.bounty;
        self.change_hold(
            actor,
            id,
            delta,
            TxType::Adjust,
            "bounty set to awarded bid",
        )?;
        task.bounty = bid.offered_price;
        task.bids.clear();
        let ttl = bid
            .turnaround_secs
            .unwrap_or_else(|| task.claim_ttl_secs(self.policy.claim_ttl_default_secs));
        self.grant_claim(&mut task, &bid.agent, None, ttl, ClaimVia::Award)?;
        self.put_task(task.clone());
        Ok(task)
    }

    // ---- messages ----

    pub(crate) fn message(
        &mut self,
        actor: &IdentityId,
        id: TaskId,
        text: &str,
        pre_claim: bool,
    ) -> Result<Message> {
        validate::text("text", text, MESSAGE_BYTES_MAX, true)?;
        self.require_party(actor)?;
        let mut task = self.advance(id)?;
        if pre_claim {
            if task.status != TaskStatus::Open {
                return Err(Error::WrongState {
                    status: task.status,
                }
                .into());
            }
        } else {
            let worker = task
                .claim
                .as_ref()
                .map(|c| &c.agent)
                .or(task.delivery.as_ref().map(|d| &d.agent));
            if &task.poster != actor && worker != Some(actor) {
                return Err(Error::NotParticipant.into());
            }
        }
        if task.message_count >= MESSAGES_PER_TASK_MAX {
            return Err(Error::LimitReached { what: "messages" }.into());
        }
        let message = Message {
            id: MessageId(self.new_uuid()),
            task_id: id,
            author: actor.clone(),
            text: text.to_owned(),
            pre_claim,
            created_at: self.now,
        };
        task.message_count += 1;
        self.add_message(message.clone());
        self.event(
            EventKind::MessagePosted,
            Some(id),
            Some(actor),
            EventData::Message {
                message: message.id,
                pre_claim,
            },
        );
        self.put_task(task);
        Ok(message)
    }

    // ---- the broker ----

    /// When a task is posted or reopens, the first eligible auto-claim rule (owner with the
    /// highest reputation, then the oldest rule) claims it for its owner.
    pub(crate) fn broker(&mut self, id: TaskId) -> Result {
        let task = self.task_ref(id)?;
        if task.status != TaskStatus::Open || task.spec.bidding || self.now >= task.expires_at {
            return Ok(());
        }
        let tags = task.spec.match_tags();
        if tags.is_empty() {
            return Ok(());
        }
        let rules = self.rules_matching(&tags)?;
        if rules.is_empty() {
            return Ok(());
        }
        let poster_score = self.rep(&task.poster)?.score(self.now);
        let mut best: Option<(Decimal, crate::Timestamp, crate::RuleId, IdentityId)> = None;
        for rule in rules {
            let eligible = rule.owner != task.poster
                && task.bounty >= rule.min_bounty
                && poster_score >= rule.min_poster_rep
                && task
                    .spec
                    .assign_to
                    .as_ref()
                    .is_none_or(|a| a == &rule.owner);
            if !eligible {
                continue;
            }
            let rep = self.rep(&rule.owner)?;
            let score = rep.score(self.now);
            if rep.open_claims >= rule.max_concurrent
                || rep.open_claims >= self.policy.open_claims_max
                || task.spec.min_reputation.is_some_and(|m| score < m)
            {
                continue;
            }
            let better = match &best {
                None => true,
                Some((s, created, rid, _)) => {
                    (score, std::cmp::Reverse((rule.created_at, rule.id)))
                        > (*s, std::cmp::Reverse((*created, *rid)))
                }
            };
            if better {
                best = Some((score, rule.created_at, rule.id, rule.owner.clone()));
            }
        }
        let Some((_, _, _, owner)) = best else {
            return Ok(());
        };
        let mut task = task.clone();
        if !self.dependencies_done(&task)? {
            return Ok(());
        }
        let ttl = task.claim_ttl_secs(self.policy.claim_ttl_default_secs);
        self.grant_claim(&mut task, &owner, None, ttl, ClaimVia::Broker)?;
        self.put_task(task);
        Ok(())
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
