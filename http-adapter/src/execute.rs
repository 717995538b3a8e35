//! Direct execution, AgentMarket's `POST /api/execute`: hire one agent and get its result
//! in the same request.
//!
//! 1. The caller's budget (at least the agent's `price_per_task`) is escrowed by posting a
//!    task assigned to the agent and accepted on delivery.
//! 2. The agent runs: its `endpoint_url` gets the task as a signed HTTPS POST (signed like
//!    a webhook) and answers `{"result": …}`; or, with a `system_prompt` instead, an LLM
//!    call through the configured Messages API runs it.
//! 3. The result is delivered on the agent's behalf, which settles at once (under the
//!    agentmarket preset, 90% to the agent, 10% fee); the answer is `{task_id, result}`.
//!
//! Any failure — an error answer, a timeout, a result the marketplace refuses — cancels
//! the task, refunding the budget in full, and answers 502 `agent_failed`, 504
//! `agent_timeout` or 503 `llm_unavailable`. Nothing is claimed until the result is in,
//! so if the server stops mid-run the task expires unclaimed and is refunded by the
//! deadline sweep (`expires_in` is the execution timeout plus a minute), without
//! counting against the agent.
//!
//! Under an `Idempotency-Key` an execution runs once: it reserves the key
//! ([`marketplace_core::Marketplace::reserve`]) before anything is escrowed, and keeps its
//! ending — the result, or the failure — for its retries. A duplicate that arrives while it
//! runs waits for that ending (up to the execution timeout and a few seconds), then answers
//! 409 `idempotency_in_progress` with `Retry-After`. The agent is called once per key; a
//! server that dies mid-run holds the key until the task's lifetime is over and refunded,
//! after which a retry runs the execution afresh.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use marketplace_core::store::Backend;
use marketplace_core::{
    Command, DeliveryInput, Error, IdentityId, Profile, Reservation, Task, TaskSpec,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::agentmarket::reply;
use crate::auth::Caller;
use crate::error::{ApiError, SERVER_FAILURE};
use crate::extract::ApiJson;
use crate::extract::IdempotencyKey;
use crate::extract::identity;
use crate::limits::{RESULT_ANSWER_BYTES_MAX, TITLE_CHARS_MAX};
use crate::outbound::OutboundError;
use crate::outbound::sign::signed_headers;
use crate::state::AppState;
use marketplace_api::agentmarket::Envelope;
use marketplace_api::execute::{ExecuteRequest, ExecuteView};
use marketplace_api::wire::Amount;

/// The Messages API version asked for.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// How an agent runs.
enum Runner {
    Endpoint(String),
    Llm(String),
}

fn failed(message: String) -> ApiError {
    ApiError::Upstream {
        status: StatusCode::BAD_GATEWAY,
        code: "agent_failed",
        message,
    }
}

fn from_outbound(e: OutboundError, what: &str) -> ApiError {
    match e {
        OutboundError::Timeout(ms) => ApiError::Upstream {
            status: StatusCode::GATEWAY_TIMEOUT,
            code: "agent_timeout",
            message: format!("{what} did not answer within {ms} ms"),
        },
        other => failed(format!("{what} failed: {other}")),
    }
}

/// `POST /api/execute`: runs an agent on a task description and pays it from the budget.
#[utoipa::path(
    post,
    path = "/api/execute",
    tag = "agentmarket",
    operation_id = "agentmarket_execute",
    request_body = ExecuteRequest,
    params(IdempotencyKey),
    responses(
        (status = 200, body = Envelope<ExecuteView>),
        (status = "4XX", body = marketplace_api::error::AmError),
        (status = "5XX", body = marketplace_api::error::AmError)
    ),
    security(("bearer" = []), ("api_key" = []), ("node_signature" = []))
)]
pub async fn execute<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    key: IdempotencyKey,
    ApiJson(request): ApiJson<ExecuteRequest>,
) -> Result<Response, ApiError> {
    let agent = identity(&request.agent_id)?;
    if agent == caller {
        return Err(Error::invalid("agent_id", "an agent cannot hire itself").into());
    }
    let profile = app.market.profile(&agent).await?;
    if let Some(price) = profile.price_per_task
        && request.budget.0 < price
    {
        let why = format!("below the agent's price_per_task ({price})");
        return Err(Error::invalid("budget", why).into());
    }
    let runner = runner(&app, &profile)?;
    let job = Job {
        app: &app,
        caller: &caller,
        agent: &agent,
        profile: &profile,
        runner: &runner,
        request: &request,
    };
    let Some(key) = &key.0 else {
        return match job.run().await {
            Ok(view) => answer(&app, &caller, view).await,
            Err(Ended::Refused(e) | Ended::Failed(e)) => Err(e),
        };
    };
    let print = fingerprint(&agent, &request);
    let hold_secs = app
        .reach
        .execute_timeout
        .as_secs()
        .saturating_add(HOLD_EXTRA_SECS);
    let waited_until =
        tokio::time::Instant::now() + app.reach.execute_timeout + DUPLICATE_WAIT_EXTRA;
    loop {
        match app.market.reserve(&caller, key, &print, hold_secs).await? {
            Reservation::Run => break,
            Reservation::Done(stored) => return replay(&app, &caller, &stored).await,
            Reservation::Running { .. } if tokio::time::Instant::now() < waited_until => {
                tokio::time::sleep(DUPLICATE_POLL).await;
            }
            Reservation::Running { .. } => return Err(Error::IdempotencyInProgress.into()),
        }
    }
    let ended = job.run().await;
    let kept = match &ended {
        Ok(view) => Some(Kept::Paid(view.clone())),
        Err(Ended::Failed(e)) => Some(Kept::failed(e)),
        // Refused before anything changed: the key is let go, as for a refused command.
        Err(Ended::Refused(_)) => None,
    };
    let kept = kept.map(|k| serde_json::to_string(&k).unwrap_or_default());
    if let Err(e) = app.market.finish(&caller, key, &print, kept).await {
        // The answer stands; the key stays held until its hold runs out.
        tracing::error!(error = %e, "keeping an execution's ending failed");
    }
    match ended {
        Ok(view) => answer(&app, &caller, view).await,
        Err(Ended::Refused(e) | Ended::Failed(e)) => Err(e),
    }
}

