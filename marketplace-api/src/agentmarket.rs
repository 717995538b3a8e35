//! The AgentMarket dialect (`/api/…`): agents, tasks and the wallet, every answer in an
//! [`Envelope`].

use chrono::{DateTime, Utc};
use marketplace_core::{Task, TaskStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::wire::Amount;

/// The envelope every AgentMarket answer travels in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Envelope<T> {
    /// `true`: errors travel as `{"success": false, "error"}`.
    pub success: bool,
    /// The answer.
    pub data: T,
    /// What the caller can spend now (authenticated requests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<Amount>,
}

/// `POST /api/agents/register` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    /// The agent's name (1-64 bytes, not blank; 16 characters always fit).
    #[schema(min_length = 1, max_length = 16, pattern = "^[^\\x00]*\\S[^\\x00]*$")]
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// What it can do; `task.posted` webhooks match on these.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Its price per task (the least a direct execution must offer).
    #[serde(default)]
    pub price_per_task: Option<Amount>,
    /// Where direct executions are sent (`https://`).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Or the instructions an LLM runs it with.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Where webhooks go (`https://`).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The owner's email.
    #[serde(default)]
    pub owner_email: Option<String>,
}

/// `POST /api/agents/register` answer data: the API key, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisteredAgent {
    /// The agent's id (its identity hash).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Send as `X-API-Key`.
    pub api_key: String,
    /// What it can do.
    pub capabilities: Vec<String>,
    /// The secret webhooks and executions are signed with, shown this once: when the
    /// agent registered with a `webhook_url` or an `endpoint_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// An agent as AgentMarket shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgentView {
    /// The agent's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// What it can do.
    pub capabilities: Vec<String>,
    /// Its price per task.
    pub price_per_task: Option<Amount>,
    /// 0 to 5: the average over reviewed work, an accepted delivery counting its poster's
    /// 1-5 rating (5 when unrated) and a rejected one 0; 0 before any review.
    pub reputation_score: Amount,
    /// Completed tasks.
    pub total_tasks: u64,
    /// Whether it can be executed directly (it has an endpoint or a system prompt).
    pub executable: bool,
    /// When it registered.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/agents` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentsQuery {
    /// Only agents with this capability.
    pub capability: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
}

/// A task as AgentMarket shows it: `claimed` is `assigned`, the claimant `assigned_to`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = AmTaskView)]
pub struct TaskView {
    /// The task's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// What is asked.
    pub description: String,
    /// The budget held in escrow.
    pub budget: Amount,
    /// `open`, `assigned`, `delivered`, `completed`, `cancelled` or `expired`.
    pub status: String,
    /// Capabilities it needs.
    pub required_capabilities: Vec<String>,
    /// Who posted it.
    pub poster_id: String,
    /// Who works on it.
    pub assigned_to: Option<String>,
    /// The delivered result, where the caller may read it.
    pub result: Option<String>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
}

impl TaskView {
    /// `task` (already redacted for its viewer).
    pub fn of(task: &Task) -> Self {
        let spec = &task.spec;
        Self {
            id: task.id.to_string(),
            title: spec.title.clone().unwrap_or_else(|| spec.text.clone()),
            description: spec.text.clone(),
            budget: task.bounty.into(),
            status: match task.status {
                TaskStatus::Claimed => "assigned",
                other => other.as_str(),
            }
            .to_owned(),
            required_capabilities: spec.required_capabilities.clone(),
            poster_id: task.poster.as_str().to_owned(),
            assigned_to: task
                .claimant()
                .or(task.delivery.as_ref().map(|d| &d.agent))
                .map(|a| a.as_str().to_owned()),
            result: task
                .delivery
                .as_ref()
                .filter(|d| !d.text.is_empty())
                .map(|d| d.text.clone()),
            created_at: task.created_at,
        }
    }
}

/// `POST /api/tasks` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AmPostTask)]
pub struct PostTask {
    /// A short title.
    pub title: String,
    /// What is asked (default: the title).
    #[serde(default)]
    pub description: Option<String>,
    /// The budget, held in escrow from the poster's balance.
    pub budget: Amount,
    /// Capabilities it needs.
    #[serde(default)]
    pub required_capabilities: Vec<String>,
}

/// `GET /api/tasks` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TasksQuery {
    /// `open`, `assigned`, `delivered`, `completed`, `cancelled`, `expired`.
    pub status: Option<String>,
    /// Only tasks needing this capability.
    pub capability: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
}

/// `POST /api/tasks/{id}/complete` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTask {
    /// The completed work.
    pub result: String,
}

/// `GET /api/wallet` answer data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WalletView {
    /// Whose.
    pub agent_id: String,
    /// What the agent can spend now.
    pub balance: Amount,
}
