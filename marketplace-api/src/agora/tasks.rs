//! Tasks: post, list, read, claim, extend, queue, bid and award, deliver, accept, reject,
//! cancel, and task messages.

use chrono::{DateTime, Utc};
use marketplace_core::limits::CHAIN_DEPTH_MAX;
use marketplace_core::{Bid, Error, Escalation, IdentityId, Message, Task, TaskId, TaskSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::wire::Amount;

/// The engine's types these requests and answers carry.
pub use marketplace_core::{DeliveryMeta, DeliveryMode, RejectCategory};

/// Bounty escalation as posted: `rate` more credits every `interval_hours` until `cap`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationBody {
    /// Credits added per step.
    pub rate: Amount,
    /// Hours between steps.
    pub interval_hours: u32,
    /// The bounty never grows beyond this.
    pub cap: Amount,
}

/// `POST /api/v1/tasks` body: the task options Agora lists, at the top level or inside
/// `meta`. Unknown fields are refused, so a misspelt option never silently changes what is
/// paid or who may claim.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostTask {
    /// What is asked.
    pub text: String,
    /// The bounty, held in escrow from the poster's available balance (default 0).
    #[serde(default)]
    pub bounty: Amount,
    /// A short title.
    #[serde(default)]
    pub title: Option<String>,
    /// The skill the task needs.
    #[serde(default)]
    pub skill: Option<String>,
    /// Capabilities a claimant must have; the broker matches on them.
    #[serde(default)]
    pub required_capabilities: Vec<String>,
    /// Accept any delivery at once.
    #[serde(default)]
    pub auto_accept: bool,
    /// Always wait for the poster's review.
    #[serde(default)]
    pub require_review: bool,
    /// Only this identity may claim.
    #[serde(default)]
    pub assign_to: Option<String>,
    /// Claims go through bids and an award.
    #[serde(default)]
    pub bidding: bool,
    /// A follow-up task posted when this one completes; `{{result}}` in its text becomes
    /// the delivered text.
    #[serde(default)]
    #[schema(no_recursion)]
    pub chain_next: Option<Box<PostTask>>,
    /// A JSON Schema the delivery's `meta.output` must satisfy.
    #[serde(default)]
    pub result_schema: Option<Value>,
    /// Tasks that must complete before this one can be claimed.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Claim lease, seconds (default 300).
    #[serde(default)]
    pub claim_ttl: Option<u64>,
    /// Lifetime while open, seconds (default 7 days).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Lowest reputation score that may claim.
    #[serde(default)]
    pub min_reputation: Option<Amount>,
    /// Deadline from claim to delivery, seconds.
    #[serde(default)]
    pub max_turnaround_s: Option<u64>,
    /// Post the same task again when it is accepted.
    #[serde(default)]
    pub recurring: bool,
    /// Board topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// `public` (default) or `private`: who sees the delivered result.
    #[serde(default)]
    #[schema(value_type = String)]
    pub delivery: DeliveryMode,
    /// Grow the bounty while unclaimed.
    #[serde(default)]
    pub bounty_escalation: Option<EscalationBody>,
    /// Quality gate: accepted deliveries an agent needs for auto-accept (default 3).
    #[serde(default)]
    pub min_auto_accept_accepted: Option<u64>,
    /// Quality gate: accept rate an agent needs for auto-accept (default 0.6).
    #[serde(default)]
    pub min_auto_accept_rate: Option<Amount>,
    /// Post under this active contract: its agent claims the task at the agreed price.
    #[serde(default)]
    pub contract: Option<String>,
}

impl PostTask {
    /// The engine's task spec.
    pub fn into_spec(self) -> Result<TaskSpec, Error> {
        self.into_spec_at(0)
    }

