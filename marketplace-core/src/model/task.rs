use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{BidId, ContractId, IdentityId, TaskId};
use crate::time::{Timestamp, secs};

use super::status::TaskStatus;

/// Who may see a delivery's content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "testkit", derive(arbitrary::Arbitrary))]
pub enum DeliveryMode {
    /// Everyone who can see the task.
    #[default]
    Public,
    /// Only the poster and the deliverer.
    Private,
}

/// Bounty escalation: `rate` more credits every `interval_hours` while unclaimed, up to `cap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Credits added per step.
    pub rate: Decimal,
    /// Hours between steps.
    pub interval_hours: u32,
    /// The highest bounty escalation reaches.
    pub cap: Decimal,
}

/// What a poster submits: every option of the Agora document plus AgentMarket's title.
/// (AgentMarket's `description` is `text`, its `budget` is `bounty`.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Short title (AgentMarket).
    pub title: Option<String>,
    /// What is asked. At least one of `title` and `text` must be non-empty.
    pub text: String,
    /// Credit reward, escrowed on posting.
    pub bounty: Decimal,
    /// Skill tag for categorization and matching.
    pub skill: Option<String>,
    /// Board topic, for the feed.
    pub topic: Option<String>,
    /// Capabilities needed; the broker matches on these and on `skill`.
    pub required_capabilities: Vec<String>,
    /// Accept any delivery at once.
    pub auto_accept: bool,
    /// Always wait for the poster's review (wins over `auto_accept` and the gate).
    pub require_review: bool,
    /// Only this identity may claim.
    pub assign_to: Option<IdentityId>,
    /// Agents bid; the poster awards one bid instead of first-claim-wins.
    pub bidding: bool,
    /// Posted on completion, funded by the same poster; `{{result}}` becomes the delivery
    /// text.
    pub chain_next: Option<Box<TaskSpec>>,
    /// JSON Schema the delivery's output must validate against.
    pub result_schema: Option<serde_json::Value>,
    /// Tasks that must be completed before this one can be claimed.
    pub depends_on: Vec<TaskId>,
    /// Claim lease in seconds (default from the policy).
    pub claim_ttl_secs: Option<u64>,
    /// Lifetime while open, in seconds (default from the policy).
    pub expires_in_secs: Option<u64>,
    /// Minimum reputation score to claim.
    pub min_reputation: Option<Decimal>,
    /// Post again when accepted.
    pub recurring: bool,
    /// Who may read the delivery.
    pub delivery: DeliveryMode,
    /// Bounty growth while unclaimed.
    pub bounty_escalation: Option<Escalation>,
    /// Deliveries later than this many seconds after the claim are late.
    pub max_turnaround_secs: Option<u64>,
    /// Quality gate override: accepted deliveries needed for auto-accept.
    pub min_auto_accept_accepted: Option<u64>,
    /// Quality gate override: accept rate needed for auto-accept.
    pub min_auto_accept_rate: Option<Decimal>,
    /// Post under this active contract: the contractor claims it at the agreed price.
    pub contract: Option<ContractId>,
    /// Hired directly (AgentMarket's execution): the marketplace calls its assignee itself,
    /// so the task is not announced to anyone (no `task.posted` delivery). Left out of the
    /// serialized spec when false, so specs from before it read and fingerprint the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
}

impl TaskSpec {
    /// A task with `text` and `bounty`, every option at its default.
    ///
    /// ```
    /// use marketplace_core::TaskSpec;
    /// let spec = TaskSpec::new("Summarize this paper", 25).skill("research");
    /// assert_eq!(spec.bounty, 25.into());
    /// ```
    pub fn new(text: impl Into<String>, bounty: impl Into<Decimal>) -> Self {
        Self {
            text: text.into(),
            bounty: bounty.into(),
            ..Self::default()
        }
    }

    /// Sets the skill tag.
    pub fn skill(mut self, skill: impl Into<String>) -> Self {
        self.skill = Some(skill.into());
        self
    }

    /// Sets the required capabilities.
    pub fn capabilities<I, S>(mut self, caps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_capabilities = caps.into_iter().map(Into::into).collect();
        self
    }

    /// The tags the broker and capability filters match: required capabilities and skill.
    pub fn match_tags(&self) -> Vec<String> {
        let mut tags = self.required_capabilities.clone();
        if let Some(skill) = &self.skill
            && !tags.contains(skill)
        {
            tags.push(skill.clone());
        }
        tags.sort();
        tags
    }
}

/// The live claim on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Who holds it.
    pub agent: IdentityId,
    /// When it was taken (extensions keep this; lateness counts from here).
    pub claimed_at: Timestamp,
    /// When it lapses unless extended or delivered.
    pub expires_at: Timestamp,
    /// The claimant's note ("On it").
    pub note: Option<String>,
}