/// How long past the execution timeout a key stays held by an execution that never
/// finished: past the task's lifetime (the timeout plus a minute), when the sweep has
/// refunded it, so a retry that then runs again never overlaps the first run.
const HOLD_EXTRA_SECS: u64 = 90;
/// How long past the execution timeout a duplicate waits for the first run's ending.
const DUPLICATE_WAIT_EXTRA: std::time::Duration = std::time::Duration::from_secs(5);
/// How often a waiting duplicate looks for the first run's ending.
const DUPLICATE_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// The fingerprint of an execution request: SHA-256 hex of what it asks for.
fn fingerprint(agent: &IdentityId, request: &ExecuteRequest) -> String {
    let what = json!([
        "execute",
        agent,
        request.task_description,
        request.budget.0.to_string()
    ]);
    hex::encode(Sha256::digest(what.to_string().as_bytes()))
}

/// How an execution ended, short of its result.
enum Ended {
    /// Refused before anything was escrowed or called (the budget not covered, say).
    Refused(ApiError),
    /// The agent ran and failed, or its result was refused (the budget was refunded); or
    /// the marketplace failed on its own side.
    Failed(ApiError),
}

/// An execution's ending as kept under its idempotency key, for its retries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "ending", rename_all = "snake_case")]
enum Kept {
    /// The agent was paid for this result.
    Paid(ExecuteView),
    /// The execution failed and was refunded: the error it answered.
    Failed {
        /// The HTTP status.
        status: u16,
        /// The stable code.
        code: String,
        /// What happened.
        message: String,
    },
}

impl Kept {
    fn failed(e: &ApiError) -> Self {
        let message = match e {
            ApiError::Upstream { message, .. } => message.clone(),
            // The marketplace's own failure: its details are for the log alone.
            _ => SERVER_FAILURE.to_owned(),
        };
        Self::Failed {
            status: e.status().as_u16(),
            code: e.code().to_owned(),
            message,
        }
    }
}

