//! Running engine commands for a caller: once per `Idempotency-Key` when the request
//! carries one.
//!
//! The key is checked and stored by the engine inside the command's own transaction, so a
//! retried POST (a client that timed out, a proxy that resent) either replays the first
//! outcome or runs for the first time — never twice. Keys are scoped to the caller and
//! remembered for 24 hours; the same key with a different request is refused with 422
//! `idempotency_conflict`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use marketplace_core::{Command, Error, IdentityId, Outcome, Store, Task};

use crate::error::ApiError;
use crate::server::AppState;

/// The header a client names a retryable request with.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The request's `Idempotency-Key`, if it carries one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(marketplace_core::limits::IDEMPOTENCY_KEY_BYTES_MAX));
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Names a retryable request: a retry with the same key and body gets the \
                     first answer without acting twice (also when sent at once); the same \
                     key with another body is refused with 422. Keys are per caller, kept \
                     24 hours.",
                ))
                .schema(Some(schema))
                .build(),
        ]
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(IDEMPOTENCY_KEY_HEADER) {
            None => Ok(Self(None)),
            Some(value) => {
                let key = value
                    .to_str()
                    .map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))?;
                // Checked before the body is read, so a bad key is the answer whatever the
                // body is.
                marketplace_core::check_idempotency_key(key)?;
                Ok(Self(Some(key.to_owned())))
            }
        }
    }
}

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
        Ok(result?)
    }

    /// Executes a command that answers with a task, as `caller` may see it.
    pub async fn task_command(
        &self,
        caller: &IdentityId,
        key: &IdempotencyKey,
        command: Command,
    ) -> Result<Task, ApiError> {
        let task = Task::try_from(self.execute(caller, key, command).await?)?;
        Ok(task.redacted_for(Some(caller)))
    }
}

impl<S: Store + Clone> AppState<S> {
    /// Executes a command and takes its one kind of outcome out.
    pub async fn command<T: TryFrom<Outcome, Error = marketplace_core::Error>>(
        &self,
        caller: &IdentityId,
        key: &IdempotencyKey,
        command: Command,
    ) -> Result<T, ApiError> {
        Ok(T::try_from(self.execute(caller, key, command).await?)?)
    }
}