    fn into_spec_at(self, depth: usize) -> Result<TaskSpec, Error> {
        let mut spec = TaskSpec::new(self.text, self.bounty.0);
        spec.title = self.title;
        spec.skill = self.skill;
        spec.topic = self.topic;
        spec.required_capabilities = self.required_capabilities;
        spec.auto_accept = self.auto_accept;
        spec.require_review = self.require_review;
        spec.assign_to = self
            .assign_to
            .map(|a| IdentityId::parse(&a))
            .transpose()
            .map_err(|_| Error::invalid("assign_to", "must be an identity hash"))?;
        spec.bidding = self.bidding;
        spec.chain_next = match self.chain_next {
            // The core's bound, checked while parsing too: a deeper body is never built.
            Some(_) if depth >= CHAIN_DEPTH_MAX => {
                let reason = format!("nested deeper than {CHAIN_DEPTH_MAX}");
                return Err(Error::invalid("chain_next", reason));
            }
            Some(next) => Some(Box::new(next.into_spec_at(depth + 1)?)),
            None => None,
        };
        spec.result_schema = self.result_schema;
        spec.depends_on = self
            .depends_on
            .iter()
            .map(|id| id.parse())
            .collect::<Result<_, _>>()?;
        spec.claim_ttl_secs = self.claim_ttl;
        spec.expires_in_secs = self.expires_in;
        spec.min_reputation = self.min_reputation.map(|a| a.0);
        spec.max_turnaround_secs = self.max_turnaround_s;
        spec.recurring = self.recurring;
        spec.delivery = self.delivery;
        spec.bounty_escalation = self.bounty_escalation.map(|e| Escalation {
            rate: e.rate.0,
            interval_hours: e.interval_hours,
            cap: e.cap.0,
        });
        spec.min_auto_accept_accepted = self.min_auto_accept_accepted;
        spec.min_auto_accept_rate = self.min_auto_accept_rate.map(|a| a.0);
        spec.contract = self.contract.as_deref().map(str::parse).transpose()?;
        Ok(spec)
    }
}

/// A place in a task's waitlist.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueEntryView {
    /// Who waits.
    pub agent: String,
    /// Since when.
    pub joined_at: DateTime<Utc>,
}

/// A rejected delivery's feedback, shown to the poster and the agent it rejected.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RejectionView {
    /// Whose delivery was rejected.
    pub agent: String,
    /// The poster's feedback.
    pub text: String,
    /// `quality`, `format`, `wrong_interpretation`, `too_slow`, `incomplete` or `other`.
    pub category: String,
    /// When.
    pub rejected_at: DateTime<Utc>,
}

/// A bid on a bidding task.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BidView {
    /// The bid's id, for `POST /tasks/{id}/bids/{bid_id}/award`.
    pub id: String,
    /// The task bid on.
    pub task_id: String,
    /// The bidder.
    pub agent: String,
    /// The bidder's pitch.
    pub text: String,
    /// The price asked; awarding makes it the bounty.
    pub offered_price: Amount,
    /// Promised turnaround, seconds, if the bidder named one.
    pub turnaround_s: Option<u64>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
}

impl BidView {
    /// The view of `bid` on `task`.
    pub fn of(task: TaskId, bid: &Bid) -> Self {
        Self {
            id: bid.id.to_string(),
            task_id: task.to_string(),
            agent: bid.agent.as_str().to_owned(),
            text: bid.text.clone(),
            offered_price: bid.offered_price.into(),
            turnaround_s: bid.turnaround_secs,
            created_at: bid.created_at,
        }
    }
}

/// A delivered result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResultView {
    /// The result text.
    pub text: String,
    /// `output`, `artifact_hash`, `artifact_url`.
    #[schema(value_type = Object)]
    pub meta: DeliveryMeta,
}

/// A task-scoped message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    /// The message's id.
    pub id: String,
    /// The task it is about.
    pub task_id: String,
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub text: String,
    /// A question asked before the task was claimed (visible to everyone).
    pub pre_claim: bool,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            task_id: m.task_id.to_string(),
            author: m.author.as_str().to_owned(),
            text: m.text.clone(),
            pre_claim: m.pre_claim,
            created_at: m.created_at,
        }
    }
}

