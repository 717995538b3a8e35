//! Webhook settings and the record of their deliveries.

use chrono::{DateTime, Utc};
use marketplace_core::store::DeliveryRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The caller's webhook as AgentMarket shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    /// The URL, masked (`...` and its last characters); `null` when none is set.
    pub webhook_url: Option<String>,
    /// The events it receives.
    pub events: Vec<String>,
    /// The signing secret: only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// `PUT /api/agents/me/webhook` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// The new URL (`https://`); `""` removes it.
    pub webhook_url: String,
    /// The events it receives (default: as before; at first `["task.posted"]`).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Replace the signing secret; the new one is in the answer.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// `POST /api/v1/webhooks/secret` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretView {
    /// The new signing secret, shown this once.
    pub webhook_secret: String,
}

/// One attempt of a delivery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    /// Which attempt, from 1.
    pub attempt: u32,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Where it went.
    pub url: Option<String>,
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// A delivery to the caller, with its attempts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = WebhookDeliveryView)]
pub struct DeliveryView {
    /// Its id; the `webhook-id` header is `msg_<id>`.
    pub id: u64,
    /// The event (`task.posted`, `ping`, …).
    pub event: String,
    /// `webhook` or `callback`.
    pub channel: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// The body sent.
    pub payload: Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it is next tried, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its latest attempts, oldest first.
    pub attempts: Vec<AttemptView>,
}

impl DeliveryView {
    /// The record of one delivery's attempts as its owner sees it.
    pub fn of(record: DeliveryRecord) -> Self {
        let d = record.delivery;
        Self {
            id: d.id,
            event: d.spec.event,
            channel: d.spec.channel.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            payload: serde_json::from_str(&d.spec.body).unwrap_or(Value::Null),
            created_at: d.spec.created_at,
            next_attempt_at: d.next_attempt_at,
            finished_at: d.finished_at,
            attempts: record
                .attempts
                .into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    at: a.at,
                    url: a.url,
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
        }
    }
}

/// `GET /api/v1/webhooks/deliveries` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
    /// Only deliveries with an id below this (the last id of the previous page).
    pub before: Option<u64>,
}

/// `POST /api/v1/webhooks/test` body.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestWebhook {
    /// `webhook` or `callback`; default: every URL the caller has set.
    #[serde(default)]
    pub channel: Option<String>,
}
