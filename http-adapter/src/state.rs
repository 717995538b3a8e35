//! What every handler shares: the [`AppState`] (the engine, the master key, the artifact
//! store, the outbound client, how agents are reached) and the [`Config`] it is built from.
//! The bottom floor: it imports no handler and no face.

use std::path::PathBuf;
use std::sync::Arc;

use marketplace_core::Marketplace;
use marketplace_core::store::Backend;

use crate::blobs::{BlobDir, UploadLimits};
use crate::crypto::MasterKey;
use crate::key_cache::KeyCache;
use crate::limits::{API_KEY_CACHE_TTL_MS, BODY_BYTES_MAX, LIVE_KEEP_ALIVE_SECS};
use crate::live::EventHub;
use crate::outbound::{Outbound, OutboundConfig};
use crate::rate_limits::{LoginAttempts, RateLimits};
use crate::reach::ReachConfig;

/// Where uploaded artifacts are kept unless configured otherwise.
pub const BLOB_DIR_DEFAULT: &str = "marketplace-blobs";

/// What the router needs besides the engine.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seals custodial keys.
    pub master: MasterKey,
    /// Largest JSON request body accepted (413 beyond); uploads have their own limit,
    /// [`UPLOAD_BYTES_MAX`](crate::limits::UPLOAD_BYTES_MAX).
    pub body_bytes_max: usize,
    /// Where uploaded artifacts are stored.
    pub blob_dir: PathBuf,
    /// Requests per IP and per identity.
    pub rate_limits: RateLimits,
    /// The client for webhooks, callbacks and executions (default: private addresses
    /// refused, the system's CA certificates).
    pub outbound: Option<Outbound>,
    /// How agents are reached.
    pub reach: ReachConfig,
    /// What uploads may store: hourly byte budgets per IP and per identity, and the disk.
    pub upload_limits: UploadLimits,
    /// Leading zero bits a registration's proof of work must have (0: none asked; see
    /// [`crate::auth::ProofOfWork`]).
    pub registration_pow_bits: u8,
    /// The `Host` names (or `name:port`) the MCP endpoint serves; any other `Host` is
    /// refused, so a web page cannot reach the server by DNS rebinding (default: the
    /// loopback names).
    pub mcp_hosts: Vec<String>,
    /// How often a quiet live stream (`GET /api/v1/events`) sends a keep-alive comment.
    pub live_keep_alive: std::time::Duration,
    /// How long an API key, once looked up, is trusted without asking the store again
    /// (zero: always asked; see [`KeyCache`]).
    pub api_key_cache: std::time::Duration,
}

/// The `Host` names the MCP endpoint serves by default.
pub const MCP_HOSTS_DEFAULT: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl Config {
    /// A configuration with `master` and the defaults.
    pub fn new(master: MasterKey) -> Self {
        Self {
            master,
            body_bytes_max: BODY_BYTES_MAX,
            blob_dir: PathBuf::from(BLOB_DIR_DEFAULT),
            rate_limits: RateLimits::default(),
            outbound: None,
            reach: ReachConfig::default(),
            upload_limits: UploadLimits::default(),
            registration_pow_bits: 0,
            mcp_hosts: MCP_HOSTS_DEFAULT.map(str::to_owned).to_vec(),
            live_keep_alive: std::time::Duration::from_secs(LIVE_KEEP_ALIVE_SECS),
            api_key_cache: std::time::Duration::from_millis(API_KEY_CACHE_TTL_MS),
        }
    }

    /// Trusts an API key, once looked up, for `ttl` (default [`API_KEY_CACHE_TTL_MS`];
    /// zero: every request asks the store).
    pub fn with_api_key_cache(mut self, ttl: std::time::Duration) -> Self {
        self.api_key_cache = ttl;
        self
    }

    /// Sends a keep-alive comment on quiet live streams every `every` (default
    /// [`LIVE_KEEP_ALIVE_SECS`]).
    pub fn with_live_keep_alive(mut self, every: std::time::Duration) -> Self {
        self.live_keep_alive = every;
        self
    }

    /// Serves MCP to requests naming `hosts` too (besides the loopback names).
    pub fn with_mcp_hosts(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        for host in hosts {
            if !self.mcp_hosts.contains(&host) {
                self.mcp_hosts.push(host);
            }
        }
        self
    }

    /// Asks every registration for a proof of work of `bits` leading zero bits.
    pub fn with_registration_pow_bits(mut self, bits: u8) -> Self {
        self.registration_pow_bits = bits;
        self
    }

    /// Bounds uploads by `limits` instead of the defaults.
    pub fn with_upload_limits(mut self, limits: UploadLimits) -> Self {
        self.upload_limits = limits;
        self
    }

    /// Sends webhooks, callbacks and executions through `outbound`.
    pub fn with_outbound(mut self, outbound: Outbound) -> Self {
        self.outbound = Some(outbound);
        self
    }

    /// Reaches agents as `reach` says.
    pub fn with_reach(mut self, reach: ReachConfig) -> Self {
        self.reach = reach;
        self
    }

    /// Enforces `limits` instead of the defaults.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Stores artifacts under `dir`.
    pub fn with_blob_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.blob_dir = dir.into();
        self
    }
}

/// What every handler (and the dispatcher) gets: the engine (and through it the store),
/// the master key, the artifact store, and the means to reach agents.
#[derive(Debug, Clone)]
pub struct AppState<S> {
    /// The marketplace.
    pub market: Marketplace<S>,
    /// Seals custodial keys and webhook secrets.
    pub master: MasterKey,
    /// Largest JSON request body accepted.
    pub body_bytes_max: usize,
    /// Uploaded artifacts.
    pub blobs: BlobDir,
    /// The client for requests to agents' URLs.
    pub outbound: Outbound,
    /// How agents are reached.
    pub reach: Arc<ReachConfig>,
    /// Leading zero bits a registration's proof of work must have (0: none).
    pub registration_pow_bits: u8,
    /// The `Host` names the MCP endpoint serves.
    pub mcp_hosts: Arc<[String]>,
    /// Events as they happen, for the live streams.
    pub live: Arc<EventHub>,
    /// How often a quiet live stream sends a keep-alive comment.
    pub live_keep_alive: std::time::Duration,
    /// Login attempts per account and per IP.
    pub login_attempts: Arc<LoginAttempts>,
    /// API keys recently proven.
    pub keys: Arc<KeyCache>,
}

impl<S: Backend + Clone> AppState<S> {
    /// The state the routes and the dispatcher share.
    pub fn new(market: Marketplace<S>, config: Config) -> Self {
        let outbound = config.outbound.unwrap_or_else(|| {
            // Without a CA bundle to read, only a broken TLS installation fails here.
            Outbound::new(&OutboundConfig::default()).expect("the default TLS setup")
        });
        Self {
            market,
            master: config.master,
            body_bytes_max: config.body_bytes_max,
            blobs: BlobDir::with_limits(config.blob_dir, config.upload_limits),
            outbound,
            reach: Arc::new(config.reach),
            registration_pow_bits: config.registration_pow_bits,
            mcp_hosts: config.mcp_hosts.into(),
            live: Arc::default(),
            live_keep_alive: config.live_keep_alive,
            login_attempts: Arc::default(),
            keys: Arc::new(KeyCache::new(config.api_key_cache)),
        }
    }
}
