//! Idempotency keys: what a request under a key does when the key is new, remembered, or
//! held by a request still running.
//!
//! A command under a key is one transaction: the key is looked up (and locked, see
//! [`Transaction::idempotency`]) and its record written in the transaction that runs the
//! command, so a duplicate either waits and replays, or runs alone. A request that runs
//! beyond one transaction — several commands, a call out to an agent — *reserves* its key
//! first ([`Marketplace::reserve`]) and [`Marketplace::finish`]es it with its answer;
//! duplicates meanwhile find it [`Reservation::Running`].

use crate::error::Error;
use crate::ids::IdentityId;
use crate::limits::{IDEMPOTENCY_KEY_BYTES_MAX, IDEMPOTENCY_TTL_SECS};
use crate::store::{IdempotencyRecord, Store, Transaction};
use crate::time::{Timestamp, secs};

use super::Marketplace;

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
    /// The key is this request's now: run it, then [`Marketplace::finish`] it.
    Run,
    /// The same request ran to its end: the answer it finished with.
    Done(String),
    /// The same request is running elsewhere, holding the key at most until `until`.
    Running {
        /// When its hold ends, if it has not finished by then.
        until: Timestamp,
    },
}

impl<S: Store> Marketplace<S> {
    /// Reserves `key` for `actor`'s request with `fingerprint` (a digest of the request
    /// that tells a retry from another request), holding it for `hold_secs` at most.
    ///
    /// Exactly one of any number of concurrent reservations of a key gets
    /// [`Reservation::Run`]; the others find it [`Reservation::Running`] until the first
    /// finishes, then [`Reservation::Done`]. A key used by another request is refused with
    /// [`Error::IdempotencyConflict`]. A hold that runs out (its server died mid-request)
    /// lets the next reservation run the request again, so `hold_secs` must exceed the
    /// longest the request can take.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use marketplace_core::*;
    /// let market = Marketplace::new(MemoryStore::new(), Policy::agentmarket());
    /// let alice = IdentityId::from_public_key(b"alice");
    /// assert_eq!(market.reserve(&alice, "k-1", "job", 60).await?, Reservation::Run);
    /// assert!(matches!(market.reserve(&alice, "k-1", "job", 60).await?, Reservation::Running { .. }));
    /// market.finish(&alice, "k-1", "job", Some("done".into())).await?;
    /// assert_eq!(market.reserve(&alice, "k-1", "job", 60).await?, Reservation::Done("done".into()));
    /// # Ok::<(), Error>(()) }).unwrap();
    /// ```
    pub async fn reserve(
        &self,
        actor: &IdentityId,
        key: &str,
        fingerprint: &str,
        hold_secs: u64,
    ) -> Result<Reservation, Error> {
        check_idempotency_key(key)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let found = tx.idempotency(actor, key).await?;
        let reservation = match judge(found.as_ref(), fingerprint, now) {
            Verdict::New => {
                let record = IdempotencyRecord {
                    caller: actor.clone(),
                    key: key.to_owned(),
                    fingerprint: fingerprint.to_owned(),
                    response: String::new(),
                    created_at: now,
                    running_until: Some(now + secs(hold_secs)),
                };
                if let Err(e) = tx.put_idempotency(record).await {
                    let _ = tx.rollback().await;
                    return Err(e.into());
                }
                tx.commit().await?;
                return Ok(Reservation::Run);
            }
            Verdict::Replay(answer) => Ok(Reservation::Done(answer)),
            Verdict::Running(until) => Ok(Reservation::Running { until }),
            Verdict::Conflict => Err(Error::IdempotencyConflict),
        };
        tx.rollback().await?;
        reservation
    }

    /// Ends the run of a request that [`Marketplace::reserve`] let run: `Some(answer)` is
    /// kept for its retries (24 hours from the reservation); `None` lets the key go, for a
    /// request refused before it changed anything, so a retry runs it afresh.
    pub async fn finish(
        &self,
        actor: &IdentityId,
        key: &str,
        fingerprint: &str,
        answer: Option<String>,
    ) -> Result<(), Error> {
        check_idempotency_key(key)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let found = tx.idempotency(actor, key).await?;
        let ours = found.filter(|r| r.fingerprint == fingerprint && r.running_until.is_some());
        let Some(mut record) = ours else {
            // Not reserved, or taken over after the hold ran out: nothing of ours to end.
            tx.rollback().await?;
            return Ok(());
        };
        match answer {
            Some(answer) => {
                record.response = answer;
                record.running_until = None;
            }
            // A hold that ends now: the next reservation runs.
            None => record.running_until = Some(now),
        }
        if let Err(e) = tx.put_idempotency(record).await {
            let _ = tx.rollback().await;
            return Err(e.into());
        }
        tx.commit().await?;
        Ok(())
    }
}
