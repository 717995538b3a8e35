//! Reaching identities outside the marketplace: their webhook settings, and the deliveries
//! the server's dispatcher makes to their webhook and callback URLs.
//!
//! The outbox holds what *happened* (one [`Event`](crate::model::Event) per fact). A
//! dispatcher *fans out* each event into one [`Delivery`] per recipient and channel — in one
//! transaction with taking the event out of the outbox, so a crash in between neither loses
//! a recipient nor adds one twice — and then sends each delivery, with retries, recording
//! every attempt. Deliveries are not marketplace state (no rule reads them), so they sit
//! beside the [`Store`](super::Store) in a trait of their own, like
//! [`Credentials`](super::Credentials). Choosing recipients, signing and sending belong to
//! the server; a store keeps what it is given.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ids::IdentityId;
use crate::time::Timestamp;

/// How an identity is reached: its signing secret and the events its webhook wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// Whose settings.
    pub identity: IdentityId,
    /// The signing secret, sealed by the server (it must sign with it, so it cannot be a
    /// hash): lowercase hex of nonce and ciphertext.
    pub sealed_secret: String,
    /// Event kinds (`task.posted`, …) the identity's webhook URL receives.
    pub events: Vec<String>,
    /// When the secret or the events last changed.
    pub updated_at: Timestamp,
}

/// Which of a profile's URLs a delivery goes to. The URL itself is read when sending, so a
/// fixed URL also receives the retries still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The profile's `webhook_url` (AgentMarket webhooks).
    Webhook,
    /// The profile's `callback_url` (Agora broker pushes).
    Callback,
}

impl Channel {
    /// The stored name: `webhook` or `callback`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Callback => "callback",
        }
    }

    /// The channel a stored name means.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "webhook" => Some(Self::Webhook),
            "callback" => Some(Self::Callback),
            _ => None,
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt, or being attempted.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Given up: retries ran out, or there was nowhere left to send it.
    Failed,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The status a stored name means.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One leased outbox event and the deliveries it makes ([`Deliveries::fan_out`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOut {
    /// The event.
    pub seq: u64,
    /// The lease it was fanned out under.
    pub attempt: u32,
    /// What it makes.
    pub deliveries: Vec<NewDelivery>,
}

/// A delivery to be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// The outbox event it carries; 0 for deliveries made outside the outbox (pings).
    pub event_seq: u64,
    /// Who receives it.
    pub recipient: IdentityId,
    /// Which of the recipient's URLs.
    pub channel: Channel,
    /// The event's wire name (`task.posted`, `ping`, …).
    pub event: String,
    /// The exact JSON body sent: the same bytes on every attempt.
    pub body: String,
    /// When it was created; also its first availability.
    pub created_at: Timestamp,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id, from 1: the same on every attempt (receivers deduplicate on it).
    pub id: u64,
    /// What was stored.
    #[serde(flatten)]
    pub spec: NewDelivery,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts begun so far (leases taken).
    pub attempts: u32,
    /// When it may next be attempted, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// When it was delivered or given up.
    pub finished_at: Option<Timestamp>,
}

/// One attempt to send a delivery: what happened, for the recipient to debug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// Which lease of the delivery made it, from 1.
    pub attempt: u32,
    /// When it was sent (or refused before sending).
    pub at: Timestamp,
    /// The URL it went to, if there was one.
    pub url: Option<String>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// From the start of the request to its answer or failure, milliseconds.
    pub latency_ms: u64,
    /// Why it failed, if it did (a non-2xx answer, a timeout, a refused address, …).
    pub error: Option<String>,
}

/// A delivery with its attempts, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The delivery.
    pub delivery: Delivery,
    /// Its attempts (at most [`crate::limits::DELIVERY_ATTEMPTS_LISTED`], the latest).
    pub attempts: Vec<DeliveryAttempt>,
}

/// A delivery leased to one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Which lease this is, from 1: the fencing token for
    /// [`Deliveries::finish_delivery`].
    pub attempt: u32,
}

