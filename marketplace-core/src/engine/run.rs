//! The command path: load → decide → persist in one transaction, retried on conflicts,
//! once per idempotency key; the deadline sweep.

use crate::command::{Command, Outcome};
use crate::decide::{Context, Decision, Fault, View, decide};
use crate::error::Error;
use crate::ids::IdentityId;
use crate::limits::IDEMPOTENCY_TTL_SECS;
use crate::store::{IdempotencyRecord, Store, StoreError, Transaction};
use crate::time::{Timestamp, secs, truncate};

use super::batch::Submission;
use super::keys::{Reservation, Verdict, check_idempotency_key, fingerprint, judge};
use super::load::{CONFLICT_RETRIES_MAX, LOADS_PER_COMMAND_MAX, Step, load, prefetch};
use super::market::Marketplace;

impl<S: Store> Marketplace<S> {
    /// Executes `command` for `actor`.
    pub async fn execute(&self, actor: &IdentityId, command: Command) -> Result<Outcome, Error> {
        self.run(Some(actor), &command, None, None).await
    }

    /// Executes `command` for `actor` at most once per `key`: a retry with the same key and
    /// the same command returns the first outcome without executing again; the same key
    /// with another command is refused with [`Error::IdempotencyConflict`]. Keys are scoped
    /// to the actor and remembered for 24 hours. Refused commands are not remembered, so
    /// they may be retried. Duplicates sent at once execute once: each waits for the one
    /// ahead of it and replays its outcome. A key reserved by a request still running (see
    /// [`Marketplace::reserve`]) is refused with [`Error::IdempotencyInProgress`].
    pub async fn execute_idempotent(
        &self,
        actor: &IdentityId,
        command: Command,
        key: &str,
    ) -> Result<Outcome, Error> {
        check_idempotency_key(key)?;
        self.run(Some(actor), &command, Some(key), None).await
    }

    /// Executes a command. With `seed` (a lane running a command on its own, with the ids
    /// it had): here, in a transaction of its own. Without: through the lanes when group
    /// commit is on (a copy: the lane owns it), else here, with a new seed. Here, the
    /// command is retried on lost races with the same seed (so the same ids), in this one
    /// future: the engine's hot path nests no future more than it needs.
    pub(super) async fn run(
        &self,
        actor: Option<&IdentityId>,
        command: &Command,
        key: Option<&str>,
        seed: Option<u64>,
    ) -> Result<Outcome, Error> {
        let seed = match (seed, &self.batcher) {
            (Some(seed), _) => seed,
            (None, Some(batcher)) => {
                let submission = Submission {
                    actor: actor.cloned(),
                    command: command.clone(),
                    key: key.map(str::to_owned),
                };
                match self.submit(batcher, submission).await {
                    Ok(answer) => return answer,
                    // The lanes are gone: alone, here.
                    Err(seed) => seed,
                }
            }
            (None, None) => self.ids.next_seed(),
        };
        let mut attempt = 0;
        loop {
            let now = self.now();
            match self.attempt(actor, command, key, now, seed).await {
                Err(Error::Storage(StoreError::Conflict(_))) if attempt < CONFLICT_RETRIES_MAX => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// One try at a command: commit what it decided, or roll back — awaited, so a command
    /// that returns holds no locks (a dropped transaction may release them later).
    pub(super) async fn attempt(
        &self,
        actor: Option<&IdentityId>,
        command: &Command,
        key: Option<&str>,
        now: Timestamp,
        seed: u64,
    ) -> Result<Outcome, Error> {
        let mut tx = self.store.begin().await?;
        match self
            .decide_in(&mut tx, actor, command, key, now, seed)
            .await
        {
            Ok(Step::Commit(outcome)) => {
                tx.commit().await?;
                Ok(outcome)
            }
            Ok(Step::Replay(outcome)) => {
                tx.rollback().await?;
                Ok(outcome)
            }
            Err(e) => {
                // The refusal (or failure) is what the caller needs to hear; a failed
                // rollback still ends the transaction when the connection is dropped.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Loads, decides and writes a command inside `tx`, without committing.
    pub(super) async fn decide_in(
        &self,
        tx: &mut S::Tx<'_>,
        actor: Option<&IdentityId>,
        command: &Command,
        key: Option<&str>,
        now: Timestamp,
        seed: u64,
    ) -> Result<Step, Error> {
        let idempotency = match (actor, key) {
            (Some(actor), Some(key)) => {
                check_idempotency_key(key)?;
                let print = fingerprint(command);
                let found = tx.idempotency(actor, key).await?;
                match judge(found.as_ref(), &print, now) {
                    Verdict::New => {}
                    Verdict::Replay(response) => {
                        return serde_json::from_str(&response)
                            .map(Step::Replay)
                            .map_err(|e| StoreError::Corrupt(e.to_string()).into());
                    }
                    Verdict::Running(_) => return Err(Error::IdempotencyInProgress),
                    Verdict::Conflict => return Err(Error::IdempotencyConflict),
                }
                Some((actor, key, print))
            }
            _ => None,
        };
        let mut view = View::default();
        prefetch(tx, &mut view, actor, command, now).await?;
        let ctx = Context {
            now,
            policy: &self.policy,
            seed,
        };
        for _ in 0..LOADS_PER_COMMAND_MAX {
            match decide(&view, actor, command, &ctx) {
                Ok(Decision { changes, outcome }) => {
                    if let Some((caller, key, fingerprint)) = &idempotency {
                        let response = serde_json::to_string(&outcome)
                            .map_err(|e| StoreError::Other(e.to_string()))?;
                        tx.put_idempotency(IdempotencyRecord {
                            caller: (*caller).clone(),
                            key: (*key).to_owned(),
                            fingerprint: fingerprint.clone(),
                            response,
                            created_at: now,
                            running_until: None,
                        })
                        .await?;
                    }
                    tx.write(changes).await?;
                    return Ok(Step::Commit(outcome));
                }
                Err(Fault::Needs(key)) => load(tx, &mut view, key).await?,
                Err(Fault::Rejected(e)) => return Err(e),
            }
        }
        Err(StoreError::Other(format!("{} loaded too many records", command.name())).into())
    }

    /// The deadline sweep: applies the deadlines of up to `limit` tasks due at or before
    /// `now`, earliest first, and forgets expired idempotency keys. Each task gets its own
    /// transaction; tasks locked by someone else are left to them. Returns how many tasks
    /// were advanced.
    pub async fn tick(&self, now: Timestamp, limit: usize) -> Result<usize, Error> {
        let now = truncate(now);
        let mut done = 0;
        while done < limit {
            let mut tx = self.store.begin().await?;
            let Some(id) = tx.due_tasks(now, 1).await?.into_iter().next() else {
                tx.rollback().await?;
                break;
            };
            let touch = Command::Touch { task: id };
            match self
                .decide_in(&mut tx, None, &touch, None, now, self.ids.next_seed())
                .await
            {
                Ok(_) => tx.commit().await?,
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
            done += 1;
        }
        let mut tx = self.store.begin().await?;
        tx.purge_idempotency(now - secs(IDEMPOTENCY_TTL_SECS), limit.max(1))
            .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// [`Marketplace::tick`] at the clock's time.
    pub async fn sweep(&self, limit: usize) -> Result<usize, Error> {
        self.tick(self.now(), limit).await
    }
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
