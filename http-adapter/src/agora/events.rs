//! `GET /api/v1/events`: what the caller may see, as it happens, as server-sent events.
//!
//! Each event's `id` is its outbox sequence number; a stream opened without one starts with
//! an `id`-only frame naming where it starts. A client reconnecting with `Last-Event-ID`
//! gets exactly the events after it that it may see, read from the store up
//! to where the live broadcast ([`crate::live`]) took over, then live. A quiet stream sends
//! a keep-alive comment every [`Config::live_keep_alive`](crate::state::Config::live_keep_alive)
//! ([`LIVE_KEEP_ALIVE_SECS`](crate::limits::LIVE_KEEP_ALIVE_SECS) by default). Which events a caller sees
//! is the engine's rule ([`Event::visible_to`]); what it sees of their task,
//! [`Task::redacted_for`](marketplace_core::Task::redacted_for)'s.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use marketplace_core::store::Backend;
use marketplace_core::{Error, Event, IdentityId, Store};
use tokio::sync::broadcast;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use marketplace_api::agora::events::{EventsParams, LiveEvent};
use marketplace_api::agora::tasks::TaskView;

/// The header a reconnecting client names the last event it received in.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// `GET /api/v1/events`: a stream of server-sent events, each an [`LiveEvent`] as JSON.
/// Without credentials, the posting of public tasks and board posts only.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "agora",
    operation_id = "agora_events",
    params(
        EventsParams,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event (its `id`): the events since that the caller may see come first.")
    ),
    responses(
        (status = 200, description = "Server-sent events: `id` the outbox sequence, `event` the kind, `data` a LiveEvent; keep-alive comments while quiet.", content_type = "text/event-stream", body = LiveEvent),
        (status = "4XX", body = marketplace_api::error::ErrorBody)
    )
)]
pub async fn events<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    caller: Option<Caller>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventsParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let resume = match headers.get(LAST_EVENT_ID) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| Error::invalid("Last-Event-ID", "must be an event's id"))?,
        ),
    };
    let (live, horizon) = app.live.subscribe(&app.market).await?;
    let keep_alive = app.live_keep_alive;
    let reader = Reader {
        app,
        viewer: caller.map(|Caller(id)| id),
        params,
        live,
        // Without a place to resume from, the stream starts now.
        last: resume.unwrap_or(horizon),
        catching_up: resume.is_some_and(|r| r < horizon),
        pending: VecDeque::new(),
    };
    // A stream opened without a place to resume from starts with its place: an `id` and
    // no data (no event is dispatched; a client that reconnects before the first event
    // names it and misses nothing).
    let start = resume
        .is_none()
        .then(|| Ok::<_, Infallible>(SseEvent::default().id(horizon.to_string())));
    let events = futures::stream::unfold(reader, |mut reader| async move {
        let event = reader.next().await?;
        Some((Ok(event), reader))
    });
    let stream = futures::stream::iter(start).chain(events);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(keep_alive)))
}

/// One stream's place: what it sent last, and where the next events come from.
struct Reader<S> {
    app: AppState<S>,
    viewer: Option<IdentityId>,
    params: EventsParams,
    live: broadcast::Receiver<Arc<Event>>,
    /// The `seq` of the last event passed (sent or not the caller's).
    last: u64,
    /// Reading from the store: the broadcast is ahead of `last`.
    catching_up: bool,
    /// Read from the store, not yet passed.
    pending: VecDeque<Event>,
}

impl<S: Store + Clone> Reader<S> {
    /// The next event for the caller; `None` ends the stream (the server is stopping, or
    /// the store failed).
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            let event = if let Some(event) = self.pending.pop_front() {
                Arc::new(event)
            } else if self.catching_up {
                if !self.read_stored().await {
                    return None;
                }
                continue;
            } else {
                match self.live.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the broadcast: the rest comes from the store.
                        self.catching_up = true;
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            };
            if event.seq <= self.last {
                continue; // Read from the store already.
            }
            self.last = event.seq;
            if event.visible_to(self.viewer.as_ref()) && self.params.admits(&event) {
                return Some(self.render(&event));
            }
        }
    }

    /// Reads the next page of stored events up to the broadcast's horizon; false when the
    /// store fails.
    async fn read_stored(&mut self) -> bool {
        let horizon = self.app.live.horizon();
        let limit = marketplace_core::limits::PAGE_LIMIT_MAX;
        match self.app.market.events(self.last, limit).await {
            Ok(page) => {
                let full = page.len() == limit;
                self.pending
                    .extend(page.into_iter().filter(|e| e.seq <= horizon));
                let reached = self.pending.back().is_none_or(|e| e.seq >= horizon);
                if !full || reached {
                    self.catching_up = false;
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "a live stream could not read the outbox");
                false
            }
        }
    }

    fn render(&self, event: &Event) -> SseEvent {
        let viewer = self.viewer.as_ref();
        let task = event
            .task
            .as_deref()
            .map(|t| TaskView::of(&t.clone().redacted_for(viewer), viewer));
        let live = LiveEvent {
            seq: event.seq,
            kind: event.kind.as_str().to_owned(),
            task_id: event.task_id.map(|id| id.to_string()),
            subject: event.subject.as_ref().map(|s| s.as_str().to_owned()),
            occurred_at: event.at,
            data: crate::wire::event_data(&event.data),
            task,
        };
        SseEvent::default()
            .id(event.seq.to_string())
            .event(event.kind.as_str())
            .json_data(&live)
            .unwrap_or_else(|_| SseEvent::default().comment("an event could not be encoded"))
    }
}
