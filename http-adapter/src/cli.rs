//! The `marketplace-server` command line: its settings (flags with environment fallbacks,
//! defaults taken from the library's constants) and what each subcommand does.
//!
//! - `serve` (the default, so its flags may be given without it): open the database, bind,
//!   and run [`server::run`] until SIGTERM or Ctrl-C;
//! - `migrate`: apply the migrations and exit;
//! - `audit`: check every invariant against the stored data; exit non-zero on a violation;
//! - `mcp`: one MCP session on stdin and stdout, the engine embedded on the same database,
//!   acting as the identity of `MARKETPLACE_API_KEY`.
//!
//! `migrate` and `audit` take only the database's flags.

#![allow(clippy::print_stdout)] // `audit`, `migrate` and the listening line report on stdout

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use marketplace_core::audit::audit;
use marketplace_core::store::Backend;
use marketplace_core::{GroupCommit, Marketplace, Policy, Store};
use storage_sqlite::SqliteOptions;

use crate::auth::{MasterKey, random_hex};
use crate::blobs::UploadLimits;
use crate::connections::ConnectionLimits;
use crate::database::{Database, Location};
use crate::dispatch::{self, LlmConfig, ReachConfig};
use crate::limits::{self, API_KEY_CACHE_TTL_MS, POSTGRES_BATCH_LANES};
use crate::outbound::{Outbound, OutboundConfig};
use crate::rate_limits::{Rate, RateLimits};
use crate::server;

/// The agent marketplace's reference server.
#[derive(Debug, Parser)]
#[command(
    name = "marketplace-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve`'s settings, when no subcommand is named.
    #[command(flatten)]
    pub serve: ServeSettings,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the marketplace (the default).
    Serve(ServeSettings),
    /// Apply the database migrations and exit.
    Migrate(DatabaseSettings),
    /// Check every invariant against the stored data; exit non-zero on any violation.
    Audit(DatabaseSettings),
    /// Serve one MCP session on stdin and stdout, the engine embedded on the database, as
    /// the identity of `MARKETPLACE_API_KEY`.
    Mcp(McpSettings),
}

/// Which database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// `sqlite://PATH`, `postgres://…` or `memory://`; default: `marketplace.db` in the
    /// working directory.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://marketplace.db")]
    pub database_url: String,
    /// SQLite: commands' statements run inline, as calls into SQLite on a connection of the
    /// writer's own (`false`: each statement goes through the driver's connection thread
    /// and back, as before; the same rows either way).
    #[arg(long, env = "MARKETPLACE_SQLITE_INLINE_WRITER", default_value_t = true, action = clap::ArgAction::Set)]
    pub sqlite_inline_writer: bool,
    /// SQLite: the write-ahead log is checkpointed by a thread of its own every 100 ms
    /// (`false`: by the committing writer every 1,000 pages, SQLite's default).
    #[arg(long, env = "MARKETPLACE_SQLITE_CHECKPOINT_THREAD", default_value_t = true, action = clap::ArgAction::Set)]
    pub sqlite_checkpoint_thread: bool,
}

/// The marketplace's numbers.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Preset {
    /// Agora's: 12% fee, credit 50 that grows with reputation.
    Agora,
    /// AgentMarket's: 10% fee, 100 credits at signup, no credit.
    Agentmarket,
}

