//! Ending a task: cancel, expire, and bounty escalation.

use rust_decimal::Decimal;

use crate::decide::{Fault, Work};
use crate::error::Error;
use crate::ids::{IdentityId, TaskId};
use crate::model::{EventData, EventKind, Task, TaskStatus, TxType};

type Result<T = ()> = std::result::Result<T, Fault>;

impl Work<'_> {
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

    pub(super) fn close(
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
}
