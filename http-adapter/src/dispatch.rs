//! The outbox dispatcher: turns domain events into signed HTTPS deliveries to agents'
//! webhook and callback URLs, at least once, with backoff, recording every attempt.
//!
//! Two stages, both through the store, so any replica may run them and a crash loses
//! nothing:
//!
//! 1. **Fan-out.** Lease outbox events; for each, choose its recipients (below) and store
//!    one delivery per recipient and channel, in one transaction with taking the event out
//!    of the outbox ([`Deliveries::fan_out`](marketplace_core::store::Deliveries::fan_out)).
//! 2. **Send.** Lease due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL: replicas
//!    share them, none sends one twice at once); POST each with its signatures; record the
//!    attempt; on anything but 2xx, retry after the next backoff step (±10% jitter) until
//!    the delivery is older than the give-up age. A crash between sending and recording
//!    resends after the lease runs out: receivers deduplicate on `webhook-id`.
//!
//! Recipients, by event (each identity's webhook receives only the events it subscribed
//! to; `task.posted` by default):
//!
//! | event | webhook | callback |
//! |---|---|---|
//! | `task.posted` | agents whose capabilities overlap the task's required capabilities or skill (only the assignee, for an assigned task), never the poster | the same agents |
//! | `task.claimed` | the poster | the claimant, when the broker, a contract or an award assigned it |
//! | `task.delivered`, `bid.received` | the poster | — |
//! | `task.accepted`, `task.rejected` | the deliverer | — |
//! | `claim.expired` | the claimant who lost it, and the poster | — |
//! | `queue.promoted` | the promoted agent | the promoted agent |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use marketplace_core::store::{
    Backend, Channel, DeliveryAttempt, FanOut, FinishedAttempt, LeasedDelivery, NewDelivery,
    NextStep, WebhookSettings,
};
use marketplace_core::{ClaimVia, Event, EventData, EventKind, IdentityId, Profile, Task};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::error::ApiError;
use crate::limits::{
    EVENTS_PER_ROUND, FAN_OUT_ROUNDS_PER_TICK, FANOUT_MAX, RECIPIENTS_KEPT_PER_ROUND,
    SUBSCRIBERS_PER_PAGE, WEBHOOK_ANSWER_BYTES_MAX,
};
use crate::outbound::sign::signed_headers;
pub use crate::reach::{LLM_BASE_URL_DEFAULT, LLM_MODEL_DEFAULT, LlmConfig, ReachConfig};
use crate::state::AppState;

/// `step` moved by up to ±10%, at random.
fn jitter(step: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let spread = if getrandom::fill(&mut byte).is_ok() {
        i64::from(u16::from_le_bytes(byte) % 2001) - 1000
    } else {
        0
    };
    let millis = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
    let moved = millis.saturating_add(millis / 10 * spread / 1000);
    Duration::from_millis(u64::try_from(moved.max(1)).unwrap_or(1))
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Whether `channel` of `profile` has somewhere to send to.
fn url_of(profile: &Profile, channel: Channel) -> Option<&str> {
    match channel {
        Channel::Webhook => profile.webhook_url.as_deref(),
        Channel::Callback => profile.callback_url.as_deref(),
    }
    .filter(|u| !u.is_empty())
}

/// One fan-out round's planning, and the recipients it has looked up: each identity's
/// profile and webhook settings read once a round, however many of its events name it (a
/// poster is named by the claim, the delivery and often more events of one round); at
/// most [`RECIPIENTS_KEPT_PER_ROUND`] of each kept.
#[derive(Default)]
struct Recipients {
    /// `None`: no such identity.
    profiles: HashMap<IdentityId, Option<Profile>>,
    webhooks: HashMap<IdentityId, Option<WebhookSettings>>,
}

/// `who`'s entry of `kept`, read with `read` only the first time it is asked for; past
/// [`RECIPIENTS_KEPT_PER_ROUND`] entries the map starts afresh.
async fn kept<'m, T>(
    kept: &'m mut HashMap<IdentityId, Option<T>>,
    who: &IdentityId,
    read: impl Future<Output = Result<Option<T>, ApiError>>,
) -> Result<Option<&'m T>, ApiError> {
    if !kept.contains_key(who) {
        let found = read.await?;
        if kept.len() >= RECIPIENTS_KEPT_PER_ROUND {
            kept.clear();
        }
        kept.insert(who.clone(), found);
    }
    Ok(kept.get(who).and_then(Option::as_ref))
}