/// One attempt to record with [`Deliveries::finish_deliveries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedAttempt {
    /// The delivery's id.
    pub id: u64,
    /// The attempt, recorded whatever becomes of the delivery.
    pub record: DeliveryAttempt,
    /// What becomes of the delivery, if `record.attempt` is still its latest lease.
    pub next: NextStep,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: done.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// Give up: done, failed.
    GiveUp,
}

/// Storage of webhook settings and deliveries. Every method is its own transaction.
#[async_trait]
pub trait Deliveries: Send + Sync + 'static {
    /// An identity's webhook settings.
    async fn webhook(&self, identity: &IdentityId) -> Result<Option<WebhookSettings>, StoreError>;
    /// Stores `settings` if the identity has none yet. Returns the settings now stored and
    /// whether they are the ones given: of two replicas racing, one secret wins.
    async fn add_webhook(
        &self,
        settings: &WebhookSettings,
    ) -> Result<(WebhookSettings, bool), StoreError>;
    /// Replaces an identity's settings (a rotated secret, other events).
    async fn put_webhook(&self, settings: &WebhookSettings) -> Result<(), StoreError>;
    /// Identities with webhook settings whose profile declares any of `capabilities`, in
    /// identity order after `after`.
    async fn subscribers(
        &self,
        capabilities: &[String],
        after: Option<&IdentityId>,
        limit: usize,
    ) -> Result<Vec<IdentityId>, StoreError>;
    /// Fans outbox events out, all in one transaction (one durable commit however many):
    /// for each, stores its deliveries (each at most once per event, recipient and channel,
    /// whatever was stored by an earlier try) and takes the event out of the outbox — if
    /// its `attempt` is still the event's latest lease. Answers, event by event, whether it
    /// did: `false` (and nothing stored for that event) when the lease is not the latest.
    async fn fan_out(&self, events: &[FanOut]) -> Result<Vec<bool>, StoreError>;
    /// Stores a delivery made outside the outbox (a ping): available at once, or — with
    /// `leased_until` — already leased to the caller until then (its first attempt, so
    /// the caller sends it itself). Returns it.
    async fn add_delivery(
        &self,
        delivery: &NewDelivery,
        leased_until: Option<Timestamp>,
    ) -> Result<Delivery, StoreError>;
    /// Leases up to `limit` pending deliveries available at `now`, earliest first, hiding
    /// them until `until`. Concurrent callers never lease the same delivery at once; a lease
    /// that runs out makes the delivery available again.
    async fn lease_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<LeasedDelivery>, StoreError>;
    /// Records `record` (always: it happened) and, if `record.attempt` is still the
    /// delivery's latest lease and it is pending, moves it on by `next` (`finished_at` is
    /// `record.at` when it ends). Returns whether the delivery moved on. One
    /// [`Deliveries::finish_deliveries`] of one attempt.
    async fn finish_delivery(
        &self,
        id: u64,
        record: &DeliveryAttempt,
        next: NextStep,
    ) -> Result<bool, StoreError> {
        let finished = FinishedAttempt {
            id,
            record: record.clone(),
            next,
        };
        let moved = self
            .finish_deliveries(std::slice::from_ref(&finished))
            .await?;
        Ok(moved.first().copied().unwrap_or(false))
    }
    /// Records many attempts as [`Deliveries::finish_delivery`] records one, all in one
    /// transaction (one durable commit however many; all or none): the dispatcher's sends
    /// that end while a commit is in flight share the next. Answers, attempt by attempt,
    /// whether its delivery moved on. Attempts are taken in order, each as
    /// [`Deliveries::finish_delivery`] would take it alone after the ones before.
    async fn finish_deliveries(
        &self,
        attempts: &[FinishedAttempt],
    ) -> Result<Vec<bool>, StoreError>;
    /// `recipient`'s deliveries, newest first, with ids below `before`, with their latest
    /// attempts.
    async fn deliveries(
        &self,
        recipient: &IdentityId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// How many deliveries are pending: the dispatcher's backlog, for monitoring.
    async fn deliveries_pending(&self) -> Result<u64, StoreError>;
}
