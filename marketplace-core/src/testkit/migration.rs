//! For a SQL store's test of a schema migration that moves the outbox's state: events to
//! write into a database at the schema before it, and what the store must answer after it.
//!
//! The store's test creates a database at the old schema, writes [`outbox_events`] there
//! in order (so their `seq` stay 1, 2, 3) each with its [`OutboxState`] of
//! [`OUTBOX_STATES`], migrates it by opening the store, and calls [`check_migrated_outbox`].

use crate::model::{Event, EventKind, TaskSpec};
use crate::store::Store;
use crate::store::memory::MemoryStore;
use crate::testkit::Fixture;
use crate::time::{Timestamp, secs};

/// An event's place in the outbox as the old schema kept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxState {
    /// Seconds after the event's own time when it may next be leased.
    pub available_after_secs: i64,
    /// How often it has been leased.
    pub attempts: u32,
    /// Whether it was completed.
    pub done: bool,
}

/// The states [`outbox_events`]' three events are written with: the first completed, the
/// second leased a second time and its lease running for an hour, the third waiting.
pub const OUTBOX_STATES: [OutboxState; 3] = [
    OutboxState {
        available_after_secs: 0,
        attempts: 1,
        done: true,
    },
    OutboxState {
        available_after_secs: 3_600,
        attempts: 2,
        done: false,
    },
    OutboxState {
        available_after_secs: 0,
        attempts: 0,
        done: false,
    },
];

/// Three events as a market writes them (`seq` 1 to 3): two registrations and a post, which
/// carries its task.
pub async fn outbox_events() -> Vec<Event> {
    let fx = Fixture::new(MemoryStore::new());
    let alice = fx.agent("alice").await;
    fx.agent("bob").await;
    fx.market
        .post_task(&alice, TaskSpec::new("migrated", 2))
        .await
        .unwrap();
    let events = fx.market.events(0, 3).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3],
        "three events"
    );
    events
}

/// When the migrated store is asked: a minute after the last of `events`.
fn asked_at(events: &[Event]) -> Timestamp {
    events.iter().map(|e| e.at).max().unwrap_or_default() + secs(60)
}

/// Checks `store`, migrated from a database holding `events` in [`OUTBOX_STATES`]: the
/// completed event is gone from the outbox; the leased one keeps its lease (hidden until it
/// runs out, finished by its own attempt and no other); the waiting one is leased first,
/// as written; and an event written after the migration enters the outbox.
pub async fn check_migrated_outbox<S: Store + Clone>(store: &S, events: &[Event]) {
    let now = asked_at(events);
    assert_eq!(store.outbox_depth().await.unwrap(), 2, "two not completed");
    let leased = store.lease_events(now, now + secs(30), 10).await.unwrap();
    assert_eq!(leased.len(), 1, "the leased one stays hidden: {leased:?}");
    assert_eq!(leased[0].event, events[2], "the waiting event, as written");
    assert_eq!(leased[0].attempt, 1, "its first lease");
    assert!(
        !store.complete_event(events[0].seq, 1).await.unwrap(),
        "completed before the migration"
    );
    assert!(
        !store.complete_event(events[1].seq, 1).await.unwrap(),
        "an older lease than the one kept"
    );
    assert!(
        store.complete_event(events[1].seq, 2).await.unwrap(),
        "the lease kept finishes its event"
    );
    let later = now + secs(3_600);
    let again = store
        .lease_events(later, later + secs(30), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!((again[0].event.seq, again[0].attempt), (events[2].seq, 2));
    assert!(store.complete_event(events[2].seq, 2).await.unwrap());
    assert_eq!(store.outbox_depth().await.unwrap(), 0);

    let fx = Fixture::new(store.clone());
    fx.agent("carol").await;
    let newer = fx.market.events(events[2].seq, 10).await.unwrap();
    assert!(
        newer
            .iter()
            .any(|e| e.kind == EventKind::IdentityRegistered),
        "{newer:?}"
    );
    assert_eq!(
        store.outbox_depth().await.unwrap(),
        newer.len() as u64,
        "events written after the migration wait in the outbox"
    );
}
