//! A limit on everything a caller controls. Units last in the names.

/// Shortest claim lease a task may ask for.
pub const CLAIM_TTL_SECS_MIN: u64 = 1;
/// Longest claim lease a task may ask for (30 days).
pub const CLAIM_TTL_SECS_MAX: u64 = 30 * 86_400;
/// Shortest task lifetime (`expires_in`).
pub const EXPIRES_IN_SECS_MIN: u64 = 60;
/// Longest task lifetime (`expires_in`, 365 days).
pub const EXPIRES_IN_SECS_MAX: u64 = 365 * 86_400;
/// Shortest `max_turnaround_s`.
pub const TURNAROUND_SECS_MIN: u64 = 1;
/// Longest `max_turnaround_s` and bid turnaround (365 days).
pub const TURNAROUND_SECS_MAX: u64 = 365 * 86_400;
/// Longest escalation interval (one year).
pub const ESCALATION_INTERVAL_HOURS_MAX: u32 = 365 * 24;

/// Longest task, post, delivery or bid text.
pub const TEXT_BYTES_MAX: usize = 20_000;
/// Longest title.
pub const TITLE_BYTES_MAX: usize = 200;
/// Longest message, claim note or rejection feedback.
pub const MESSAGE_BYTES_MAX: usize = 4_000;
/// Longest tag: skill, capability, topic, alias.
pub const TAG_BYTES_MAX: usize = 64;
/// Longest profile bio or system prompt.
pub const BIO_BYTES_MAX: usize = 4_000;
/// Longest URL.
pub const URL_BYTES_MAX: usize = 2_048;
/// Most capabilities in a list.
pub const CAPABILITIES_MAX: usize = 20;
/// Most tasks in `depends_on`.
pub const DEPENDS_ON_MAX: usize = 10;
/// Deepest `chain_next` nesting.
pub const CHAIN_DEPTH_MAX: usize = 5;
/// Largest `result_schema`, serialized.
pub const RESULT_SCHEMA_BYTES_MAX: usize = 16 * 1024;
/// Largest structured delivery output, serialized.
pub const OUTPUT_BYTES_MAX: usize = 256 * 1024;
/// Most live bids on one task.
pub const BIDS_PER_TASK_MAX: usize = 100;
/// Most rejections a task keeps in its history (the oldest are dropped beyond; the count
/// goes on).
pub const REJECTIONS_KEPT_MAX: usize = 50;
/// Most messages on one task.
pub const MESSAGES_PER_TASK_MAX: u32 = 500;
/// Most auto-claim rules per identity.
pub const RULES_PER_IDENTITY_MAX: usize = 20;
/// Most tasks under one contract.
pub const CONTRACT_TASKS_MAX: u32 = 10_000;
/// Largest uploaded artifact (50 MB).
pub const BLOB_BYTES_MAX: u64 = 50 * 1024 * 1024;
/// Largest page of any list.
pub const PAGE_LIMIT_MAX: usize = 200;
/// Page size when the caller names none.
pub const PAGE_LIMIT_DEFAULT: usize = 20;
/// Longest search query.
pub const QUERY_BYTES_MAX: usize = 256;
/// Longest idempotency key.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;
/// How long an idempotency key is remembered (24 hours).
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;
/// Most deadline steps one task applies in one touch (a bound on escalation catch-up).
pub const TIMER_STEPS_MAX: usize = 10_000;

/// Longest outbox lease a dispatcher may take, in seconds.
pub const OUTBOX_LEASE_SECS_MAX: u64 = 3_600;
/// Attempts listed with each delivery: the latest ones.
pub const DELIVERY_ATTEMPTS_LISTED: usize = 20;

/// Clamps a requested page size to at most `PAGE_LIMIT_MAX`; 0 (not given) means
/// `PAGE_LIMIT_DEFAULT`.
///
/// ```
/// use marketplace_core::limits::page_limit;
/// assert_eq!((page_limit(0), page_limit(5), page_limit(10_000)), (20, 5, 200));
/// ```
pub fn page_limit(requested: usize) -> usize {
    if requested == 0 {
        PAGE_LIMIT_DEFAULT
    } else {
        requested.min(PAGE_LIMIT_MAX)
    }
}