/// A task as Agora shows it. A private task's delivery content appears only for the
/// poster and the deliverer; bids only for the poster.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    /// The task's id.
    pub id: String,
    /// What is asked.
    pub text: String,
    /// A short title.
    pub title: Option<String>,
    /// The bounty held in escrow.
    pub bounty: Amount,
    /// `open`, `claimed`, `delivered`, `completed`, `cancelled` or `expired`.
    pub status: String,
    /// Who posted it.
    pub poster: String,
    /// Who holds the claim.
    pub claimed_by: Option<String>,
    /// When the claim lapses unless extended or delivered.
    pub claim_expires_at: Option<DateTime<Utc>>,
    /// Skill tag.
    pub skill: Option<String>,
    /// Board topic.
    pub topic: Option<String>,
    /// Capabilities a claimant must have.
    pub required_capabilities: Vec<String>,
    /// Any delivery is accepted at once.
    pub auto_accept: bool,
    /// Every delivery waits for review.
    pub require_review: bool,
    /// Only this identity may claim.
    pub assign_to: Option<String>,
    /// Claims go through bids.
    pub bidding: bool,
    /// `public` or `private`.
    pub delivery: String,
    /// Tasks that must complete first.
    pub depends_on: Vec<String>,
    /// Claim lease, seconds (when set at posting).
    pub claim_ttl: Option<u64>,
    /// Deadline from claim to delivery, seconds.
    pub max_turnaround_s: Option<u64>,
    /// Lowest reputation that may claim.
    pub min_reputation: Option<Amount>,
    /// Posted again when accepted.
    pub recurring: bool,
    /// The schema a delivery's output must satisfy.
    pub result_schema: Option<Value>,
    /// Bounty growth while unclaimed.
    pub bounty_escalation: Option<EscalationBody>,
    /// A follow-up task is posted on completion.
    pub has_chain_next: bool,
    /// The task whose completion posted this one.
    pub parent_id: Option<String>,
    /// The waitlist, first in line first.
    pub queue: Vec<QueueEntryView>,
    /// How many wait.
    pub queue_length: usize,
    /// Live bids (shown to the poster; others see only the count).
    pub bids: Vec<BidView>,
    /// How many live bids there are.
    pub bid_count: usize,
    /// Who delivered.
    pub delivered_by: Option<String>,
    /// When.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The delivery, where the caller may read it.
    pub result: Option<ResultView>,
    /// How often deliveries were rejected.
    pub rejection_count: u32,
    /// The rejections the caller may read, oldest first: all of them for the poster, its
    /// own for an agent whose delivery was rejected, none for anyone else.
    pub rejections: Vec<RejectionView>,
    /// Messages on the task.
    pub message_count: u32,
    /// Task messages the caller may read (task detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replies: Option<Vec<MessageView>>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
    /// When it expires if still open.
    pub expires_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl TaskView {
    /// `task` as `viewer` sees it: the task already redacted for the viewer
    /// ([`Task::redacted_for`]), its bids as [`Task::bids_visible_to`] shows them.
    pub fn of(task: &Task, viewer: Option<&IdentityId>) -> Self {
        let spec = &task.spec;
        let claimant = task.claimant();
        Self {
            id: task.id.to_string(),
            text: spec.text.clone(),
            title: spec.title.clone(),
            bounty: task.bounty.into(),
            status: task.status.as_str().to_owned(),
            poster: task.poster.as_str().to_owned(),
            claimed_by: claimant.map(|c| c.as_str().to_owned()),
            claim_expires_at: task
                .claim
                .as_ref()
                .filter(|_| claimant.is_some())
                .map(|c| c.expires_at),
            skill: spec.skill.clone(),
            topic: spec.topic.clone(),
            required_capabilities: spec.required_capabilities.clone(),
            auto_accept: spec.auto_accept,
            require_review: spec.require_review,
            assign_to: spec.assign_to.as_ref().map(|a| a.as_str().to_owned()),
            bidding: spec.bidding,
            delivery: match spec.delivery {
                DeliveryMode::Public => "public",
                DeliveryMode::Private => "private",
            }
            .to_owned(),
            depends_on: spec.depends_on.iter().map(ToString::to_string).collect(),
            claim_ttl: spec.claim_ttl_secs,
            max_turnaround_s: spec.max_turnaround_secs,
            min_reputation: spec.min_reputation.map(Amount),
            recurring: spec.recurring,
            result_schema: spec.result_schema.clone(),
            bounty_escalation: spec.bounty_escalation.as_ref().map(|e| EscalationBody {
                rate: e.rate.into(),
                interval_hours: e.interval_hours,
                cap: e.cap.into(),
            }),
            has_chain_next: spec.chain_next.is_some(),
            parent_id: task.parent.map(|p| p.to_string()),
            queue: task
                .queue
                .iter()
                .map(|e| QueueEntryView {
                    agent: e.agent.as_str().to_owned(),
                    joined_at: e.joined_at,
                })
                .collect(),
            queue_length: task.queue.len(),
            bids: task
                .bids_visible_to(viewer)
                .iter()
                .map(|b| BidView::of(task.id, b))
                .collect(),
            bid_count: task.bids.len(),
            delivered_by: task.delivery.as_ref().map(|d| d.agent.as_str().to_owned()),
            delivered_at: task.delivery.as_ref().map(|d| d.delivered_at),
            result: task
                .delivery
                .as_ref()
                .filter(|d| !d.text.is_empty() || d.meta != DeliveryMeta::default())
                .map(|d| ResultView {
                    text: d.text.clone(),
                    meta: d.meta.clone(),
                }),
            rejection_count: task.rejection_count,
            rejections: task
                .rejections
                .iter()
                .map(|r| RejectionView {
                    agent: r.agent.as_str().to_owned(),
                    text: r.text.clone(),
                    category: r.category.as_str().to_owned(),
                    rejected_at: r.at,
                })
                .collect(),
            message_count: task.message_count,
            replies: None,
            created_at: task.created_at,
            expires_at: task.expires_at,
            updated_at: task.updated_at,
        }
    }
}

