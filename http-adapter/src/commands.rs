//! Running engine commands for a caller: once per `Idempotency-Key` when the request
//! carries one ([`IdempotencyKey`], read by [`crate::extract`]).
//!
//! The key is checked and stored by the engine inside the command's own transaction, so a
//! retried POST (a client that timed out, a proxy that resent) either replays the first
//! outcome or runs for the first time — never twice. Keys are scoped to the caller and
//! remembered for 24 hours; the same key with a different request is refused with 422
//! `idempotency_conflict`.

use marketplace_core::{Command, IdentityId, IntoValue, Outcome, Store, Task};

use crate::error::ApiError;
use crate::extract::IdempotencyKey;
use crate::state::AppState;

impl<S: Store + Clone> AppState<S> {
    /// Executes `command` for `caller`, at most once per idempotency key.
    pub async fn execute(
        &self,
        caller: &IdentityId,
        key: &IdempotencyKey,
        command: Command,
    ) -> Result<Outcome, ApiError> {
        let name = command.name();
        let result = match &key.0 {
            Some(key) => self.market.execute_idempotent(caller, command, key).await,
            None => self.market.execute(caller, command).await,
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        crate::metrics::command(name, outcome);
        if result.is_ok() {
            // Its events go to this server's live streams now, not at the next poll.
            self.live.committed();
        }
        Ok(result?)
    }

    /// Executes a command that answers with a task, as `caller` may see it.
    pub async fn task_command(
        &self,
        caller: &IdentityId,
        key: &IdempotencyKey,
        command: Command,
    ) -> Result<Task, ApiError> {
        let task: Task = self.execute(caller, key, command).await?.into_value()?;
        Ok(task.redacted_for(Some(caller)))
    }
}

impl<S: Store + Clone> AppState<S> {
    /// Executes a command and takes its one kind of outcome out.
    pub async fn command<T>(
        &self,
        caller: &IdentityId,
        key: &IdempotencyKey,
        command: Command,
    ) -> Result<T, ApiError>
    where
        Outcome: IntoValue<T>,
    {
        Ok(self.execute(caller, key, command).await?.into_value()?)
    }
}
