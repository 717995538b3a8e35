//! API keys recently proven, so that a busy agent's requests skip the store's lookup of its
//! key (on SQLite, a hand-off to a reader thread and back per request; on PostgreSQL, a
//! round trip). Only keys the store knew and had not revoked are kept, by their SHA-256
//! (never the key itself), each for at most the configured time to live.
//!
//! Revocation: a replica that revokes a key forgets every key of its owner at once, so a
//! revoked key is refused there from the next request. Another replica of the same
//! database may still accept it until its entry's time to live runs out (default
//! [`API_KEY_CACHE_TTL_MS`](crate::limits::API_KEY_CACHE_TTL_MS)); a time to live of zero
//! turns the cache off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use marketplace_core::IdentityId;

use crate::limits::API_KEY_CACHE_ENTRIES_MAX;

/// Proven API keys, by hash, with when they were proven. Bounded: when full, expired
/// entries are dropped, and if none were, the whole cache (the next requests look their
/// keys up again).
///
/// ```
/// use std::time::{Duration, Instant};
/// use http_adapter::key_cache::KeyCache;
/// use marketplace_core::IdentityId;
///
/// let cache = KeyCache::new(Duration::from_secs(1));
/// let alice = IdentityId::from_public_key(b"alice");
/// let now = Instant::now();
/// cache.remember("hash of alice's key", &alice, cache.ticket(), now);
/// assert_eq!(cache.identity("hash of alice's key", now), Some(alice.clone()));
/// assert_eq!(cache.identity("hash of alice's key", now + Duration::from_secs(1)), None);
/// cache.remember("hash of alice's key", &alice, cache.ticket(), now);
/// cache.forget(&alice);
/// assert_eq!(cache.identity("hash of alice's key", now), None);
/// ```
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<Entries>,
}

/// The cache's map, and how many times keys were forgotten (a lookup that began before a
/// forgetting is not remembered: it may have read the key before its revocation).
#[derive(Debug, Default)]
struct Entries {
    by_hash: HashMap<String, (IdentityId, Instant)>,
    forgettings: u64,
}

/// Taken before a lookup in the store, handed to [`KeyCache::remember`] after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl KeyCache {
    /// A cache keeping each key for `ttl` (zero: keeps nothing).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing panics while holding the lock; a poisoned map is still a valid map.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The identity whose key hashes to `hash`, if it was proven less than the time to
    /// live before `now`.
    pub fn identity(&self, hash: &str, now: Instant) -> Option<IdentityId> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = &mut self.entries().by_hash;
        let (identity, proven) = entries.get(hash)?;
        if now.saturating_duration_since(*proven) < self.ttl {
            return Some(identity.clone());
        }
        entries.remove(hash);
        None
    }

    /// What to hand to [`remember`](Self::remember) after looking a key up: take it before
    /// the lookup begins.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.entries().forgettings)
    }

    /// Remembers that the key hashing to `hash` proved `identity` at `now`, in a lookup
    /// begun when `ticket` was taken — unless keys were forgotten since (that lookup may
    /// have read a key a revocation has ended since).
    pub fn remember(&self, hash: &str, identity: &IdentityId, ticket: Ticket, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.forgettings != ticket.0 {
            return;
        }
        let by_hash = &mut entries.by_hash;
        if by_hash.len() >= API_KEY_CACHE_ENTRIES_MAX && !by_hash.contains_key(hash) {
            let ttl = self.ttl;
            by_hash.retain(|_, (_, proven)| now.saturating_duration_since(*proven) < ttl);
            if by_hash.len() >= API_KEY_CACHE_ENTRIES_MAX {
                by_hash.clear();
            }
        }
        by_hash.insert(hash.to_owned(), (identity.clone(), now));
    }

    /// Forgets every key of `identity` (after a revocation), and makes every lookup begun
    /// before this call not remembered.
    pub fn forget(&self, identity: &IdentityId) {
        let mut entries = self.entries();
        entries.forgettings += 1;
        entries.by_hash.retain(|_, (owner, _)| owner != identity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_holds_until_its_time_to_live_exactly() {
        let ttl = Duration::from_millis(500);
        let cache = KeyCache::new(ttl);
        let alice = IdentityId::from_public_key(b"alice");
        let t0 = Instant::now();
        cache.remember("a", &alice, cache.ticket(), t0);
        let just_before = t0 + ttl - Duration::from_nanos(1);
        assert_eq!(cache.identity("a", just_before), Some(alice.clone()));
        assert_eq!(cache.identity("a", t0 + ttl), None, "expired at its ttl");
        assert_eq!(cache.identity("a", t0), None, "an expired entry is dropped");
        assert_eq!(cache.identity("b", t0), None, "never proven");
    }

    #[test]
    fn forgetting_one_identity_keeps_the_others() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let (alice, bob) = (
            IdentityId::from_public_key(b"alice"),
            IdentityId::from_public_key(b"bob"),
        );
        let now = Instant::now();
        cache.remember("a1", &alice, cache.ticket(), now);
        cache.remember("a2", &alice, cache.ticket(), now);
        cache.remember("b1", &bob, cache.ticket(), now);
        cache.forget(&alice);
        assert_eq!(cache.identity("a1", now), None);
        assert_eq!(cache.identity("a2", now), None);
        assert_eq!(cache.identity("b1", now), Some(bob));
    }

    #[test]
    fn a_lookup_begun_before_a_revocation_is_not_remembered() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let alice = IdentityId::from_public_key(b"alice");
        let now = Instant::now();
        // A request looks Alice's key up; meanwhile a revocation ends and forgets her keys.
        let ticket = cache.ticket();
        cache.forget(&alice);
        cache.remember("a", &alice, ticket, now);
        assert_eq!(cache.identity("a", now), None);
        // A lookup begun after it is remembered.
        cache.remember("a", &alice, cache.ticket(), now);
        assert_eq!(cache.identity("a", now), Some(alice));
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let cache = KeyCache::new(Duration::ZERO);
        let alice = IdentityId::from_public_key(b"alice");
        let now = Instant::now();
        cache.remember("a", &alice, cache.ticket(), now);
        assert_eq!(cache.identity("a", now), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_then_everything() {
        let ttl = Duration::from_secs(1);
        let cache = KeyCache::new(ttl);
        let alice = IdentityId::from_public_key(b"alice");
        let t0 = Instant::now();
        for i in 0..API_KEY_CACHE_ENTRIES_MAX {
            cache.remember(&format!("old {i}"), &alice, cache.ticket(), t0);
        }
        assert_eq!(cache.entries().by_hash.len(), API_KEY_CACHE_ENTRIES_MAX);
        // Full of live entries: all go.
        cache.remember("new", &alice, cache.ticket(), t0);
        assert_eq!(cache.entries().by_hash.len(), 1);
        for i in 0..API_KEY_CACHE_ENTRIES_MAX - 2 {
            cache.remember(&format!("old {i}"), &alice, cache.ticket(), t0);
        }
        cache.remember("fresh", &alice, cache.ticket(), t0 + ttl / 2);
        assert_eq!(cache.entries().by_hash.len(), API_KEY_CACHE_ENTRIES_MAX);
        // Full, all but one expired by t0 + ttl: only the expired ones go.
        let later = t0 + ttl;
        cache.remember("newest", &alice, cache.ticket(), later);
        assert_eq!(cache.identity("fresh", later), Some(alice.clone()));
        assert_eq!(cache.identity("newest", later), Some(alice));
        assert_eq!(cache.entries().by_hash.len(), 2);
    }
}
