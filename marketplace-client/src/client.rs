//! The client: the public face over the transport — building it, and who it calls as.

use std::time::Duration;

use url::Url;

use crate::agentmarket::AgentMarket;
use crate::credentials::Credentials;
use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::transport::Transport;

/// A client of one marketplace, calling as one identity. Cloning is cheap and shares the
/// connection pool; [`Client::with_credentials`] makes a client for another identity on the
/// same pool.
///
/// ```no_run
/// # async fn demo() -> Result<(), marketplace_client::Error> {
/// use marketplace_client::{Client, Credentials};
/// let anonymous = Client::new("http://127.0.0.1:8080")?;
/// let registered = anonymous.register("scout").await?;
/// let me = anonymous.with_credentials(Credentials::ApiKey(registered.api_key));
/// println!("{} available", me.balance().await?.available.0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) transport: Transport,
}

/// Builds a [`Client`]: the marketplace's base URL, credentials, retries and timeouts.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base: String,
    credentials: Credentials,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    event_silence: Duration,
}

impl ClientBuilder {
    /// The credentials to call with (anonymous by default).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// How failed calls are retried ([`RetryPolicy::default`] by default).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The longest a call's attempt may take, answer included (30 s by default; the event
    /// stream is not bounded by it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long the event stream ([`Client::events`]) may stay silent, keep-alives
    /// included, before it is taken for lost and reopened after its last event
    /// ([`EVENT_SILENCE_SECS_MAX`](crate::EVENT_SILENCE_SECS_MAX) by default).
    pub fn event_silence(mut self, silence: Duration) -> Self {
        self.event_silence = silence;
        self
    }

    /// The longest a connection may take to open (10 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The client; refused if the base URL is not an absolute `http` or `https` URL.
    pub fn build(self) -> Result<Client, Error> {
        let base = Url::parse(&self.base)
            .map_err(|e| Error::Invalid(format!("the base URL {:?}: {e}", self.base)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Invalid(format!(
                "the base URL must be http:// or https://, not {:?}",
                self.base
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            // The API never redirects; following one could carry the credentials (an
            // `X-API-Key`) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("marketplace-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Unreachable)?;
        let retry = RetryPolicy {
            attempts: self.retry.attempts.max(1),
            ..self.retry
        };
        Ok(Client {
            transport: Transport::new(
                http,
                base,
                retry,
                (self.timeout, self.event_silence),
                self.credentials,
            ),
        })
    }
}

impl Client {
    /// A client of the marketplace at `base_url`, anonymous, with the default retries.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        Self::builder(base_url).build()
    }

    /// A builder for a client of the marketplace at `base_url`.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base: base_url.to_owned(),
            credentials: Credentials::Anonymous,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            event_silence: Duration::from_secs(crate::EVENT_SILENCE_SECS_MAX),
        }
    }

    /// A client for the same marketplace and pool, calling with `credentials`.
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            transport: self.transport.with_credentials(credentials),
        }
    }

    /// The credentials this client calls with.
    pub fn credentials(&self) -> &Credentials {
        &self.transport.credentials
    }

    /// The marketplace's base URL.
    pub fn base_url(&self) -> &Url {
        self.transport.base()
    }

    /// A client whose mutating calls carry `key` as their `Idempotency-Key` instead of a
    /// fresh one per call: for a change that must happen once even across restarts of the
    /// caller (keep the key, call again after a crash, and the marketplace answers what the
    /// first call did). The same key with a different request is refused
    /// (`idempotency_conflict`); keys live 24 hours and are scoped to the caller. Make one
    /// such client per change.
    ///
    /// ```no_run
    /// # async fn demo(client: marketplace_client::Client) -> Result<(), marketplace_client::Error> {
    /// use marketplace_api::agora::tasks::PostTask;
    /// let task = PostTask { text: "Weekly report".into(), ..PostTask::default() };
    /// let once = client.with_idempotency_key("weekly-report-2026-49");
    /// let posted = once.post_task(&task).await?;
    /// // After a crash, the same call answers the same task.
    /// assert_eq!(once.post_task(&task).await?.id, posted.id);
    /// # Ok(()) }
    /// ```
    pub fn with_idempotency_key(&self, key: &str) -> Self {
        let mut transport = self.transport.clone();
        transport.idempotency_key = Some(key.to_owned());
        Self { transport }
    }

    /// This client's AgentMarket dialect (`/api/…`).
    pub fn agentmarket(&self) -> AgentMarket<'_> {
        AgentMarket::new(&self.transport)
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.transport.retry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_http() {
        assert!(Client::new("ftp://example.com").is_err());
        assert!(Client::new("not a url").is_err());
        assert!(Client::new("http://127.0.0.1:8080/").is_ok());
    }
}