/// The answer kept under a key, given again.
async fn replay<S: Backend + Clone>(
    app: &AppState<S>,
    caller: &IdentityId,
    stored: &str,
) -> Result<Response, ApiError> {
    let kept: Kept = serde_json::from_str(stored)
        .map_err(|e| ApiError::internal(format!("a kept execution does not parse: {e}")))?;
    match kept {
        Kept::Paid(view) => answer(app, caller, view).await,
        Kept::Failed {
            status,
            code,
            message,
        } => Err(ApiError::Upstream {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            code: ENDING_CODES
                .iter()
                .find(|c| **c == code)
                .copied()
                .unwrap_or("internal"),
            message,
        }),
    }
}

/// The codes an execution's failure answers with: the agent's, or the marketplace's own.
const ENDING_CODES: [&str; 5] = [
    "agent_failed",
    "agent_timeout",
    "llm_unavailable",
    "storage_error",
    "internal",
];

/// One execution: who hires whom, for what.
struct Job<'a, S: Backend + Clone> {
    app: &'a AppState<S>,
    caller: &'a IdentityId,
    agent: &'a IdentityId,
    profile: &'a Profile,
    runner: &'a Runner,
    request: &'a ExecuteRequest,
}

impl<S: Backend + Clone> Job<'_, S> {
    /// Escrows the budget, runs the agent and pays it; refunds on any failure.
    async fn run(&self) -> Result<ExecuteView, Ended> {
        let none = IdempotencyKey::default();
        let spec = spec(self.app, self.agent, self.request);
        let task = self
            .app
            .task_command(self.caller, &none, Command::PostTask(spec.into()))
            .await
            .map_err(|e| {
                // A refusal by the rules changed nothing. A storage failure may have come
                // after the escrow committed, so its key is kept, not let go for a rerun.
                if e.status().is_server_error() {
                    Ended::Failed(e)
                } else {
                    Ended::Refused(e)
                }
            })?;
        let outcome = match run(self.app, self.runner, self.profile, &task, self.request).await {
            Ok(result) => settle(self.app, self.agent, &task, result).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(result) => Ok(ExecuteView {
                task_id: task.id.to_string(),
                result,
            }),
            Err(e) => {
                if let Err(refund) = self.app.market.cancel(self.caller, task.id).await {
                    tracing::error!(task = %task.id, error = %refund, "refunding a failed execution failed");
                }
                Err(Ended::Failed(e))
            }
        }
    }
}

async fn answer<S: Backend + Clone>(
    app: &AppState<S>,
    caller: &IdentityId,
    view: ExecuteView,
) -> Result<Response, ApiError> {
    reply(app, Some(caller), StatusCode::OK, view).await
}

/// How `profile`'s agent runs, checked before anything is escrowed.
fn runner<S: Backend + Clone>(app: &AppState<S>, profile: &Profile) -> Result<Runner, ApiError> {
    let set = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    if let Some(url) = set(&profile.endpoint_url) {
        app.outbound
            .check_url(&url)
            .map_err(|e| failed(format!("the agent's endpoint_url is refused: {e}")))?;
        return Ok(Runner::Endpoint(url));
    }
    if let Some(prompt) = set(&profile.system_prompt) {
        if app.reach.llm.api_key.is_none() {
            return Err(ApiError::Upstream {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "llm_unavailable",
                message: "this marketplace has no LLM configured to run system-prompt agents"
                    .to_owned(),
            });
        }
        return Ok(Runner::Llm(prompt));
    }
    Err(Error::invalid(
        "agent_id",
        "the agent has neither an endpoint_url nor a system_prompt",
    )
    .into())
}

/// The task an execution runs as: assigned to the agent, accepted on delivery, expiring
/// (refunded) a minute after the execution's timeout.
fn spec<S: Backend + Clone>(
    app: &AppState<S>,
    agent: &IdentityId,
    request: &ExecuteRequest,
) -> TaskSpec {
    let first_line = request.task_description.lines().next().unwrap_or_default();
    let title: String = first_line.chars().take(TITLE_CHARS_MAX).collect();
    let timeout = app.reach.execute_timeout.as_secs();
    TaskSpec {
        title: Some(title).filter(|t| !t.trim().is_empty()),
        assign_to: Some(agent.clone()),
        // The agent hears of it as `task.execute`, from this request, not as a posting.
        direct: true,
        auto_accept: true,
        expires_in_secs: Some(timeout.saturating_add(60).max(60)),
        claim_ttl_secs: Some(timeout.saturating_add(60)),
        ..TaskSpec::new(request.task_description.clone(), request.budget.0)
    }
}

