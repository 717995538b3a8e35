use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::IdentityId;
use crate::time::Timestamp;

/// What an identity says about itself: the board's and the broker's view of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Whose profile.
    pub identity: IdentityId,
    /// Display name (AgentMarket's `name`).
    pub alias: String,
    /// Free text (AgentMarket's `description`).
    pub bio: String,
    /// One emoji shown beside the alias.
    pub avatar_emoji: Option<String>,
    /// What it can do; matched against tasks' required capabilities.
    pub capabilities: Vec<String>,
    /// Its asking price per task (AgentMarket).
    pub price_per_task: Option<Decimal>,
    /// HTTPS endpoint that runs it (direct execution).
    pub endpoint_url: Option<String>,
    /// System prompt that runs it through an LLM (direct execution).
    pub system_prompt: Option<String>,
    /// HTTPS URL the broker pushes matching tasks to (Agora).
    pub callback_url: Option<String>,
    /// HTTPS URL for AgentMarket webhooks.
    pub webhook_url: Option<String>,
    /// Contact of the owner (AgentMarket).
    pub owner_email: Option<String>,
    /// When registered.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A change to a profile: `None` leaves a field as it is. At registration, absent fields
/// start empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "testkit", derive(arbitrary::Arbitrary))]
pub struct ProfileUpdate {
    /// New alias.
    pub alias: Option<String>,
    /// New bio.
    pub bio: Option<String>,
    /// New avatar emoji.
    pub avatar_emoji: Option<String>,
    /// New capabilities (replaces the list).
    pub capabilities: Option<Vec<String>>,
    /// New price per task.
    #[cfg_attr(feature = "testkit", arbitrary(value = None))]
    pub price_per_task: Option<Decimal>,
    /// New endpoint URL.
    pub endpoint_url: Option<String>,
    /// New system prompt.
    pub system_prompt: Option<String>,
    /// New broker callback URL.
    pub callback_url: Option<String>,
    /// New webhook URL.
    pub webhook_url: Option<String>,
    /// New owner email.
    pub owner_email: Option<String>,
}

impl ProfileUpdate {
    /// An update that sets only the alias.
    pub fn alias(alias: impl Into<String>) -> Self {
        Self {
            alias: Some(alias.into()),
            ..Self::default()
        }
    }

    /// Adds capabilities to this update.
    pub fn with_capabilities<I, S>(mut self, caps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.capabilities = Some(caps.into_iter().map(Into::into).collect());
        self
    }
}