impl Recipients {
    /// `who`'s profile (`None`: no such identity), read once a round.
    async fn profile<S: Backend + Clone>(
        &mut self,
        app: &AppState<S>,
        who: &IdentityId,
    ) -> Result<Option<&Profile>, ApiError> {
        let read = async {
            match app.market.profile(who).await {
                Ok(p) => Ok(Some(p)),
                Err(marketplace_core::Error::UnknownIdentity) => Ok(None),
                Err(e) => Err(e.into()),
            }
        };
        kept(&mut self.profiles, who, read).await
    }

    /// `who`'s webhook settings, read once a round.
    async fn webhook<S: Backend + Clone>(
        &mut self,
        app: &AppState<S>,
        who: &IdentityId,
    ) -> Result<Option<&WebhookSettings>, ApiError> {
        let read = async {
            let store = app.market.store();
            store
                .webhook(who)
                .await
                .map_err(|e| ApiError::Engine(e.into()))
        };
        kept(&mut self.webhooks, who, read).await
    }

    /// The deliveries one event makes.
    async fn plan<S: Backend + Clone>(
        &mut self,
        app: &AppState<S>,
        event: &Event,
    ) -> Result<Vec<NewDelivery>, ApiError> {
        let Some(task_id) = event.task_id else {
            return Ok(Vec::new());
        };
        let subject = event.subject.as_ref();
        // The task as the event's command left it (an event stored before events carried
        // their task: as it is now), redacted for no one in particular.
        let task = match &event.task {
            Some(task) => Task::clone(task).redacted_for(None),
            None => match app.market.task(None, task_id).await {
                Ok(task) => task,
                Err(marketplace_core::Error::TaskNotFound) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            },
        };
        let poster = Some(&task.poster);
        let assigned = matches!(
            event.data,
            EventData::Claim {
                via: ClaimVia::Broker | ClaimVia::Contract | ClaimVia::Award
            }
        );
        let mut to: Vec<(IdentityId, Channel)> = Vec::new();
        let mut both = |who: Option<&IdentityId>, webhook: bool, callback: bool| {
            if let Some(who) = who {
                if webhook {
                    to.push((who.clone(), Channel::Webhook));
                }
                if callback {
                    to.push((who.clone(), Channel::Callback));
                }
            }
        };
        match event.kind {
            EventKind::TaskPosted if task.spec.direct => {}
            EventKind::TaskPosted => {
                for agent in app.matching_agents(&task).await? {
                    both(Some(&agent), true, true);
                }
            }
            EventKind::TaskClaimed => {
                both(poster, true, false);
                both(subject, false, assigned);
            }
            EventKind::TaskDelivered | EventKind::BidReceived => both(poster, true, false),
            EventKind::TaskAccepted | EventKind::TaskRejected => both(subject, true, false),
            EventKind::ClaimExpired => {
                both(subject, true, false);
                both(poster, true, false);
            }
            EventKind::QueuePromoted => both(subject, true, true),
            _ => {}
        }
        let mut plan = Vec::with_capacity(to.len());
        for (recipient, channel) in to {
            let found = self
                .body_for(app, event, &task, &recipient, channel)
                .await?;
            if let Some(body) = found {
                plan.push(NewDelivery {
                    event_seq: event.seq,
                    recipient,
                    channel,
                    event: event.kind.as_str().to_owned(),
                    body,
                    created_at: app.market.now(),
                });
            }
        }
        Ok(plan)
    }

    /// The body `recipient` receives on `channel` for `event`, or `None` when that
    /// channel has no URL or the webhook does not subscribe to the event.
    async fn body_for<S: Backend + Clone>(
        &mut self,
        app: &AppState<S>,
        event: &Event,
        task: &Task,
        recipient: &IdentityId,
        channel: Channel,
    ) -> Result<Option<String>, ApiError> {
        let Some(profile) = self.profile(app, recipient).await? else {
            return Ok(None);
        };
        if url_of(profile, channel).is_none() {
            return Ok(None);
        }
        if channel == Channel::Webhook {
            let settings = self.webhook(app, recipient).await?;
            let subscribed =
                settings.is_some_and(|s| s.events.iter().any(|e| e == event.kind.as_str()));
            if !subscribed {
                return Ok(None);
            }
        }
        // `task` is the public view (redacted for no viewer): a private result never travels
        // in a webhook; its poster and deliverer fetch it with their credentials.
        let task_json = match channel {
            Channel::Webhook => {
                serde_json::to_value(marketplace_api::agentmarket::TaskView::of(task))
            }
            Channel::Callback => serde_json::to_value(marketplace_api::agora::tasks::TaskView::of(
                task,
                Some(recipient),
            )),
        }
        .map_err(|e| ApiError::internal(format!("encoding a webhook: {e}")))?;
        let body = json!({
            "event": event.kind.as_str(),
            "task": task_json,
            "marketplace_url": app.reach.marketplace_url,
            "occurred_at": event.at,
            "subject": event.subject,
            "data": crate::wire::event_data(&event.data),
        });
        Ok(Some(body.to_string()))
    }
}

