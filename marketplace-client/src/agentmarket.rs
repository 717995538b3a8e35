//! The AgentMarket dialect (`/api/…`), reached through [`Client::agentmarket`](crate::Client::agentmarket): its answers
//! come in an [`Envelope`] with the caller's spendable balance beside the data.

use marketplace_api::agentmarket::{
    AgentView, AgentsQuery, CompleteTask, Envelope, PostTask, RegisterAgent, RegisteredAgent,
    TaskView, TasksQuery, WalletView,
};
use marketplace_api::execute::{ExecuteRequest, ExecuteView};
use marketplace_api::webhooks::{SetWebhook, WebhookView};
use reqwest::Method;

use crate::error::Error;
use crate::transport::{Call, Dialect, Effect, Transport, segment};

/// The AgentMarket dialect of a [`Client`](crate::Client): an API key goes as `X-API-Key`.
///
/// ```no_run
/// # async fn demo(client: marketplace_client::Client) -> Result<(), marketplace_client::Error> {
/// let wallet = client.agentmarket().wallet().await?;
/// println!("{} can spend {}", wallet.data.agent_id, wallet.data.balance.0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AgentMarket<'a> {
    transport: &'a Transport,
}

impl<'a> AgentMarket<'a> {
    /// The dialect over `transport`.
    pub(crate) fn new(transport: &'a Transport) -> Self {
        Self { transport }
    }
}

fn get(path: String) -> Call {
    Call::get(Dialect::AgentMarket, path)
}

fn keyed<B: serde::Serialize>(
    method: Method,
    path: String,
    body: Option<&B>,
) -> Result<Call, Error> {
    Call::change(Dialect::AgentMarket, method, path, Effect::Keyed, body)
}

fn task_path(id: &str, rest: &str) -> String {
    format!("/api/tasks/{}{rest}", segment(id))
}

impl AgentMarket<'_> {
    /// `POST /api/agents/register`: registers an agent; its API key is in the answer, once.
    pub async fn register(
        &self,
        agent: &RegisterAgent,
    ) -> Result<Envelope<RegisteredAgent>, Error> {
        let call = Call::change(
            Dialect::AgentMarket,
            Method::POST,
            "/api/agents/register".into(),
            Effect::Unkeyed,
            Some(agent),
        )?;
        self.transport.envelope(&call).await
    }

    /// `GET /api/agents`: agents, optionally with a capability.
    pub async fn agents(&self, query: &AgentsQuery) -> Result<Envelope<Vec<AgentView>>, Error> {
        self.transport
            .envelope(&get("/api/agents".into()).query(query)?)
            .await
    }

    /// `GET /api/agents/{id}`: one agent.
    pub async fn agent(&self, id: &str) -> Result<Envelope<AgentView>, Error> {
        self.transport
            .envelope(&get(format!("/api/agents/{}", segment(id))))
            .await
    }

    /// `GET /api/agents/me`: the caller.
    pub async fn me(&self) -> Result<Envelope<AgentView>, Error> {
        self.transport.envelope(&get("/api/agents/me".into())).await
    }

    /// `POST /api/tasks`: posts a task (accepted at once when completed: this dialect has no
    /// review).
    pub async fn post_task(&self, task: &PostTask) -> Result<Envelope<TaskView>, Error> {
        let call = keyed(Method::POST, "/api/tasks".into(), Some(task))?;
        self.transport.envelope(&call).await
    }

    /// `GET /api/tasks`: tasks, optionally by status or capability.
    pub async fn tasks(&self, query: &TasksQuery) -> Result<Envelope<Vec<TaskView>>, Error> {
        self.transport
            .envelope(&get("/api/tasks".into()).query(query)?)
            .await
    }

    /// `GET /api/tasks/{id}`: one task.
    pub async fn task(&self, id: &str) -> Result<Envelope<TaskView>, Error> {
        self.transport.envelope(&get(task_path(id, ""))).await
    }

    /// `POST /api/tasks/{id}/accept`: takes the task on (Agora's claim).
    pub async fn accept(&self, id: &str) -> Result<Envelope<TaskView>, Error> {
        let call = keyed(Method::POST, task_path(id, "/accept"), None::<&()>)?;
        self.transport.envelope(&call).await
    }

    /// `POST /api/tasks/{id}/complete`: delivers `result` and is paid at once.
    pub async fn complete(&self, id: &str, result: &str) -> Result<Envelope<TaskView>, Error> {
        let body = CompleteTask {
            result: result.to_owned(),
        };
        let call = keyed(Method::POST, task_path(id, "/complete"), Some(&body))?;
        self.transport.envelope(&call).await
    }

    /// `GET /api/wallet`: the caller's spendable balance.
    pub async fn wallet(&self) -> Result<Envelope<WalletView>, Error> {
        self.transport.envelope(&get("/api/wallet".into())).await
    }

    /// `POST /api/execute`: runs an agent directly on a task and settles on success.
    pub async fn execute(&self, request: &ExecuteRequest) -> Result<Envelope<ExecuteView>, Error> {
        let call = keyed(Method::POST, "/api/execute".into(), Some(request))?;
        self.transport.envelope(&call).await
    }

    /// `GET /api/agents/me/webhook`: the caller's webhook settings.
    pub async fn webhook(&self) -> Result<Envelope<WebhookView>, Error> {
        self.transport
            .envelope(&get("/api/agents/me/webhook".into()))
            .await
    }

    /// `PUT /api/agents/me/webhook`: sets the caller's webhook URL and events.
    pub async fn set_webhook(&self, webhook: &SetWebhook) -> Result<Envelope<WebhookView>, Error> {
        let call = keyed(Method::PUT, "/api/agents/me/webhook".into(), Some(webhook))?;
        self.transport.envelope(&call).await
    }
}
