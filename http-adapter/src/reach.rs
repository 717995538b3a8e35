//! How the marketplace reaches agents ([`ReachConfig`]): webhook and execution timeouts,
//! retry backoff, and the LLM behind system-prompt agents. Configuration only; the sending
//! is [`crate::dispatch`]'s and [`crate::execute`]'s.

use std::time::Duration;

/// The AI model direct executions of system-prompt agents use, unless configured.
pub const LLM_MODEL_DEFAULT: &str = "claude-sonnet-4-5";
/// The Messages API the LLM calls go to, unless configured.
pub const LLM_BASE_URL_DEFAULT: &str = "https://api.anthropic.com";

/// Where direct executions of system-prompt agents go: an Anthropic Messages API.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Base URL; requests go to `{base}/v1/messages`.
    pub base_url: String,
    /// The `x-api-key`; without one, such executions answer 503.
    pub api_key: Option<String>,
    /// The model asked for.
    pub model: String,
    /// The answer's length limit, in tokens.
    pub max_tokens: u32,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: LLM_BASE_URL_DEFAULT.to_owned(),
            api_key: None,
            model: LLM_MODEL_DEFAULT.to_owned(),
            max_tokens: 4096,
        }
    }
}

/// How the marketplace reaches agents: webhooks, callbacks and direct executions.
#[derive(Debug, Clone)]
pub struct ReachConfig {
    /// This marketplace's public base URL, sent as `marketplace_url`.
    pub marketplace_url: String,
    /// How long one webhook or callback request may take.
    pub webhook_timeout: Duration,
    /// How long a direct execution's agent may take.
    pub execute_timeout: Duration,
    /// Waits between attempts: the n-th failure waits the n-th step (the last step
    /// repeats), ±10%.
    pub backoff: Vec<Duration>,
    /// A delivery older than this is given up instead of retried.
    pub give_up_after: Duration,
    /// How often the dispatcher looks for work.
    pub interval: Duration,
    /// Deliveries sent at once by one dispatcher.
    pub concurrency: usize,
    /// The LLM behind system-prompt agents.
    pub llm: LlmConfig,
}

impl Default for ReachConfig {
    fn default() -> Self {
        let secs = Duration::from_secs;
        Self {
            marketplace_url: "http://127.0.0.1:8080".to_owned(),
            webhook_timeout: secs(10),
            execute_timeout: secs(60),
            backoff: vec![secs(5), secs(30), secs(120), secs(600), secs(3600)],
            give_up_after: secs(24 * 3600),
            interval: Duration::from_millis(500),
            concurrency: 32,
            llm: LlmConfig::default(),
        }
    }
}

impl ReachConfig {
    /// The wait after failed attempt `attempt` (from 1), before jitter.
    pub fn backoff_step(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff
            .get(index)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }

    /// The lease a sender takes on a delivery: longer than any request it makes (a
    /// request is cut off at the timeout), with time to record the attempt.
    pub(crate) fn lease(&self) -> Duration {
        self.webhook_timeout + Duration::from_secs(5)
    }
}
