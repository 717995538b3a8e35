//! Events as they happen, for every live stream of one server: one poller reads the outbox
//! (every replica's commands, not only this one's) and broadcasts each event once, in
//! sequence order, to the streams subscribed ([`EventHub`]).
//!
//! The poller runs while a stream listens and stops when the last one goes. It reads the
//! outbox every [`LIVE_POLL_MS`], and at once when a command of this server commits
//! ([`EventHub::committed`]): this server's events reach its streams without waiting for
//! the poll; another replica's, within it. It publishes
//! events in `seq` order without holes: on PostgreSQL a transaction may commit after one
//! that took a later sequence number, so a missing number is waited for up to
//! [`LIVE_GAP_WAIT_MS`] (a rolled-back transaction leaves
//! one for good) before the events after it go out. Everything up to
//! [`EventHub::horizon`] has been published; a stream resuming from an earlier point reads
//! that part from the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use marketplace_core::{Event, Marketplace, Store};
use tokio::sync::{Mutex, Notify, broadcast};

use crate::limits::{LIVE_BUFFER_EVENTS, LIVE_GAP_WAIT_MS, LIVE_PAGE_LINGER_SECS, LIVE_POLL_MS};

/// The live events of one server: the broadcast the streams subscribe to, and how far it
/// has published.
#[derive(Debug)]
pub struct EventHub {
    sender: broadcast::Sender<Arc<Event>>,
    /// Every event with a `seq` up to this one has been published (or skipped as a hole).
    horizon: AtomicU64,
    /// Whether the poller runs; taken while subscribing, so a stream never joins a poller
    /// that is stopping.
    running: Mutex<bool>,
    /// Rings when a command of this server committed: the poller reads now.
    wake: Notify,
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(LIVE_BUFFER_EVENTS).0,
            horizon: AtomicU64::new(0),
            running: Mutex::new(false),
            wake: Notify::new(),
        }
    }
}

impl EventHub {
    /// How far the events have been published: a stream subscribed now receives every
    /// event after it.
    pub fn horizon(&self) -> u64 {
        self.horizon.load(Ordering::Acquire)
    }

    /// A command of this server committed: its events are in the outbox, to be read now
    /// rather than at the next poll. Cheap when no stream listens (a stored wake-up).
    pub fn committed(&self) {
        self.wake.notify_one();
    }

    /// Where a stream should start to miss nothing committed after now: the poller's
    /// horizon (everything up to it has been published). A page takes it before it reads
    /// what it shows, and its live stream resumes from there. When no poller runs, this
    /// starts one (reading the newest event in the store once) and keeps it running for
    /// [`LIVE_PAGE_LINGER_SECS`], so the page's stream and the next pages find it running.
    pub async fn resume_point<S: Store + Clone>(
        self: &Arc<Self>,
        market: &Marketplace<S>,
    ) -> Result<u64, marketplace_core::Error> {
        if *self.running.lock().await {
            return Ok(self.horizon());
        }
        let (listener, horizon) = self.subscribe(market).await?;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(LIVE_PAGE_LINGER_SECS)).await;
            drop(listener);
        });
        Ok(horizon)
    }

    /// A receiver of every event published from now on, and the horizon it starts after;
    /// starts the poller over `market` if none runs.
    pub async fn subscribe<S: Store + Clone>(
        self: &Arc<Self>,
        market: &Marketplace<S>,
    ) -> Result<(broadcast::Receiver<Arc<Event>>, u64), marketplace_core::Error> {
        let mut running = self.running.lock().await;
        if !*running {
            // Nothing was published while no one listened: start from the newest event.
            let last = market.last_event_seq().await?;
            self.horizon.store(last, Ordering::Release);
            *running = true;
            tokio::spawn(poll(self.clone(), market.clone()));
        }
        Ok((self.sender.subscribe(), self.horizon()))
    }

    /// Publishes what the outbox holds after the horizon, in order; a hole waits until
    /// `hole_since` is [`LIVE_GAP_WAIT_MS`] old. Returns when the next hole was first seen.
    fn publish(&self, events: Vec<Event>, mut hole_since: Option<Instant>) -> Option<Instant> {
        for event in events {
            let expected = self.horizon() + 1;
            if event.seq > expected {
                let since = *hole_since.get_or_insert_with(Instant::now);
                if since.elapsed() < Duration::from_millis(LIVE_GAP_WAIT_MS) {
                    return hole_since;
                }
            }
            hole_since = None;
            self.horizon.store(event.seq, Ordering::Release);
            // No receiver is no error: the poller stops at its next round.
            let _ = self.sender.send(Arc::new(event));
        }
        hole_since
    }
}

/// Reads the outbox every [`LIVE_POLL_MS`] and publishes it, until no stream listens.
async fn poll<S: Store + Clone>(hub: Arc<EventHub>, market: Marketplace<S>) {
    let mut hole_since = None;
    let mut ticks = tokio::time::interval(Duration::from_millis(LIVE_POLL_MS));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = hub.wake.notified() => {}
        }
        {
            let mut running = hub.running.lock().await;
            if hub.sender.receiver_count() == 0 {
                *running = false;
                return;
            }
        }
        loop {
            let page = match market
                .events(hub.horizon(), marketplace_core::limits::PAGE_LIMIT_MAX)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the outbox for live streams failed");
                    break;
                }
            };
            let full = page.len() == marketplace_core::limits::PAGE_LIMIT_MAX;
            let before = hub.horizon();
            hole_since = hub.publish(page, hole_since);
            // A full page read to its end: more may wait right behind it.
            if !full || hub.horizon() == before {
                break;
            }
        }
    }
}
