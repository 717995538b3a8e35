//! Idempotency keys: what a request under a key does when the key is new, remembered, or
//! held by a request still running.
//!
//! A command under a key is one transaction: the key is looked up (and locked, see
//! [`Transaction::idempotency`]) and its record written in the transaction that runs the
//! command, so a duplicate either waits and replays, or runs alone. A request that runs
//! beyond one transaction — several commands, a call out to an agent — *reserves* its key
//! first ([`Marketplace::reserve`](crate::Marketplace::reserve)) and [`Marketplace::finish`](crate::Marketplace::finish)es it with its answer;
//! duplicates meanwhile find it [`Reservation::Running`].

use sha2::{Digest, Sha256};

use crate::command::Command;
use crate::error::Error;
use crate::limits::{IDEMPOTENCY_KEY_BYTES_MAX, IDEMPOTENCY_TTL_SECS};
use crate::store::IdempotencyRecord;
use crate::time::{Timestamp, secs};

/// What a remembered record means for a new request under its key.
pub(super) enum Verdict {
    /// Nothing holds the key (no record, an expired one, or an abandoned run): run.
    New,
    /// The same request finished: its answer again.
    Replay(String),
    /// The same request is still running, at most until then.
    Running(Timestamp),
    /// Another request used the key.
    Conflict,
}

/// Judges `found` for a request with `fingerprint` at `now`.
pub(super) fn judge(
    found: Option<&IdempotencyRecord>,
    fingerprint: &str,
    now: Timestamp,
) -> Verdict {
    let Some(found) = found else {
        return Verdict::New;
    };
    if found.created_at + secs(IDEMPOTENCY_TTL_SECS) <= now {
        return Verdict::New;
    }
    if found.fingerprint != fingerprint {
        return Verdict::Conflict;
    }
    match found.running_until {
        Some(until) if until > now => Verdict::Running(until),
        Some(_) => Verdict::New,
        None => Verdict::Replay(found.response.clone()),
    }
}

/// Refuses an idempotency key outside 1-255 bytes.
///
/// ```
/// use marketplace_core::check_idempotency_key;
/// assert!(check_idempotency_key("retry-1").is_ok());
/// assert!(check_idempotency_key("").is_err() && check_idempotency_key(&"k".repeat(256)).is_err());
/// ```
pub fn check_idempotency_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
        return Err(Error::invalid("Idempotency-Key", "must be 1-255 bytes"));
    }
    Ok(())
}

/// How a request that runs beyond one command begins under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is this request's now: run it, then [`Marketplace::finish`](crate::Marketplace::finish) it.
    Run,
    /// The same request ran to its end: the answer it finished with.
    Done(String),
    /// The same request is running elsewhere, holding the key at most until `until`.
    Running {
        /// When its hold ends, if it has not finished by then.
        until: Timestamp,
    },
}

/// The fingerprint of a request: SHA-256 hex of its canonical JSON.
pub(super) fn fingerprint(command: &Command) -> String {
    let bytes = serde_json::to_vec(command).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
