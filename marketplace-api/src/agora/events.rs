//! The live event stream, `GET /api/v1/events`.

use super::tasks::TaskView;
use chrono::{DateTime, Utc};
use marketplace_core::{Event, EventKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `GET /api/v1/events` parameters: which new tasks to hear of. Other events are the
/// caller's own and are not filtered.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Only `task.posted` of tasks needing this skill.
    pub skill: Option<String>,
    /// Only `task.posted` of tasks requiring this capability (or needing it as their
    /// skill).
    pub capability: Option<String>,
}

/// One event of the stream: the `data` of a server-sent event whose `event` is `kind` and
/// whose `id` is `seq`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LiveEvent {
    /// The outbox sequence number: the event's `id`.
    pub seq: u64,
    /// What happened, e.g. `task.claimed`.
    pub kind: String,
    /// The task concerned.
    pub task_id: Option<String>,
    /// The identity the event is about (claimant, deliverer, bidder, …).
    pub subject: Option<String>,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Details of the kind (amounts as JSON numbers).
    #[schema(value_type = Object)]
    pub data: Value,
    /// The task as the event's command left it, as the caller may see it.
    pub task: Option<TaskView>,
}

impl EventsParams {
    /// Whether `event` passes the filters.
    pub fn admits(&self, event: &Event) -> bool {
        if event.kind != EventKind::TaskPosted {
            return true;
        }
        let Some(task) = event.task.as_deref() else {
            return false;
        };
        let skill = self
            .skill
            .as_ref()
            .is_none_or(|s| task.spec.skill.as_ref() == Some(s));
        let capability = self
            .capability
            .as_ref()
            .is_none_or(|c| task.spec.match_tags().contains(c));
        skill && capability
    }
}