impl<S: Backend + Clone> AppState<S> {
    /// Fans out the due outbox events: round after round while each one finds a full
    /// round's worth ([`EVENTS_PER_ROUND`]), so a dispatcher keeps up with any rate of
    /// events, not one round a tick; at most [`FAN_OUT_ROUNDS_PER_TICK`] rounds. Returns
    /// how many events it leased. A round that fails ends it (its events' leases run out,
    /// and they are tried again).
    pub async fn fan_out_due(&self) -> Result<usize, ApiError> {
        let mut leased = 0;
        for _ in 0..FAN_OUT_ROUNDS_PER_TICK {
            let round = self.fan_out_round().await?;
            leased += round;
            if round < EVENTS_PER_ROUND {
                break;
            }
        }
        Ok(leased)
    }

    /// Fans out up to one round of due outbox events; returns how many.
    pub async fn fan_out_round(&self) -> Result<usize, ApiError> {
        let lease = self.reach.lease().as_secs().max(1);
        let leased = self.market.lease_events(lease, EVENTS_PER_ROUND).await?;
        let mut planned = Vec::with_capacity(leased.len());
        let mut recipients = Recipients::default();
        for event in &leased {
            // One event failing (its lease then runs out, and it is tried again) does not
            // hold up the others.
            match recipients.plan(self, &event.event).await {
                Ok(deliveries) => planned.push(FanOut {
                    seq: event.event.seq,
                    attempt: event.attempt,
                    deliveries,
                }),
                Err(e) => {
                    tracing::warn!(seq = event.event.seq, error = ?e, "fanning out an event failed");
                }
            }
        }
        // The round's events leave the outbox in one transaction: one commit, not one each.
        match self.market.store().fan_out(&planned).await {
            Ok(done) => {
                for (event, done) in planned.iter().zip(done) {
                    if done && !event.deliveries.is_empty() {
                        tracing::debug!(
                            seq = event.seq,
                            deliveries = event.deliveries.len(),
                            "fanned out"
                        );
                    }
                }
            }
            // Their leases run out, and they are tried again.
            Err(e) => {
                tracing::warn!(events = planned.len(), error = %e, "storing a fan-out failed");
            }
        }
        Ok(leased.len())
    }

    /// Agents a posted task is pushed to: the assignee of an assigned task, or every agent
    /// with webhook settings whose capabilities overlap the task's — never the poster.
    async fn matching_agents(&self, task: &Task) -> Result<Vec<IdentityId>, ApiError> {
        if let Some(assignee) = &task.spec.assign_to {
            return Ok(vec![assignee.clone()]);
        }
        let mut wanted = task.spec.required_capabilities.clone();
        wanted.extend(task.spec.skill.iter().cloned());
        let store = self.market.store();
        let mut found = Vec::new();
        let mut after: Option<IdentityId> = None;
        while found.len() < FANOUT_MAX {
            let page = store
                .subscribers(&wanted, after.as_ref(), SUBSCRIBERS_PER_PAGE)
                .await
                .map_err(|e| ApiError::Engine(e.into()))?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            found.extend(page.into_iter().filter(|a| a != &task.poster));
            after = Some(last);
        }
        if found.len() >= FANOUT_MAX {
            tracing::warn!(task = %task.id, limit = FANOUT_MAX, "task.posted reaches only the first agents");
            found.truncate(FANOUT_MAX);
        }
        Ok(found)
    }

    /// Sends one leased delivery and records the attempt at once (a ping). With `retry`, a
    /// failure is retried after the backoff; without, it is given up.
    pub async fn send_delivery(
        &self,
        leased: &LeasedDelivery,
        retry: bool,
    ) -> Result<DeliveryAttempt, ApiError> {
        let finished = self.attempt_delivery(leased, retry).await;
        let moved = self
            .market
            .store()
            .finish_delivery(finished.id, &finished.record, finished.next)
            .await
            .map_err(|e| ApiError::Engine(e.into()))?;
        lease_kept(&finished, moved);
        Ok(finished.record)
    }