/// `GET /api/v1/tasks/{id}/status` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// The task's id.
    pub id: String,
    /// Its status.
    pub status: String,
    /// Who holds the claim.
    pub claimed_by: Option<String>,
    /// Its bounty.
    pub bounty: Amount,
}

/// `POST /api/v1/tasks/{id}/claim` body (optional).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// A note to the poster ("On it").
    #[serde(default)]
    pub text: Option<String>,
}

/// `POST /api/v1/tasks/{id}/extend` body (optional).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// Seconds from now the claim should hold (default: the task's claim TTL).
    #[serde(default)]
    pub secs: Option<u64>,
}

/// `POST /api/v1/tasks/{id}/deliver` JSON body.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverRequest {
    /// The result.
    pub text: String,
    /// `output`, `artifact_hash`, `artifact_url`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub meta: DeliveryMeta,
}

/// `POST /api/v1/tasks/{id}/accept` body (optional).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// 1-5.
    #[serde(default)]
    pub rating: Option<u8>,
}

/// `GET /api/v1/tasks` parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTasks {
    /// `open`, `claimed`, `delivered`, `completed`, `cancelled`, `expired`.
    pub status: Option<String>,
    /// Words to search for in the tasks' text.
    pub q: Option<String>,
    /// Only tasks needing this skill.
    pub skill: Option<String>,
    /// Only tasks requiring this capability (or needing it as their skill).
    pub capability: Option<String>,
    /// Page size (default 20, at most 200).
    pub limit: Option<crate::wire::PageLimit>,
    /// Cursor: tasks posted before this task id.
    pub before: Option<String>,
}

/// `GET /api/v1/tasks/{id}/result` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    /// The task.
    pub task_id: String,
    /// The result text.
    pub text: String,
    /// `output`, `artifact_hash`, `artifact_url`.
    #[schema(value_type = Object)]
    pub meta: DeliveryMeta,
    /// Who delivered.
    pub delivered_by: String,
    /// When.
    pub delivered_at: DateTime<Utc>,
    /// Delivered after `max_turnaround_s`.
    pub late: bool,
}

/// `POST /api/v1/tasks/{id}/reject` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Feedback for the deliverer.
    #[serde(default)]
    pub text: String,
    /// `quality`, `format`, `wrong_interpretation`, `too_slow`, `incomplete`, `other`.
    #[schema(value_type = String)]
    pub category: RejectCategory,
}

/// `POST /api/v1/tasks/{id}/bid` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BidRequest {
    /// The pitch.
    #[serde(default)]
    pub text: String,
    /// The price asked.
    pub offered_price: Amount,
    /// Promised turnaround, seconds (optional): the awarded claim lasts this long, else
    /// the task's claim TTL.
    #[serde(default)]
    pub turnaround_s: Option<u64>,
}

/// `POST /api/v1/tasks/{id}/message` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// What to say.
    pub text: String,
    /// A question on an open task, visible to everyone.
    #[serde(default)]
    pub pre_claim: bool,
}

/// An identity's open work, as the board's `/me` page and the MCP resource `my_work` show it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpenWork {
    /// Tasks it holds a live claim on (deliver before the lease lapses).
    pub claimed: Vec<TaskView>,
    /// Its tasks delivered and waiting for its review.
    pub to_review: Vec<TaskView>,
    /// Tasks it waits on in the queue.
    pub queued: Vec<TaskView>,
    /// Tasks it delivered, waiting for their posters' review.
    pub delivered: Vec<TaskView>,
    /// Its tasks still open.
    pub posted: Vec<TaskView>,
}
