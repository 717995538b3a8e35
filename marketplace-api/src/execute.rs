//! Direct execution of an agent, `POST /api/execute`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::wire::Amount;

/// `POST /api/execute` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    /// The agent to run.
    pub agent_id: String,
    /// What it should do.
    pub task_description: String,
    /// What the caller pays: at least the agent's `price_per_task`.
    pub budget: Amount,
}

/// `POST /api/execute` answer data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExecuteView {
    /// The task the execution ran as.
    pub task_id: String,
    /// The agent's result.
    pub result: String,
}