/// Runs the agent; its result.
async fn run<S: Backend + Clone>(
    app: &AppState<S>,
    runner: &Runner,
    profile: &Profile,
    task: &Task,
    request: &ExecuteRequest,
) -> Result<String, ApiError> {
    match runner {
        Runner::Endpoint(url) => {
            let body = json!({
                "task_id": task.id,
                "title": task.spec.title,
                "description": request.task_description,
                "budget": Amount(task.bounty),
                "poster_id": task.poster,
                "marketplace_url": app.reach.marketplace_url,
            })
            .to_string();
            let (secret, _) = app.webhook_secret(&profile.identity).await?;
            let id = format!("exec_{}", task.id);
            let timestamp = chrono::Utc::now().timestamp();
            let headers = signed_headers(&secret, "task.execute", &id, timestamp, body.as_bytes());
            let answer = app
                .outbound
                .post(
                    url,
                    headers,
                    body.into_bytes(),
                    app.reach.execute_timeout,
                    RESULT_ANSWER_BYTES_MAX,
                )
                .await
                .map_err(|e| from_outbound(e, "the agent's endpoint"))?;
            if !(200..300).contains(&answer.status) {
                return Err(failed(format!(
                    "the agent's endpoint answered {}",
                    answer.status
                )));
            }
            let parsed: Value = serde_json::from_slice(&answer.body).map_err(|_| {
                failed("the agent's endpoint answered without a JSON body".to_owned())
            })?;
            match parsed.get("result") {
                Some(result) if !result.is_null() => Ok(text_of(result)),
                _ => Err(failed(
                    "the agent's endpoint answered without a \"result\"".to_owned(),
                )),
            }
        }
        Runner::Llm(prompt) => llm(app, prompt, &request.task_description).await,
    }
}

/// One Messages API call: the agent's system prompt and the task as the user's message.
async fn llm<S: Backend + Clone>(
    app: &AppState<S>,
    system_prompt: &str,
    task: &str,
) -> Result<String, ApiError> {
    let config = &app.reach.llm;
    let api_key = config.api_key.as_deref().unwrap_or_default();
    let url = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
    let body = json!({
        "model": config.model,
        "max_tokens": config.max_tokens,
        "system": system_prompt,
        "messages": [{ "role": "user", "content": task }],
    })
    .to_string();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("content-type", "application/json");
    put("x-api-key", api_key);
    put("anthropic-version", ANTHROPIC_VERSION);
    let answer = app
        .outbound
        .post_trusted(
            &url,
            headers,
            body.into_bytes(),
            app.reach.execute_timeout,
            RESULT_ANSWER_BYTES_MAX,
        )
        .await
        .map_err(|e| from_outbound(e, "the LLM"))?;
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if !(200..300).contains(&answer.status) {
        let why = parsed["error"]["message"].as_str().unwrap_or("no details");
        return Err(failed(format!("the LLM answered {}: {why}", answer.status)));
    }
    let text: Vec<&str> = parsed["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect()
        })
        .unwrap_or_default();
    if text.is_empty() {
        return Err(failed("the LLM answered without text".to_owned()));
    }
    Ok(text.concat())
}

/// Claims and delivers on the agent's behalf; the task accepts itself and pays.
async fn settle<S: Backend + Clone>(
    app: &AppState<S>,
    agent: &IdentityId,
    task: &Task,
    result: String,
) -> Result<String, ApiError> {
    let none = IdempotencyKey::default();
    if task.claimant() != Some(agent) {
        let claim = Command::Claim {
            task: task.id,
            note: None,
        };
        app.execute(agent, &none, claim)
            .await
            .map_err(|e| failed(format!("the marketplace refused the agent's claim: {e:?}")))?;
    }
    let deliver = Command::Deliver {
        task: task.id,
        delivery: DeliveryInput {
            text: result.clone(),
            ..DeliveryInput::default()
        },
    };
    match app.execute(agent, &none, deliver).await {
        Ok(_) => Ok(result),
        Err(ApiError::Engine(e)) => Err(failed(format!(
            "the marketplace refused the agent's result: {e}"
        ))),
        Err(e) => Err(e),
    }
}

/// A JSON value's text: strings as they are, anything else as JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
