//! Every bound of the HTTP layer in one place: bodies, connections, rates, credentials and
//! background work. Units last in the names (`_BYTES_MAX`, `_SECS`, `_PER_HOUR`); messages
//! that state a bound are built from these constants. The marketplace's own bounds on
//! what a command carries are [`marketplace_core::limits`].

use marketplace_core::limits::BLOB_BYTES_MAX;

// Bodies and answers.

/// Largest JSON body a request may carry, by default.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Largest upload, bytes (50 MB, as Agora documents).
pub const UPLOAD_BYTES_MAX: usize = BLOB_BYTES_MAX as usize;
/// Largest body of the routes taking files: an upload, or a multipart delivery with its
/// file, boundaries and text fields.
pub const FILE_BODY_BYTES_MAX: usize = UPLOAD_BYTES_MAX + 1024 * 1024;
/// Largest file `agora_upload` takes over MCP, decoded (its base64 is a third longer).
pub const MCP_UPLOAD_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Largest MCP request body: an upload's base64 and room for the rest of the message.
pub const MCP_BODY_BYTES_MAX: usize = MCP_UPLOAD_BYTES_MAX.div_ceil(3) * 4 + 64 * 1024;
/// Largest REST answer an MCP tool reads back (a page of 200 tasks fits).
pub const MCP_ANSWER_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Events a live stream may fall behind by before it reads the rest from the store.
pub const LIVE_BUFFER_EVENTS: usize = 4096;
/// How often the outbox is read for live streams, milliseconds.
pub const LIVE_POLL_MS: u64 = 200;
/// Longest wait for a missing outbox number before the events after it go out,
/// milliseconds (see [`crate::live`]).
pub const LIVE_GAP_WAIT_MS: u64 = 2000;
/// How long the outbox poller keeps running after a page asked where its stream would
/// start, seconds: the page's own stream comes right after, and the next pages read the
/// poller's horizon instead of the store.
pub const LIVE_PAGE_LINGER_SECS: u64 = 30;
/// How often a quiet live stream sends a keep-alive comment, seconds.
pub const LIVE_KEEP_ALIVE_SECS: u64 = 15;
/// How long a replica trusts an API key it looked up, milliseconds: the longest another
/// replica's revocation of it can take to reach this one (see
/// [`KeyCache`](crate::key_cache::KeyCache)).
pub const API_KEY_CACHE_TTL_MS: u64 = 1_000;
/// API keys a replica keeps proven at most.
pub const API_KEY_CACHE_ENTRIES_MAX: usize = 10_000;
/// Login attempts one account may receive per minute (the rest are refused with 429).
pub const LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE: u32 = 10;
/// Login attempts one client IP may make per minute, whatever the accounts.
pub const LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: u32 = 30;
/// Accounts and IPs whose login attempts are remembered before the idle ones are dropped.
pub const LOGIN_ATTEMPT_KEYS_MAX: usize = 100_000;
/// Largest error body AgentMarket's envelope middleware rewrites (errors are small JSON
/// objects).
pub const ERROR_BODY_BYTES_MAX: usize = 64 * 1024;
/// Largest answer read from an agent's endpoint or the LLM.
pub const RESULT_ANSWER_BYTES_MAX: usize = 1024 * 1024;
/// Largest answer body read from a webhook receiver (the rest is not needed).
pub const WEBHOOK_ANSWER_BYTES_MAX: usize = 64 * 1024;
/// Longest title made from a task description, characters.
pub const TITLE_CHARS_MAX: usize = 80;

// Connections.

/// Default [`ConnectionLimits::header_read_timeout`](crate::connections::ConnectionLimits::header_read_timeout).
pub const HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default [`ConnectionLimits::body_timeout`](crate::connections::ConnectionLimits::body_timeout).
pub const BODY_TIMEOUT_SECS: u64 = 60;
/// Default [`ConnectionLimits::connections_max`](crate::connections::ConnectionLimits::connections_max).
pub const CONNECTIONS_MAX: usize = 1024;
/// Longest request target (path and query), bytes; longer is answered 414.
pub const URI_BYTES_MAX: usize = 8 * 1024;
/// Most bytes of header names and values in one request; more is answered 431.
pub const HEADER_BYTES_MAX: usize = 16 * 1024;
/// Most header fields in one request; more is answered 431.
pub const HEADERS_MAX: usize = 100;
/// Most header fields the HTTP parser reads before refusing a request by itself.
pub const HEADERS_HARD_MAX: usize = 4 * HEADERS_MAX;
/// Connections a server keeps to PostgreSQL.
pub const POSTGRES_CONNECTIONS_MAX: u32 = 16;
/// Group commit's batches in flight at once on PostgreSQL, each on a connection of its own.
pub const POSTGRES_BATCH_LANES: usize = 4;