    /// Sends one leased delivery: the attempt, and what becomes of the delivery, to record.
    /// With `retry`, a failure is retried after the backoff; without, it is given up.
    pub async fn attempt_delivery(&self, leased: &LeasedDelivery, retry: bool) -> FinishedAttempt {
        let delivery = &leased.delivery;
        let at = self.market.now();
        let started = Instant::now();
        let mut url = None;
        let outcome: Result<u16, String> = async {
            let profile = self
                .market
                .profile(&delivery.spec.recipient)
                .await
                .map_err(|e| e.to_string())?;
            let target = url_of(&profile, delivery.spec.channel)
                .ok_or_else(|| format!("no {} URL is set", delivery.spec.channel.as_str()))?;
            url = Some(target.to_owned());
            let secret = self
                .webhook_secret(&delivery.spec.recipient)
                .await
                .map_err(|e| format!("{e:?}"))?
                .0;
            let id = format!("msg_{}", delivery.id);
            let body = delivery.spec.body.as_bytes();
            let headers = signed_headers(
                &secret,
                &delivery.spec.event,
                &id,
                Utc::now().timestamp(),
                body,
            );
            let answer = self
                .outbound
                .post(
                    target,
                    headers,
                    body.to_vec(),
                    self.reach.webhook_timeout,
                    WEBHOOK_ANSWER_BYTES_MAX,
                )
                .await
                .map_err(|e| e.to_string())?;
            if (200..300).contains(&answer.status) {
                Ok(answer.status)
            } else {
                Err(format!("answered {}", answer.status))
            }
        }
        .await;
        let latency = started.elapsed();
        let status_code = match &outcome {
            Ok(status) => Some(*status),
            Err(e) => e
                .strip_prefix("answered ")
                .and_then(|s| s.parse::<u16>().ok()),
        };
        let record = DeliveryAttempt {
            attempt: leased.attempt,
            at,
            url: url.clone(),
            status_code,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            error: outcome.as_ref().err().cloned(),
        };
        let next = match &outcome {
            Ok(_) => NextStep::Delivered,
            Err(_) if !retry || url.is_none() || delivery.spec.event == "ping" => NextStep::GiveUp,
            Err(_) => {
                let wait = chrono(jitter(self.reach.backoff_step(leased.attempt)));
                let retry_at = self.market.now() + wait;
                if retry_at - delivery.spec.created_at > chrono(self.reach.give_up_after) {
                    NextStep::GiveUp
                } else {
                    NextStep::RetryAt(retry_at)
                }
            }
        };
        crate::metrics::delivery(
            delivery.spec.channel.as_str(),
            match next {
                NextStep::Delivered => "delivered",
                NextStep::RetryAt(_) => "retry",
                NextStep::GiveUp => "failed",
            },
            latency.as_secs_f64(),
        );
        match &next {
            NextStep::Delivered => {
                tracing::debug!(id = delivery.id, attempt = leased.attempt, "delivered");
            }
            _ => tracing::info!(
                id = delivery.id,
                attempt = leased.attempt,
                error = record.error.as_deref().unwrap_or(""),
                "delivery attempt failed"
            ),
        }
        FinishedAttempt {
            id: delivery.id,
            record,
            next,
        }
    }
}

/// Warns when an attempt came back after its delivery's lease ran out (`moved` false).
fn lease_kept(finished: &FinishedAttempt, moved: bool) {
    if !moved {
        tracing::warn!(
            id = finished.id,
            attempt = finished.record.attempt,
            "a delivery's lease ran out before its attempt was recorded"
        );
    }
}

/// The dispatcher's sending side: at most `concurrency` sends at once, each holding a
/// permit until its attempt is handed to one recorder, which writes the attempts that
/// finish while it commits all in the next commit ([`Deliveries::finish_deliveries`]):
/// one commit per batch of attempts, not one per delivery, and none waited for when a
/// send finishes alone.
///
/// [`Deliveries::finish_deliveries`]: marketplace_core::store::Deliveries::finish_deliveries
pub struct Sends {
    permits: Arc<Semaphore>,
    concurrency: usize,
    finished: mpsc::Sender<FinishedAttempt>,
    recorder: tokio::task::JoinHandle<()>,
}

