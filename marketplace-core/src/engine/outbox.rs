//! The outbox: events in order, and the leases dispatchers take on them.

use crate::error::Error;
use crate::limits::{self};
use crate::model::Event;
use crate::store::{LeasedEvent, Store};
use crate::time::secs;

use super::market::Marketplace;

impl<S: Store> Marketplace<S> {
    /// Outbox events after `after`, oldest first.
    pub async fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>, Error> {
        Ok(self.store.events(after, limits::page_limit(limit)).await?)
    }

    /// The highest outbox sequence so far (0 before the first event).
    pub async fn last_event_seq(&self) -> Result<u64, Error> {
        Ok(self.store.last_event_seq().await?)
    }

    /// Leases up to `limit` (at most [`limits::PAGE_LIMIT_MAX`]) undelivered outbox events
    /// to the caller for `lease_secs` seconds (1 to [`limits::OUTBOX_LEASE_SECS_MAX`]): the
    /// dispatcher's side of the outbox. Each event is delivered by one lease holder at a
    /// time; finish it with [`Marketplace::complete_event`] or
    /// [`Marketplace::retry_event`], or let the lease run out and it comes back. See
    /// [`Store::lease_events`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use marketplace_core::{Marketplace, MemoryStore, Policy, IdentityId, ProfileUpdate};
    /// let market = Marketplace::new(MemoryStore::new(), Policy::agora());
    /// let agent = IdentityId::from_public_key(b"agent");
    /// market.register(&agent, ProfileUpdate::alias("agent")).await?;
    /// for leased in market.lease_events(30, 100).await? {
    ///     // ... deliver `leased.event` to its subscribers, then:
    ///     market.complete_event(&leased).await?;
    /// }
    /// assert!(market.lease_events(30, 100).await?.is_empty());
    /// # Ok::<(), marketplace_core::Error>(()) }).unwrap();
    /// ```
    pub async fn lease_events(
        &self,
        lease_secs: u64,
        limit: usize,
    ) -> Result<Vec<LeasedEvent>, Error> {
        if !(1..=limits::OUTBOX_LEASE_SECS_MAX).contains(&lease_secs) {
            let reason = format!("must be 1 to {}", limits::OUTBOX_LEASE_SECS_MAX);
            return Err(Error::invalid("lease_secs", reason));
        }
        let now = self.now();
        let until = now + secs(lease_secs);
        Ok(self
            .store
            .lease_events(now, until, limits::page_limit(limit))
            .await?)
    }

    /// Takes a leased event out of the outbox: delivered, or given up. `false` when the
    /// lease was lost (it ran out and another dispatcher took the event).
    pub async fn complete_event(&self, leased: &LeasedEvent) -> Result<bool, Error> {
        Ok(self
            .store
            .complete_event(leased.event.seq, leased.attempt)
            .await?)
    }

    /// Puts a leased event back, to be leased again `after_secs` seconds from now (a retry
    /// with backoff; at most a year). `false` when the lease was lost.
    pub async fn retry_event(&self, leased: &LeasedEvent, after_secs: u64) -> Result<bool, Error> {
        let at = self.now() + secs(after_secs.min(limits::EXPIRES_IN_SECS_MAX));
        Ok(self
            .store
            .retry_event(leased.event.seq, leased.attempt, at)
            .await?)
    }
}