/// A place in a task's waitlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Who waits.
    pub agent: IdentityId,
    /// Since when; promotion is first in, first out.
    pub joined_at: Timestamp,
}

/// Structured delivery metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryMeta {
    /// Structured output; validated against `result_schema` when the task has one.
    pub output: Option<serde_json::Value>,
    /// Content hash of an uploaded artifact (`<sha256 hex>.<ext>`).
    pub artifact_hash: Option<String>,
    /// External location: `https://`, `ipfs://` or `knarr-asset://`.
    pub artifact_url: Option<String>,
}

/// What a claimant submits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryInput {
    /// The result text.
    pub text: String,
    /// Structured metadata.
    pub meta: DeliveryMeta,
}

impl DeliveryInput {
    /// A delivery of plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            meta: DeliveryMeta::default(),
        }
    }
}

/// A delivery awaiting review, or the accepted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Who delivered.
    pub agent: IdentityId,
    /// The result text.
    pub text: String,
    /// Structured metadata.
    pub meta: DeliveryMeta,
    /// When.
    pub delivered_at: Timestamp,
    /// Delivered after `max_turnaround_s` from the claim.
    pub late: bool,
    /// When the delivery is accepted automatically if the poster has not reviewed it.
    pub review_deadline: Timestamp,
}

/// Why a poster rejected a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "testkit", derive(arbitrary::Arbitrary))]
pub enum RejectCategory {
    /// Not good enough.
    Quality,
    /// Wrong shape.
    Format,
    /// Answered another question.
    WrongInterpretation,
    /// Too late.
    TooSlow,
    /// Missing parts.
    Incomplete,
    /// Something else.
    Other,
}

impl RejectCategory {
    /// Every category.
    pub const ALL: [Self; 6] = [
        Self::Quality,
        Self::Format,
        Self::WrongInterpretation,
        Self::TooSlow,
        Self::Incomplete,
        Self::Other,
    ];

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quality => "quality",
            Self::Format => "format",
            Self::WrongInterpretation => "wrong_interpretation",
            Self::TooSlow => "too_slow",
            Self::Incomplete => "incomplete",
            Self::Other => "other",
        }
    }
}

/// A rejection of a task's delivery: the poster's feedback to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Whose delivery was rejected.
    pub agent: IdentityId,
    /// The poster's feedback.
    pub text: String,
    /// Why.
    pub category: RejectCategory,
    /// When.
    pub at: Timestamp,
}

/// A bid on a bidding task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bid {
    /// The bid.
    pub id: BidId,
    /// The bidder.
    pub agent: IdentityId,
    /// The pitch.
    pub text: String,
    /// The price asked; the bounty becomes this on award.
    pub offered_price: Decimal,
    /// Promised turnaround, if the bidder named one; the awarded claim lasts this long
    /// (else the task's claim TTL).
    pub turnaround_secs: Option<u64>,
    /// When.
    pub created_at: Timestamp,
}

/// The settlement of a completed task: paid once, never again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payout {
    /// Who was paid.
    pub agent: IdentityId,
    /// What they received: bounty minus fee.
    pub amount: Decimal,
    /// The treasury's cut.
    pub fee: Decimal,
    /// When.
    pub at: Timestamp,
}

