//! Deadlines: what time alone does to a task. Applied lazily by every command that touches a
//! task, and by the sweep ([`crate::Marketplace::tick`]).

use super::{Fault, Work};
use crate::ids::TaskId;
use crate::limits::TIMER_STEPS_MAX;
use crate::model::{Task, TaskStatus};

impl Work<'_> {
    /// Applies every deadline of task `id` that has passed by now, in order, and returns the
    /// task as it stands now.
    ///
    /// - claimed, lease over: the claim expires (a ghost), the queue's head takes over with a
    ///   fresh lease starting now, or the task reopens;
    /// - delivered, review TTL over: the delivery is accepted and paid;
    /// - open: escalation steps due before the end of the lifetime are applied, then, if the
    ///   lifetime is over, the task expires and is refunded.
    pub(crate) fn advance(&mut self, id: TaskId) -> Result<Task, Fault> {
        for _ in 0..TIMER_STEPS_MAX {
            let task = self.task(id)?;
            let Some(due) = task.due_at() else {
                return Ok(task);
            };
            if due > self.now {
                return Ok(task);
            }
            match task.status {
                TaskStatus::Claimed => self.expire_claim(task)?,
                TaskStatus::Delivered => self.settle(task, None)?,
                TaskStatus::Open if task.next_escalation_at() == Some(due) => {
                    self.escalate(task)?;
                }
                TaskStatus::Open => self.expire(task)?,
                TaskStatus::Completed | TaskStatus::Cancelled | TaskStatus::Expired => {
                    return Ok(task);
                }
            }
        }
        self.task(id)
    }
}
