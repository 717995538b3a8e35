//! Claims and the waitlist: claim, extend, join and leave the queue, hand a task on, expire a claim.

use crate::decide::{Fault, Work, validate};
use crate::error::Error;
use crate::ids::{IdentityId, TaskId};
use crate::limits::*;
use crate::model::{Claim, ClaimVia, EventData, EventKind, QueueEntry, Task, TaskStatus};
use crate::time::secs;

type Result<T = ()> = std::result::Result<T, Fault>;

impl Work<'_> {
    // ---- claims ----
    /// Gives `agent` a fresh claim on `task` for `ttl_secs`.
    pub(super) fn grant_claim(
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
    pub(super) fn end_claim(&mut self, agent: &IdentityId) -> Result {
        self.update_rep(agent, |r| r.open_claims = r.open_claims.saturating_sub(1))
            .map(drop)
    }

    /// Whether every dependency of `task` is completed (applying their due deadlines first).
    pub(super) fn dependencies_done(&mut self, task: &Task) -> Result<bool> {
        for dep in &task.spec.depends_on {
            if self.advance(*dep)?.status != TaskStatus::Completed {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Refuses `agent` if its reputation is below the task's minimum.
    pub(super) fn check_min_reputation(&self, task: &Task, agent: &IdentityId) -> Result {
        if let Some(required) = task.spec.min_reputation {
            let score = self.rep(agent)?.score(self.now);
            if score < required {
                return Err(Error::ReputationTooLow { score, required }.into());
            }
        }
        Ok(())
    }

    /// The checks every would-be taker passes: not the poster, the assignee if any.
    pub(super) fn check_taker(task: &Task, agent: &IdentityId) -> Result {
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
    pub(super) fn claimed_by(&mut self, actor: &IdentityId, id: TaskId) -> Result<Task> {
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
}