/// A task and everything that hangs off it: claim, queue, bids, delivery, settlement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The task.
    pub id: TaskId,
    /// Who posted and funds it.
    pub poster: IdentityId,
    /// What was posted. Shared: it never changes after posting, and tasks are copied often.
    pub spec: Arc<TaskSpec>,
    /// The bounty held now (escalation and awards change it).
    pub bounty: Decimal,
    /// Where it is in its life.
    pub status: TaskStatus,
    /// When posted.
    pub created_at: Timestamp,
    /// When it expires if still open.
    pub expires_at: Timestamp,
    /// The live claim.
    pub claim: Option<Claim>,
    /// The waitlist, first in first out.
    pub queue: Vec<QueueEntry>,
    /// Live bids, one per bidder.
    pub bids: Vec<Bid>,
    /// The delivery under review, or the accepted one (shared: a delivery never changes).
    pub delivery: Option<Arc<Delivery>>,
    /// The rejections of its deliveries, oldest first: the most recent
    /// [`crate::limits::REJECTIONS_KEPT_MAX`]. Each is shown only to the poster and the
    /// agent whose delivery it rejected (see [`Task::redacted_for`]).
    #[serde(default)]
    pub rejections: Vec<Rejection>,
    /// How many deliveries were rejected.
    pub rejection_count: u32,
    /// Escalation steps applied so far.
    pub escalation_steps: u32,
    /// Escalation ended (claimed, capped, or the poster could not cover a step).
    pub escalation_stopped: bool,
    /// The settlement, once accepted.
    pub payout: Option<Payout>,
    /// The poster's 1-5 rating of the accepted delivery.
    pub rating: Option<u8>,
    /// Task-scoped messages so far.
    pub message_count: u32,
    /// The task whose completion posted this one (chain or recurrence).
    pub parent: Option<TaskId>,
    /// When it reached a final state.
    pub closed_at: Option<Timestamp>,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Task {
    /// The claim lease for this task under `default_secs`.
    pub fn claim_ttl_secs(&self, default_secs: u64) -> u64 {
        self.spec.claim_ttl_secs.unwrap_or(default_secs)
    }

    /// The agents besides the poster whose records a command on this task may change: the
    /// claim's agent, the delivery's agent and the queue's head (a rejection promotes it), in
    /// that order, absent ones left out. A store may keep them beside the task to load them
    /// with it (see [`crate::store::TaskParties`]).
    pub fn involved(&self) -> impl Iterator<Item = &IdentityId> {
        self.claim
            .as_ref()
            .map(|c| &c.agent)
            .into_iter()
            .chain(self.delivery.as_ref().map(|d| &d.agent))
            .chain(self.queue.first().map(|e| &e.agent))
    }

    /// The live claimant, if claimed.
    pub fn claimant(&self) -> Option<&IdentityId> {
        match self.status {
            TaskStatus::Claimed => self.claim.as_ref().map(|c| &c.agent),
            _ => None,
        }
    }

    /// Whether `identity` takes part in the task: its poster, its claimant, its deliverer,
    /// one waiting in its queue, a bidder, or an agent whose delivery it rejected.
    pub fn takes_part(&self, identity: &IdentityId) -> bool {
        &self.poster == identity
            || self.claim.as_ref().is_some_and(|c| &c.agent == identity)
            || self.delivery.as_ref().is_some_and(|d| &d.agent == identity)
            || self.is_queued(identity)
            || self.bids.iter().any(|b| &b.agent == identity)
            || self.rejections.iter().any(|r| &r.agent == identity)
    }

    /// Whether `agent` waits in the queue.
    pub fn is_queued(&self, agent: &IdentityId) -> bool {
        self.queue.iter().any(|e| &e.agent == agent)
    }

    /// When the next escalation step is due, if escalation is still running.
    pub fn next_escalation_at(&self) -> Option<Timestamp> {
        let esc = self.spec.bounty_escalation.as_ref()?;
        if self.status != TaskStatus::Open || self.escalation_stopped || self.bounty >= esc.cap {
            return None;
        }
        let step = u64::from(self.escalation_steps) + 1;
        Some(self.created_at + secs(step * u64::from(esc.interval_hours) * 3600))
    }

    /// The earliest deadline at which time alone changes this task: claim expiry, review
    /// auto-accept, lifetime end, or an escalation step. Stores index tasks by this.
    pub fn due_at(&self) -> Option<Timestamp> {
        match self.status {
            TaskStatus::Claimed => self.claim.as_ref().map(|c| c.expires_at),
            TaskStatus::Delivered => self.delivery.as_ref().map(|d| d.review_deadline),
            TaskStatus::Open => Some(match self.next_escalation_at() {
                Some(step) if step < self.expires_at => step,
                _ => self.expires_at,
            }),
            _ => None,
        }
    }

    /// Whether the delivery may be shown to `viewer`.
    pub fn delivery_visible_to(&self, viewer: Option<&IdentityId>) -> bool {
        match self.spec.delivery {
            DeliveryMode::Public => true,
            DeliveryMode::Private => viewer.is_some_and(|v| {
                v == &self.poster || self.delivery.as_ref().is_some_and(|d| &d.agent == v)
            }),
        }
    }

    /// The live bids `viewer` may see: every one for the poster, none for anyone else.
    /// How many there are (`bids.len()`) is public. Every face shows bids through this.
    pub fn bids_visible_to(&self, viewer: Option<&IdentityId>) -> &[Bid] {
        if viewer == Some(&self.poster) {
            &self.bids
        } else {
            &[]
        }
    }

    /// The task as `viewer` may see it: private deliveries are emptied for everyone but the
    /// poster and the deliverer (the fact of delivery stays visible); a rejection's feedback
    /// is kept for the poster and the agent it rejected (the count stays visible).
    pub fn redacted_for(mut self, viewer: Option<&IdentityId>) -> Self {
        if viewer != Some(&self.poster) {
            self.rejections.retain(|r| Some(&r.agent) == viewer);
        }
        if !self.delivery_visible_to(viewer)
            && let Some(d) = &mut self.delivery
        {
            let d = Arc::make_mut(d);
            d.text.clear();
            d.meta = DeliveryMeta::default();
        }
        self
    }
}