/// Everything `serve` takes.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// Address to listen on.
    #[arg(long, env = "MARKETPLACE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The marketplace's numbers: fees, grants, limits.
    #[arg(long, env = "MARKETPLACE_PRESET", value_enum, default_value_t = Preset::Agora)]
    pub preset: Preset,
    /// The base credit of a new identity, replacing the preset's (agora 50, agentmarket 0).
    #[arg(long, env = "MARKETPLACE_BASE_CREDIT")]
    pub base_credit: Option<rust_decimal::Decimal>,
    /// Seconds an account must exist before its base credit pays for anything (0: at once).
    #[arg(long, env = "MARKETPLACE_BASE_CREDIT_MIN_AGE_SECS", default_value_t = Policy::agora().base_credit_min_age_secs)]
    pub base_credit_min_age_secs: u64,
    /// Leading zero bits a registration's proof of work must have (0: none asked).
    #[arg(long, env = "MARKETPLACE_REGISTRATION_POW_BITS", default_value_t = 0)]
    pub registration_pow_bits: u8,
    /// How long a replica trusts an API key it looked up, milliseconds: requests within it
    /// skip the store's lookup, and a key revoked on another replica is refused here once
    /// it passes (on the replica that revoked it, at once). 0: every request asks the store.
    #[arg(long, env = "MARKETPLACE_API_KEY_CACHE_MS", default_value_t = API_KEY_CACHE_TTL_MS)]
    pub api_key_cache_ms: u64,
    /// Where uploaded artifacts are kept.
    #[arg(long, env = "MARKETPLACE_BLOB_DIR", default_value = server::BLOB_DIR_DEFAULT)]
    pub blob_dir: PathBuf,
    /// How often the deadline sweep runs, in milliseconds.
    #[arg(long, env = "MARKETPLACE_SWEEP_INTERVAL_MS", default_value_t = limits::SWEEP_INTERVAL_MS_DEFAULT)]
    pub sweep_interval_ms: u64,
    /// Requests per second one client IP may send (bursts of twice that); 0: no limit.
    #[arg(long, env = "MARKETPLACE_RATE_LIMIT_IP", default_value_t = limits::IP_REQUESTS_PER_SEC)]
    pub rate_limit_ip: u32,
    /// Requests per second one identity (API key, token, node key) may send; 0: no limit.
    #[arg(long, env = "MARKETPLACE_RATE_LIMIT_IDENTITY", default_value_t = limits::IDENTITY_REQUESTS_PER_SEC)]
    pub rate_limit_identity: u32,
    /// Seals custodial keys; generated and kept in the database when not given.
    #[arg(long, env = "MARKETPLACE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Let webhooks, callbacks and executions reach private, loopback and link-local
    /// addresses (refused by default).
    #[arg(
        long,
        env = "MARKETPLACE_OUTBOUND_ALLOW_PRIVATE",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub outbound_allow_private: bool,
    /// Extra CA certificates (PEM) trusted for outbound HTTPS, beside the system's.
    #[arg(long, env = "MARKETPLACE_OUTBOUND_CA_FILE")]
    pub outbound_ca_file: Option<PathBuf>,
    /// This marketplace's public URL, sent in webhooks (default: `http://` and the listen
    /// address).
    #[arg(long, env = "MARKETPLACE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// More `Host` names (or `name:port`) the MCP endpoint serves, comma-separated, beside
    /// the loopback names, the listen address and the public URL's host.
    #[arg(long, env = "MARKETPLACE_MCP_HOSTS", value_delimiter = ',')]
    pub mcp_hosts: Vec<String>,
    /// Waits between webhook attempts, milliseconds, comma-separated; the last repeats.
    #[arg(
        long,
        env = "MARKETPLACE_WEBHOOK_BACKOFF_MS",
        value_delimiter = ',',
        default_values_t = ReachConfig::default().backoff.iter().map(millis)
    )]
    pub webhook_backoff_ms: Vec<u64>,
    /// A webhook still failing this long after it was created is given up.
    #[arg(long, env = "MARKETPLACE_WEBHOOK_GIVE_UP_SECS", default_value_t = ReachConfig::default().give_up_after.as_secs())]
    pub webhook_give_up_secs: u64,
    /// How long one webhook request may take, seconds.
    #[arg(long, env = "MARKETPLACE_WEBHOOK_TIMEOUT_SECS", default_value_t = ReachConfig::default().webhook_timeout.as_secs())]
    pub webhook_timeout_secs: u64,
    /// How long a client may take to send a request's head, seconds, counted from when the
    /// connection waits for one (so also how long a kept-alive connection may sit idle).
    #[arg(long, env = "MARKETPLACE_HEADER_READ_TIMEOUT_SECS", default_value_t = limits::HEADER_READ_TIMEOUT_SECS)]
    pub header_read_timeout_secs: u64,
    /// How long a request body may send nothing before it is cut off (408), seconds.
    #[arg(long, env = "MARKETPLACE_BODY_TIMEOUT_SECS", default_value_t = limits::BODY_TIMEOUT_SECS)]
    pub body_timeout_secs: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "MARKETPLACE_MAX_CONNECTIONS", default_value_t = limits::CONNECTIONS_MAX)]
    pub max_connections: usize,
    /// Bytes one client IP may upload per hour (429 beyond); 0 turns the bound off.
    #[arg(long, env = "MARKETPLACE_UPLOAD_IP_BYTES_PER_HOUR", default_value_t = limits::IP_BYTES_PER_HOUR)]
    pub upload_ip_bytes_per_hour: u64,
    /// Bytes one identity may upload per hour (429 beyond); 0 turns the bound off.
    #[arg(long, env = "MARKETPLACE_UPLOAD_IDENTITY_BYTES_PER_HOUR", default_value_t = limits::IDENTITY_BYTES_PER_HOUR)]
    pub upload_identity_bytes_per_hour: u64,
    /// Bytes all artifacts may take on disk (507 beyond); 0 turns the bound off.
    #[arg(long, env = "MARKETPLACE_BLOB_DISK_BYTES_MAX", default_value_t = limits::DISK_BYTES_MAX)]
    pub blob_disk_bytes_max: u64,
    /// How long an uploaded artifact that no delivery names is kept, seconds (the blob
    /// collector deletes it after that); 0 keeps every artifact.
    #[arg(long, env = "MARKETPLACE_BLOB_GRACE_SECS", default_value_t = Policy::agora().blob_grace_secs)]
    pub blob_grace_secs: u64,
    /// How often the webhook dispatcher looks for work, milliseconds.
    #[arg(long, env = "MARKETPLACE_DISPATCH_INTERVAL_MS", default_value_t = millis(&ReachConfig::default().interval))]
    pub dispatch_interval_ms: u64,
    /// Group commit: commands that arrive while a commit is in flight share the next one
    /// (`false`: a commit per command).
    #[arg(long, env = "MARKETPLACE_GROUP_COMMIT", default_value_t = true, action = clap::ArgAction::Set)]
    pub group_commit: bool,
    /// The most commands one commit holds.
    #[arg(long, env = "MARKETPLACE_BATCH_MAX_COMMANDS", default_value_t = GroupCommit::default().max_commands)]
    pub batch_max_commands: usize,
    /// How long a batch keeps taking in arriving commands, microseconds.
    #[arg(long, env = "MARKETPLACE_BATCH_MAX_OPEN_US", default_value_t = micros(&GroupCommit::default().max_open))]
    pub batch_max_open_us: u64,
    /// Batches in flight at once (default: 1 on SQLite and in memory, which have one
    /// writer; 4 on PostgreSQL).
    #[arg(long, env = "MARKETPLACE_BATCH_LANES")]
    pub batch_lanes: Option<usize>,
    /// How long a direct execution waits for its agent, seconds.
    #[arg(long, env = "MARKETPLACE_EXECUTE_TIMEOUT_SECS", default_value_t = ReachConfig::default().execute_timeout.as_secs())]
    pub execute_timeout_secs: u64,
    /// The Messages API that runs system-prompt agents.
    #[arg(long, env = "MARKETPLACE_LLM_BASE_URL", default_value = dispatch::LLM_BASE_URL_DEFAULT)]
    pub llm_base_url: String,
    /// Its API key; without one, executing a system-prompt agent answers 503.
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    /// The model asked for.
    #[arg(long, env = "MARKETPLACE_LLM_MODEL", default_value = dispatch::LLM_MODEL_DEFAULT)]
    pub llm_model: String,
}

