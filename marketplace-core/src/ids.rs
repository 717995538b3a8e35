//! Identifiers: identity hashes and the time-ordered ids of records.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::Error;
use crate::time::Timestamp;

/// The id of every principal: lowercase hex SHA-256 of its ed25519 public key.
///
/// Shared (`Arc<str>`): identities are copied into accounts, ledger lines, events and
/// views on every command, and a clone is a reference-count increment.
///
/// Agents (API key), humans (email) and nodes (self-custody) all end up with one of these, so
/// the board cannot tell them apart.
///
/// ```
/// use marketplace_core::IdentityId;
/// let id = IdentityId::from_public_key(&[7u8; 32]);
/// assert_eq!(id.as_str().len(), 64);
/// assert_eq!(IdentityId::parse(id.as_str()).unwrap(), id);
/// assert!(IdentityId::parse("not-a-hash").is_err());
/// ```
#[derive(Clone, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdentityId(Arc<str>);

// Compared by pointer first: within a command most comparisons are between clones of one
// identity (the actor, the task's poster, the keys of its account and reputation), and two
// clones of one `Arc` are equal without reading their 64 digits.
impl PartialEq for IdentityId {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Ord for IdentityId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

impl std::hash::Hash for IdentityId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The digits, as equality compares them.
        self.0.hash(state);
    }
}

impl PartialOrd for IdentityId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl IdentityId {
    /// Length of the hex form: 64 characters.
    pub const LEN: usize = 64;

    /// The identity of a public key: lowercase hex SHA-256 of its bytes.
    pub fn from_public_key(public_key: &[u8]) -> Self {
        let digest = Sha256::digest(public_key);
        let mut out = String::with_capacity(Self::LEN);
        for byte in digest {
            out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
            out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
        }
        Self(out.into())
    }

    /// Parses a hash as clients send it: exactly 64 hex digits, upper case folded to lower.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.len() != Self::LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid("identity", "must be 64 hex digits"));
        }
        Ok(Self(text.to_ascii_lowercase().into()))
    }

    /// The hex form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Twelve digits identify a principal in logs and test output without drowning them.
        write!(f, "Identity({})", &self.0[..12])
    }
}

impl FromStr for IdentityId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for IdentityId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<IdentityId> for String {
    fn from(id: IdentityId) -> String {
        id.0.to_string()
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        // The same order as the bytes' (a UUID's integer is big-endian), in one integer
        // compare instead of a byte-slice compare: ids are the keys of every ordered map.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.as_u128().cmp(&other.0.as_u128())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::invalid(stringify!($name), "must be a UUID"))
            }
        }
    };
}

uuid_id!(
    /// A task. Time-ordered (UUIDv7), so id order is posting order.
    TaskId
);
uuid_id!(
    /// A bid on a bidding task.
    BidId
);
uuid_id!(
    /// An auto-claim rule of the broker.
    RuleId
);
uuid_id!(
    /// A standing contract between a poster and an agent.
    ContractId
);
uuid_id!(
    /// A task-scoped message.
    MessageId
);
uuid_id!(
    /// A board post (service, post, question, answer).
    PostId
);

/// Where new record ids come from: one 64-bit seed per command.
///
/// The engine draws one seed per command and the pure state machine derives every id the
/// command creates from it and the command's time (see [`IdAllocator`]), so a command re-run
/// after loading more records creates the same ids, and a deterministic source makes whole
/// runs reproducible.
pub trait IdSource: Send + Sync + fmt::Debug {
    /// The next seed. Two calls must never return the same value within one process.
    fn next_seed(&self) -> u64;
}

/// A deterministic source (1, 2, 3, ...): for tests, property tests and differential runs.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    /// A source whose first seed is `start + 1`.
    pub fn starting_at(start: u64) -> Self {
        Self(AtomicU64::new(start))
    }
}

impl IdSource for SequentialIds {
    fn next_seed(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The production source: a random 64-bit start per process, then SplitMix64 over a counter,
/// so seeds never repeat in a process and replicas sharing a database draw disjoint ids.
#[derive(Debug)]
pub struct RandomIds {
    counter: AtomicU64,
    salt: u64,
}

impl Default for RandomIds {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // `RandomState` is seeded from the operating system's randomness: no extra crate.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x6d61_726b_6574);
        let salt = hasher.finish();
        Self {
            counter: AtomicU64::new(0),
            salt,
        }
    }
}

impl IdSource for RandomIds {
    fn next_seed(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // SplitMix64 is a bijection of its input, so distinct counters give distinct seeds.
        let mut z = n
            .wrapping_add(self.salt)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Hands out the ids one command creates: UUIDv7 built from the command's time, its seed and
/// a per-command counter. Pure: the same inputs give the same ids.
#[derive(Debug, Clone)]
pub struct IdAllocator {
    millis: u64,
    seed: u64,
    next: u16,
}

impl IdAllocator {
    /// Ids for a command executed at `now` with `seed`.
    pub fn new(now: Timestamp, seed: u64) -> Self {
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        Self {
            millis,
            seed,
            next: 0,
        }
    }

    /// The next id.
    pub fn next_uuid(&mut self) -> Uuid {
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&self.seed.to_be_bytes());
        random[8..].copy_from_slice(&self.next.to_be_bytes());
        self.next = self.next.wrapping_add(1);
        uuid::Builder::from_unix_timestamp_millis(self.millis, &random).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_as_their_bytes_do() {
        let bytes: [[u8; 16]; 5] = [
            [0; 16],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            [0xff; 16],
        ];
        for a in bytes {
            for b in bytes {
                let (x, y) = (TaskId(Uuid::from_bytes(a)), TaskId(Uuid::from_bytes(b)));
                assert_eq!(x.cmp(&y), a.cmp(&b), "{x:?} vs {y:?}");
                assert_eq!(x.partial_cmp(&y), Some(a.cmp(&b)));
            }
        }
        // Time-ordered: an id allocated later sorts after.
        let t0 = chrono::DateTime::from_timestamp_millis(1_700_000_000_000).unwrap_or_default();
        let t1 = t0 + chrono::Duration::milliseconds(1);
        let early = TaskId(IdAllocator::new(t0, u64::MAX).next_uuid());
        let late = TaskId(IdAllocator::new(t1, 0).next_uuid());
        assert!(early < late);
    }
}