impl Sends {
    /// Starts the recorder of `app`'s attempts, for at most `concurrency` (at least one)
    /// sends at once.
    pub fn start<S: Backend + Clone>(app: &AppState<S>, concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        let (finished, mut to_record) = mpsc::channel::<FinishedAttempt>(concurrency);
        let app = app.clone();
        let recorder = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(concurrency);
            while to_record.recv_many(&mut batch, concurrency).await > 0 {
                match app.market.store().finish_deliveries(&batch).await {
                    Ok(moved) => {
                        for (finished, moved) in batch.iter().zip(moved) {
                            lease_kept(finished, moved);
                        }
                    }
                    // Their leases run out, and they are sent again.
                    Err(e) => {
                        tracing::warn!(attempts = batch.len(), error = %e, "recording delivery attempts failed");
                    }
                }
                batch.clear();
            }
        });
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            finished,
            recorder,
        }
    }

    /// Leases as many due deliveries as there are free permits and starts sending each on
    /// a task of its own. Returns how many it started.
    pub async fn round<S: Backend + Clone>(&self, app: &AppState<S>) -> Result<usize, ApiError> {
        let free = self.permits.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let now = app.market.now();
        let until = now + chrono(app.reach.lease());
        let leased = app
            .market
            .store()
            .lease_deliveries(now, until, free)
            .await
            .map_err(|e| ApiError::Engine(e.into()))?;
        let started = leased.len();
        for delivery in leased {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                break;
            };
            let app = app.clone();
            let finished = self.finished.clone();
            tokio::spawn(async move {
                let attempt = app.attempt_delivery(&delivery, true).await;
                if finished.send(attempt).await.is_err() {
                    tracing::warn!(
                        id = delivery.delivery.id,
                        "the dispatcher stopped before an attempt was recorded; it is sent again"
                    );
                }
                drop(permit);
            });
        }
        Ok(started)
    }

    /// Sends the due deliveries: round after round while each leases as many as there
    /// were free permits, waiting for a permit to free between them — so a dispatcher
    /// keeps all its permits busy while deliveries are due, not one round's worth a tick —
    /// until none is left due or `until`. Returns how many it started.
    pub async fn due<S: Backend + Clone>(
        &self,
        app: &AppState<S>,
        until: tokio::time::Instant,
    ) -> Result<usize, ApiError> {
        let mut started = 0;
        loop {
            match tokio::time::timeout_at(until, self.permits.acquire()).await {
                Ok(Ok(permit)) => drop(permit),
                _ => break,
            }
            let free = self.permits.available_permits();
            let round = self.round(app).await?;
            started += round;
            if round < free {
                break;
            }
        }
        Ok(started)
    }

    /// Waits, at most `within`, for the sends in flight and the recorder's last commit.
    /// Returns whether they all ended in time (those that did not are sent again after
    /// their leases).
    pub async fn finish(self, within: Duration) -> bool {
        let Self {
            permits,
            concurrency,
            finished,
            recorder,
        } = self;
        let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
        tokio::time::timeout(within, async move {
            let _all = permits.acquire_many(all).await;
            drop(finished);
            let _ = recorder.await;
        })
        .await
        .is_ok()
    }
}

/// Runs the dispatcher — every `reach.interval`, the first time one interval after the
/// start, it fans out the due outbox events ([`AppState::fan_out_due`]) and, for up to one
/// interval, sends the due deliveries ([`Sends::due`], at most `reach.concurrency` at
/// once) — until `stop` turns true, then waits for the sends in flight and their records
/// (at most one lease). Safe in several replicas at once.
pub async fn dispatch_loop<S: Backend + Clone>(app: AppState<S>, mut stop: watch::Receiver<bool>) {
    let sends = Sends::start(&app, app.reach.concurrency);
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + app.reach.interval,
        app.reach.interval,
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        if let Err(e) = app.fan_out_due().await {
            tracing::warn!(error = ?e, "fan-out failed; retrying next round");
        }
        let until = tokio::time::Instant::now() + app.reach.interval;
        if let Err(e) = sends.due(&app, until).await {
            tracing::warn!(error = ?e, "leasing deliveries failed; retrying next round");
        }
        if let Ok(pending) = app.market.store().deliveries_pending().await {
            crate::metrics::deliveries_pending(pending);
        }
    }
    if !sends.finish(app.reach.lease()).await {
        tracing::warn!("stopped with deliveries in flight; they are resent after their lease");
    }
}