/// A duration in whole microseconds, for a flag's default.
fn micros(duration: &Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// A duration in whole milliseconds, for a flag's default.
fn millis(duration: &Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl ServeSettings {
    /// The marketplace on `store` with the flags' policy, and group commit unless turned
    /// off: SQLite's lane, when its commands run inline, on a thread of its own
    /// ([`storage_sqlite::spawn_lane`]), where its commits wait on the disk without a
    /// hand-off; other lanes spawned on the current runtime.
    pub fn market<S: Backend + Clone>(&self, store: S) -> Marketplace<S> {
        let market = Marketplace::new(store, self.policy());
        if !self.group_commit {
            return market;
        }
        let location = Location::parse(&self.database.database_url);
        let postgres = matches!(location, Ok(Location::Postgres(_)));
        let own_thread =
            matches!(location, Ok(Location::Sqlite(_))) && self.database.sqlite_inline_writer;
        let config = GroupCommit {
            max_commands: self.batch_max_commands,
            max_open: Duration::from_micros(self.batch_max_open_us),
            lanes: self
                .batch_lanes
                .unwrap_or(if postgres { POSTGRES_BATCH_LANES } else { 1 }),
        };
        market.with_group_commit(config, |lane| {
            if !own_thread {
                tokio::spawn(lane);
            } else if let Err(e) = storage_sqlite::spawn_lane(lane) {
                tracing::error!(
                    "cannot start the SQLite lane's thread ({e}): commands commit one by one"
                );
            }
        })
    }

    /// The preset's policy with the flags' changes.
    pub fn policy(&self) -> Policy {
        let mut policy = match self.preset {
            Preset::Agora => Policy::agora(),
            Preset::Agentmarket => Policy::agentmarket(),
        };
        if let Some(base) = self.base_credit {
            policy.base_credit_limit = base;
        }
        policy.base_credit_min_age_secs = self.base_credit_min_age_secs;
        policy.blob_grace_secs = self.blob_grace_secs;
        policy
    }

    /// The rate limits (0: none).
    pub fn rate_limits(&self) -> RateLimits {
        let rate = |per_second: u32| (per_second > 0).then(|| Rate::per_second(per_second));
        RateLimits {
            per_ip: rate(self.rate_limit_ip),
            per_identity: rate(self.rate_limit_identity),
        }
    }

    /// The connection bounds (each at least 1).
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
            connections_max: self.max_connections.max(1),
        }
    }

    /// The upload bounds.
    pub fn upload_limits(&self) -> UploadLimits {
        UploadLimits {
            ip_bytes_per_hour: self.upload_ip_bytes_per_hour,
            identity_bytes_per_hour: self.upload_identity_bytes_per_hour,
            disk_bytes_max: self.blob_disk_bytes_max,
        }
    }

    /// The client for agents' URLs, with the operator's extra CA certificates.
    pub async fn outbound(&self) -> std::io::Result<Outbound> {
        let extra_ca_pem =
            match &self.outbound_ca_file {
                Some(path) => Some(tokio::fs::read(path).await.map_err(|e| {
                    std::io::Error::other(format!("reading {}: {e}", path.display()))
                })?),
                None => None,
            };
        let config = OutboundConfig {
            allow_private: self.outbound_allow_private,
            extra_ca_pem,
        };
        if config.allow_private {
            tracing::warn!("outbound requests may reach private and loopback addresses");
        }
        Outbound::new(&config).map_err(std::io::Error::other)
    }

    /// How agents are reached, for a server listening on `address`.
    pub fn reach(&self, address: SocketAddr) -> ReachConfig {
        let defaults = ReachConfig::default();
        let backoff: Vec<Duration> = self
            .webhook_backoff_ms
            .iter()
            .map(|ms| Duration::from_millis((*ms).max(1)))
            .collect();
        ReachConfig {
            marketplace_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{address}")),
            webhook_timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            execute_timeout: Duration::from_secs(self.execute_timeout_secs.max(1)),
            backoff: if backoff.is_empty() {
                defaults.backoff
            } else {
                backoff
            },
            give_up_after: Duration::from_secs(self.webhook_give_up_secs),
            interval: Duration::from_millis(self.dispatch_interval_ms.max(1)),
            llm: LlmConfig {
                base_url: self.llm_base_url.clone(),
                api_key: self.llm_api_key.clone().filter(|k| !k.is_empty()),
                model: self.llm_model.clone(),
                ..LlmConfig::default()
            },
            ..defaults
        }
    }

    /// `--secret`, or else the secret generated on the first start and kept in the
    /// database (the first replica to start writes it; the others read it).
    pub async fn master_key<S: marketplace_core::store::Credentials>(
        &self,
        store: &S,
    ) -> std::io::Result<MasterKey> {
        if let Some(secret) = &self.secret {
            return Ok(MasterKey::from_secret(secret));
        }
        let fresh = random_hex(32).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let secret = store
            .setting_or_insert("master_secret", &fresh)
            .await
            .map_err(std::io::Error::other)?;
        Ok(MasterKey::from_secret(&secret))
    }

    /// The server's configuration, for one listening on `address`.
    pub async fn config<S: Backend>(
        &self,
        store: &S,
        address: SocketAddr,
    ) -> std::io::Result<server::Config> {
        Ok(server::Config::new(self.master_key(store).await?)
            .with_blob_dir(&self.blob_dir)
            .with_registration_pow_bits(self.registration_pow_bits)
            .with_api_key_cache(std::time::Duration::from_millis(self.api_key_cache_ms))
            .with_upload_limits(self.upload_limits())
            .with_outbound(self.outbound().await?)
            .with_reach(self.reach(address))
            .with_rate_limits(self.rate_limits())
            .with_mcp_hosts(self.mcp_hosts(address)))
    }

    /// The `Host` names MCP serves besides the loopback ones: the address listened on
    /// (unless it is every interface's), the public URL's host, and `--mcp-hosts`.
    pub fn mcp_hosts(&self, address: SocketAddr) -> Vec<String> {
        let mut hosts = Vec::new();
        if !address.ip().is_unspecified() {
            hosts.push(address.ip().to_string());
        }
        let public = self
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok());
        if let Some(host) = public.as_ref().and_then(url::Url::host_str) {
            hosts.push(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            );
        }
        hosts.extend(self.mcp_hosts.iter().map(|h| h.trim().to_owned()));
        hosts.retain(|h| !h.is_empty());
        hosts
    }
}