// Rates and budgets.

/// Requests per second one client IP may send by default (bursts of twice that).
pub const IP_REQUESTS_PER_SEC: u32 = 200;
/// Requests per second one identity may send by default (bursts of twice that).
pub const IDENTITY_REQUESTS_PER_SEC: u32 = 50;
/// Default [`UploadLimits::ip_bytes_per_hour`](crate::blobs::UploadLimits::ip_bytes_per_hour): 1 GB.
pub const IP_BYTES_PER_HOUR: u64 = 1 << 30;
/// Default [`UploadLimits::identity_bytes_per_hour`](crate::blobs::UploadLimits::identity_bytes_per_hour): 2 GB.
pub const IDENTITY_BYTES_PER_HOUR: u64 = 2 << 30;
/// Default [`UploadLimits::disk_bytes_max`](crate::blobs::UploadLimits::disk_bytes_max): 20 GB.
pub const DISK_BYTES_MAX: u64 = 20 << 30;
/// The window of the hourly upload budgets.
pub const BUDGET_WINDOW_SECS: u64 = 3600;
/// Budget windows kept before the stale ones are dropped.
pub const BUDGET_KEYS_MAX: usize = 100_000;
/// How long the piece of an unfinished upload must lie untouched before the collector
/// deletes it (at least): far past any body timeout, so a slow upload still arriving keeps
/// its piece.
pub const PARTIAL_UPLOAD_STALE_SECS: u64 = 3600;

// Credentials.

/// Shortest password accepted, characters.
pub const PASSWORD_CHARS_MIN: usize = 8;
/// Longest password accepted, bytes (argon2 takes any length; this bounds the work).
pub const PASSWORD_BYTES_MAX: usize = 1024;
/// Longest email accepted, bytes (RFC 5321's path limit).
pub const EMAIL_BYTES_MAX: usize = 254;
/// How long a login's session token holds, seconds (24 h).
pub const SESSION_SECS: i64 = 24 * 60 * 60;
/// How far a signed request's timestamp may be from the server's clock, in seconds.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;
/// Longest nonce a signed request may carry.
pub const NONCE_CHARS_MAX: usize = 64;
/// How far a proof of work's timestamp may be from the server's clock, in seconds: a stamp
/// is good for this long, and only once.
pub const POW_WINDOW_SECS: i64 = 600;
/// Longest proof-of-work stamp.
pub const POW_STAMP_BYTES_MAX: usize = 128;
/// The `Retry-After` of a request whose idempotency key is held by a request still
/// running: soon, as a running request under a key is a duplicate's first attempt.
pub const IN_PROGRESS_RETRY_SECS: u64 = 1;

// Background work.

/// Deadlines one sweep applies at most; the next tick takes the rest.
pub const SWEEP_BATCH_MAX: usize = 500;
/// How often the deadline sweep runs unless configured otherwise, milliseconds.
pub const SWEEP_INTERVAL_MS_DEFAULT: u64 = 1000;
/// Most recipients one event is fanned out to.
pub const FANOUT_MAX: usize = 10_000;
/// Events fanned out per round: each round is two commits (its lease, its fan-out), and
/// its recipients are looked up once, so larger rounds cost a busy outbox less. As many
/// as one lease may take ([`marketplace_core::limits::PAGE_LIMIT_MAX`]): a round that
/// leased fewer is taken to have emptied the outbox.
pub const EVENTS_PER_ROUND: usize = marketplace_core::limits::PAGE_LIMIT_MAX;
/// Most fan-out rounds one dispatcher tick runs back to back while the outbox is behind
/// (a round that leased [`EVENTS_PER_ROUND`] events is followed by another at once): a
/// tick drains up to 10,000 events, then lets the deliveries and the stop signal have
/// their turn.
pub const FAN_OUT_ROUNDS_PER_TICK: usize = 50;
/// Most recipients a fan-out round keeps looked up (their profiles, and apart from them
/// their webhook settings); past it the round forgets them and reads afresh, so its memory
/// stays bounded however many agents its events reach.
pub const RECIPIENTS_KEPT_PER_ROUND: usize = 10_000;
/// Subscribers read per page while fanning out.
pub const SUBSCRIBERS_PER_PAGE: usize = 500;
