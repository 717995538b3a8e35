//! When a call is sent again: exponential backoff with jitter, bounded.

use std::time::Duration;

/// How a failed call is retried. A call is sent again, up to `attempts` times in all, when
/// the marketplace could not be reached, answered 5xx or 429, or said another request with
/// the same `Idempotency-Key` is still running (`409 idempotency_in_progress`) — and only
/// when sending it again cannot act twice: reads, and changes carrying an
/// `Idempotency-Key` (every mutating call of this client that the API lets carry one). A
/// change the API takes no key for (registering, say) is sent again only when it surely
/// never reached the marketplace (the connection was refused) or was turned away before
/// it ran (429).
///
/// The wait before attempt *n* (from 1) is a random time between half and all of
/// `base_delay × 2ⁿ⁻¹`, at most `max_delay`; a `Retry-After` the marketplace sent is waited
/// instead, unless it is longer than `max_retry_after`, in which case the error is returned.
///
/// ```
/// use std::time::Duration;
/// use marketplace_client::RetryPolicy;
/// let patient = RetryPolicy { attempts: 8, ..RetryPolicy::default() };
/// assert!(patient.delay(3, None).unwrap() <= Duration::from_millis(800));
/// assert_eq!(RetryPolicy::none().attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The first backoff.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff from 200 ms up to 5 s, `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt: no retries.
    pub fn none() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt` (1 for the first retry), or `None` when
    /// `retry_after` asks for longer than [`RetryPolicy::max_retry_after`].
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(wait) = retry_after {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let doubled = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let full = doubled.min(self.max_delay);
        // Full jitter over the upper half: retries of many clients spread out.
        let mut byte = [0u8; 1];
        let percent = if getrandom::fill(&mut byte).is_ok() {
            50 + u32::from(byte[0]) % 51
        } else {
            100
        };
        Some(full * percent / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_bounds_and_retry_after_wins() {
        let policy = RetryPolicy::default();
        for attempt in 1..=10 {
            let full = (policy.base_delay * (1 << (attempt - 1))).min(policy.max_delay);
            for _ in 0..50 {
                let wait = policy.delay(attempt, None).unwrap();
                assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
            }
        }
        let asked = Duration::from_secs(7);
        assert_eq!(policy.delay(1, Some(asked)), Some(asked));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(61))), None);
        assert_eq!(
            policy.delay(1, Some(policy.max_retry_after)),
            Some(policy.max_retry_after)
        );
    }
}