/// What `mcp` takes: the server's settings (the database, the preset, the secret, …) and
/// whose session it is.
#[derive(Debug, Clone, Args)]
pub struct McpSettings {
    /// The marketplace's settings, as `serve` takes them (`--listen` is not used).
    #[command(flatten)]
    pub serve: ServeSettings,
    /// The API key (or session token) of the identity the session acts as. Without one, a
    /// new agent is registered and its key written once to stderr.
    #[arg(long, env = "MARKETPLACE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Runs the command line: opens the database its URL names and does what it asks. Exit
/// code 2 for a URL of no known kind.
pub async fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    let database = match &command {
        Command::Serve(serve) | Command::Mcp(McpSettings { serve, .. }) => &serve.database,
        Command::Migrate(db) | Command::Audit(db) => db,
    };
    let url = &database.database_url;
    let location = match Location::parse(url) {
        Ok(location) => location,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    if location == Location::Memory {
        tracing::warn!(
            "the database is memory://: nothing is written to disk, and every task, account \
             and credit is lost when the server stops"
        );
    }
    let sqlite = |options: SqliteOptions| {
        options
            .inline_writer(database.sqlite_inline_writer)
            .checkpoint_thread(database.sqlite_checkpoint_thread)
    };
    let db = match Database::open_with(location, sqlite).await {
        Ok(db) => db,
        Err(e) => {
            let url = redacted(url);
            tracing::error!(error = %e, %url, "cannot open the database");
            return ExitCode::FAILURE;
        }
    };
    let code = match db.clone() {
        Database::Sqlite(store) => on(&command, store).await,
        Database::Postgres(store) => on(&command, store).await,
        Database::Memory(store) => on(&command, store).await,
    };
    db.close().await;
    code
}

async fn on<S: Backend + Clone>(command: &Command, store: S) -> ExitCode {
    match command {
        Command::Migrate(db) => {
            // Opening the database applied the migrations.
            println!("migrated {}", db.database_url);
            ExitCode::SUCCESS
        }
        Command::Audit(_) => {
            let market = Marketplace::new(store, Policy::agora());
            report_audit(&market).await
        }
        Command::Mcp(settings) => match mcp_stdio(settings, store).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "the MCP session failed");
                ExitCode::FAILURE
            }
        },
        Command::Serve(settings) => match serve(settings, store).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
        },
    }
}

