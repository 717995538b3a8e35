//! Time as an input: the [`Clock`] the engine reads, and duration limits.

use std::sync::Mutex;

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// A point in time, UTC, microsecond precision (what every store keeps exactly).
pub type Timestamp = DateTime<Utc>;

/// The engine's source of `now`. The state machine never reads a clock; it is handed the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time. Implementations need not truncate: the engine rounds to microseconds.
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that moves only when told to: tests and property tests use it to cross deadlines
/// without sleeping.
///
/// ```
/// use marketplace_core::{Clock, ManualClock};
/// let clock = ManualClock::at_unix(1_700_000_000);
/// let before = clock.now();
/// clock.advance_secs(301);
/// assert_eq!((clock.now() - before).num_seconds(), 301);
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self(Mutex::new(truncate(now)))
    }

    /// A clock standing at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: i64) -> Self {
        Self::new(DateTime::from_timestamp(secs, 0).unwrap_or_default())
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = truncate(now);
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *guard += Duration::seconds(secs);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Rounds a time down to the microsecond, the precision every store keeps.
pub fn truncate(t: Timestamp) -> Timestamp {
    t.trunc_subsecs(6)
}

/// Whole seconds as a [`Duration`], saturating far beyond any limit we accept.
pub(crate) fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
}