async fn serve<S: Backend + Clone>(settings: &ServeSettings, store: S) -> std::io::Result<()> {
    tokio::fs::create_dir_all(&settings.blob_dir).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    let address = listener.local_addr()?;
    let config = settings.config(&store, address).await?;
    let market = settings.market(store);
    println!("marketplace-server listening on http://{address}");
    let database = redacted(&settings.database.database_url);
    tracing::info!(%address, %database, "listening");
    let work = server::Workers {
        sweep_interval: Duration::from_millis(settings.sweep_interval_ms.max(1)),
        connections: settings.connection_limits(),
    };
    server::run(market, config, work, listener, server::shutdown_signal()).await
}

/// One MCP session on stdio over the marketplace in `store`, with its background work
/// (deadlines, webhooks) running while it lasts.
async fn mcp_stdio<S: Backend + Clone>(settings: &McpSettings, store: S) -> std::io::Result<()> {
    let serve = &settings.serve;
    tokio::fs::create_dir_all(&serve.blob_dir).await?;
    let config = serve.config(&store, serve.listen).await?;
    let market = serve.market(store);
    let state = server::AppState::new(market, config);
    let identity = match &settings.api_key {
        Some(key) => crate::auth::identify(&state, key)
            .await
            .map_err(|e| std::io::Error::other(format!("MARKETPLACE_API_KEY: {}", e.code())))?,
        None => {
            let alias = marketplace_core::ProfileUpdate::alias("local agent".to_owned());
            let (key, profile) = crate::registration::register_agent(&state, alias)
                .await
                .map_err(|e| std::io::Error::other(e.code()))?;
            tracing::warn!(
                identity = profile.identity.as_str(),
                "no MARKETPLACE_API_KEY: registered a new agent; set MARKETPLACE_API_KEY={key} \
                 to act as it again (shown once)"
            );
            profile.identity
        }
    };
    let sweep = Duration::from_millis(serve.sweep_interval_ms.max(1));
    let background = server::Background::start(&state, sweep);
    let served = crate::mcp::serve_stdio(server::standalone_mcp(state), identity).await;
    background.stop().await;
    served
}

/// A database URL fit for the log: a password in it replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

async fn report_audit<S: Store + Clone>(market: &Marketplace<S>) -> ExitCode {
    let report = match audit(market.store(), market.policy().queue_max).await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!(error = %e, "audit could not read the data");
            return ExitCode::FAILURE;
        }
    };
    for check in &report.checks {
        if check.violations == 0 {
            println!("ok   {} ({} examined)", check.name, check.examined);
        } else {
            println!(
                "FAIL {} ({} examined, {} violations): {}",
                check.name,
                check.examined,
                check.violations,
                check.examples.join("; ")
            );
        }
    }
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn database_urls_reach_the_log_without_their_password() {
        for (url, shown) in [
            (
                "postgres://app:s3cr@t@db:5432/market",
                "postgres://app:***@db:5432/market",
            ),
            ("postgres://app@db/market", "postgres://app@db/market"),
            ("postgres://db/market?user=a", "postgres://db/market?user=a"),
            ("sqlite://market.db", "sqlite://market.db"),
            ("memory://", "memory://"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
        }
    }
}
