//! `marketplace-server`: the reference server. Parses its command line and calls the
//! library; see the crate docs.

#![allow(clippy::print_stdout)] // `audit` and `migrate` report on standard output

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use http_adapter::auth::{MasterKey, random_hex};
use http_adapter::blobs;
use http_adapter::connections::{self, ConnectionLimits};
use http_adapter::database::{Database, Location};
use http_adapter::dispatch::{self, LlmConfig, ReachConfig};
use http_adapter::limits::{Rate, RateLimits};
use http_adapter::outbound::{Outbound, OutboundConfig};
use http_adapter::server;
use marketplace_core::audit::audit;
use marketplace_core::store::Backend;
use marketplace_core::{Marketplace, Policy, Store};
use tokio::sync::watch;

/// The agent marketplace's reference server.
#[derive(Debug, Parser)]
#[command(name = "marketplace-server", version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(
        long,
        env = "MARKETPLACE_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`; default: `marketplace.db` in the working directory.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://marketplace.db",
        global = true
    )]
    database_url: String,
    /// The marketplace's numbers: fees, grants, limits.
    #[arg(long, env = "MARKETPLACE_PRESET", value_enum, default_value_t = Preset::Agora, global = true)]
    preset: Preset,
    /// The base credit of a new identity, replacing the preset's (agora 50, agentmarket 0).
    #[arg(long, env = "MARKETPLACE_BASE_CREDIT", global = true)]
    base_credit: Option<rust_decimal::Decimal>,
    /// Seconds an account must exist before its base credit pays for anything (0: at once).
    #[arg(
        long,
        env = "MARKETPLACE_BASE_CREDIT_MIN_AGE_SECS",
        default_value_t = 0,
        global = true
    )]
    base_credit_min_age_secs: u64,
    /// Leading zero bits a registration's proof of work must have (0: none asked).
    #[arg(
        long,
        env = "MARKETPLACE_REGISTRATION_POW_BITS",
        default_value_t = 0,
        global = true
    )]
    registration_pow_bits: u8,
    /// Where uploaded artifacts are kept.
    #[arg(
        long,
        env = "MARKETPLACE_BLOB_DIR",
        default_value = "marketplace-blobs",
        global = true
    )]
    blob_dir: PathBuf,
    /// How often the deadline sweep runs, in milliseconds.
    #[arg(
        long,
        env = "MARKETPLACE_SWEEP_INTERVAL_MS",
        default_value_t = 1000,
        global = true
    )]
    sweep_interval_ms: u64,
    /// Requests per second one client IP may send (bursts of twice that); 0: no limit.
    #[arg(
        long,
        env = "MARKETPLACE_RATE_LIMIT_IP",
        default_value_t = 200,
        global = true
    )]
    rate_limit_ip: u32,
    /// Requests per second one identity (API key, token, node key) may send; 0: no limit.
    #[arg(
        long,
        env = "MARKETPLACE_RATE_LIMIT_IDENTITY",
        default_value_t = 50,
        global = true
    )]
    rate_limit_identity: u32,
    /// Seals custodial keys; generated and kept in the database when not given.
    #[arg(
        long,
        env = "MARKETPLACE_SECRET",
        hide_env_values = true,
        global = true
    )]
    secret: Option<String>,
    /// Let webhooks, callbacks and executions reach private, loopback and link-local
    /// addresses (refused by default).
    #[arg(
        long,
        env = "MARKETPLACE_OUTBOUND_ALLOW_PRIVATE",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    outbound_allow_private: bool,
    /// Extra CA certificates (PEM) trusted for outbound HTTPS, beside the system's.
    #[arg(long, env = "MARKETPLACE_OUTBOUND_CA_FILE", global = true)]
    outbound_ca_file: Option<PathBuf>,
    /// This marketplace's public URL, sent in webhooks (default: `http://` and the listen
    /// address).
    #[arg(long, env = "MARKETPLACE_PUBLIC_URL", global = true)]
    public_url: Option<String>,
    /// Waits between webhook attempts, milliseconds, comma-separated; the last repeats.
    #[arg(
        long,
        env = "MARKETPLACE_WEBHOOK_BACKOFF_MS",
        value_delimiter = ',',
        default_value = "5000,30000,120000,600000,3600000",
        global = true
    )]
    webhook_backoff_ms: Vec<u64>,
    /// A webhook still failing this long after it was created is given up.
    #[arg(
        long,
        env = "MARKETPLACE_WEBHOOK_GIVE_UP_SECS",
        default_value_t = 86_400,
        global = true
    )]
    webhook_give_up_secs: u64,
    /// How long one webhook request may take, seconds.
    #[arg(
        long,
        env = "MARKETPLACE_WEBHOOK_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    webhook_timeout_secs: u64,
    /// How long a client may take to send a request's head, seconds, counted from when the
    /// connection waits for one (so also how long a kept-alive connection may sit idle).
    #[arg(
        long,
        env = "MARKETPLACE_HEADER_READ_TIMEOUT_SECS",
        default_value_t = connections::HEADER_READ_TIMEOUT_SECS,
        global = true
    )]
    header_read_timeout_secs: u64,
    /// How long a request body may send nothing before it is cut off (408), seconds.
    #[arg(
        long,
        env = "MARKETPLACE_BODY_TIMEOUT_SECS",
        default_value_t = connections::BODY_TIMEOUT_SECS,
        global = true
    )]
    body_timeout_secs: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(
        long,
        env = "MARKETPLACE_MAX_CONNECTIONS",
        default_value_t = connections::CONNECTIONS_MAX,
        global = true
    )]
    max_connections: usize,
    /// Bytes one client IP may upload per hour (429 beyond); 0 turns the bound off.
    #[arg(
        long,
        env = "MARKETPLACE_UPLOAD_IP_BYTES_PER_HOUR",
        default_value_t = blobs::IP_BYTES_PER_HOUR,
        global = true
    )]
    upload_ip_bytes_per_hour: u64,
    /// Bytes one identity may upload per hour (429 beyond); 0 turns the bound off.
    #[arg(
        long,
        env = "MARKETPLACE_UPLOAD_IDENTITY_BYTES_PER_HOUR",
        default_value_t = blobs::IDENTITY_BYTES_PER_HOUR,
        global = true
    )]
    upload_identity_bytes_per_hour: u64,
    /// Bytes all artifacts may take on disk (507 beyond); 0 turns the bound off.
    #[arg(
        long,
        env = "MARKETPLACE_BLOB_DISK_BYTES_MAX",
        default_value_t = blobs::DISK_BYTES_MAX,
        global = true
    )]
    blob_disk_bytes_max: u64,
    /// How long an uploaded artifact that no delivery names is kept, seconds (the blob
    /// collector deletes it after that); 0 keeps every artifact.
    #[arg(
        long,
        env = "MARKETPLACE_BLOB_GRACE_SECS",
        default_value_t = Policy::agora().blob_grace_secs,
        global = true
    )]
    blob_grace_secs: u64,
    /// How often the webhook dispatcher looks for work, milliseconds.
    #[arg(
        long,
        env = "MARKETPLACE_DISPATCH_INTERVAL_MS",
        default_value_t = 500,
        global = true
    )]
    dispatch_interval_ms: u64,
    /// How long a direct execution waits for its agent, seconds.
    #[arg(
        long,
        env = "MARKETPLACE_EXECUTE_TIMEOUT_SECS",
        default_value_t = 60,
        global = true
    )]
    execute_timeout_secs: u64,
    /// The Messages API that runs system-prompt agents.
    #[arg(
        long,
        env = "MARKETPLACE_LLM_BASE_URL",
        default_value = dispatch::LLM_BASE_URL_DEFAULT,
        global = true
    )]
    llm_base_url: String,
    /// Its API key; without one, executing a system-prompt agent answers 503.
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true, global = true)]
    llm_api_key: Option<String>,
    /// The model asked for.
    #[arg(
        long,
        env = "MARKETPLACE_LLM_MODEL",
        default_value = dispatch::LLM_MODEL_DEFAULT,
        global = true
    )]
    llm_model: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    Agora,
    Agentmarket,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Command {
    /// Serve the marketplace (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Check every invariant against the stored data; exit non-zero on any violation.
    Audit,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let location = match Location::parse(&cli.database_url) {
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
    let db = match Database::open(location).await {
        Ok(db) => db,
        Err(e) => {
            tracing::error!(error = %e, url = %cli.database_url, "cannot open the database");
            return ExitCode::FAILURE;
        }
    };
    let code = match db.clone() {
        Database::Sqlite(store) => command(&cli, store).await,
        Database::Postgres(store) => command(&cli, store).await,
        Database::Memory(store) => command(&cli, store).await,
    };
    db.close().await;
    code
}

async fn command<S: Backend + Clone>(cli: &Cli, store: S) -> ExitCode {
    let mut policy = match cli.preset {
        Preset::Agora => Policy::agora(),
        Preset::Agentmarket => Policy::agentmarket(),
    };
    if let Some(base) = cli.base_credit {
        policy.base_credit_limit = base;
    }
    policy.base_credit_min_age_secs = cli.base_credit_min_age_secs;
    policy.blob_grace_secs = cli.blob_grace_secs;
    let market = Marketplace::new(store, policy);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            // Opening the database applied the migrations.
            println!("migrated {}", cli.database_url);
            ExitCode::SUCCESS
        }
        Command::Audit => run_audit(&market).await,
        Command::Serve => match serve(cli, market).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run_audit<S: Store + Clone>(market: &Marketplace<S>) -> ExitCode {
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

async fn serve<S: Backend + Clone>(cli: &Cli, market: Marketplace<S>) -> std::io::Result<()> {
    tokio::fs::create_dir_all(&cli.blob_dir).await?;
    let master = master_key(cli, market.store()).await?;
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    let address = listener.local_addr()?;
    println!("marketplace-server listening on http://{address}");
    tracing::info!(%address, database = %cli.database_url, "listening");
    let (stop, stopped) = watch::channel(false);
    let sweeps = tokio::spawn(server::sweep_loop(
        market.clone(),
        Duration::from_millis(cli.sweep_interval_ms.max(1)),
        stopped,
    ));
    let rate = |per_second: u32| (per_second > 0).then(|| Rate::per_second(per_second));
    let limits = RateLimits {
        per_ip: rate(cli.rate_limit_ip),
        per_identity: rate(cli.rate_limit_identity),
    };
    let config = server::Config::new(master)
        .with_blob_dir(&cli.blob_dir)
        .with_registration_pow_bits(cli.registration_pow_bits)
        .with_upload_limits(blobs::UploadLimits {
            ip_bytes_per_hour: cli.upload_ip_bytes_per_hour,
            identity_bytes_per_hour: cli.upload_identity_bytes_per_hour,
            disk_bytes_max: cli.blob_disk_bytes_max,
        })
        .with_outbound(outbound(cli).await?)
        .with_reach(reach(cli, address));
    let state = server::AppState::new(market, config);
    let dispatcher = tokio::spawn(dispatch::dispatch_loop(state.clone(), stop.subscribe()));
    let collector = tokio::spawn(server::collect_loop(
        state.market.clone(),
        state.blobs.clone(),
        stop.subscribe(),
    ));
    let app = server::app(state, limits);
    let bounds = ConnectionLimits {
        header_read_timeout: Duration::from_secs(cli.header_read_timeout_secs.max(1)),
        body_timeout: Duration::from_secs(cli.body_timeout_secs.max(1)),
        connections_max: cli.max_connections.max(1),
    };
    let served = server::serve_with(listener, app, bounds, shutdown_signal()).await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    let _ = sweeps.await;
    let _ = dispatcher.await;
    let _ = collector.await;
    served
}

/// The client for agents' URLs, with the operator's extra CA certificates.
async fn outbound(cli: &Cli) -> std::io::Result<Outbound> {
    let extra_ca_pem = match &cli.outbound_ca_file {
        Some(path) => Some(
            tokio::fs::read(path)
                .await
                .map_err(|e| std::io::Error::other(format!("reading {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let config = OutboundConfig {
        allow_private: cli.outbound_allow_private,
        extra_ca_pem,
    };
    if config.allow_private {
        tracing::warn!("outbound requests may reach private and loopback addresses");
    }
    Outbound::new(&config).map_err(std::io::Error::other)
}

/// How agents are reached, from the command line.
fn reach(cli: &Cli, address: SocketAddr) -> ReachConfig {
    let defaults = ReachConfig::default();
    let backoff: Vec<Duration> = cli
        .webhook_backoff_ms
        .iter()
        .map(|ms| Duration::from_millis((*ms).max(1)))
        .collect();
    ReachConfig {
        marketplace_url: cli
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}")),
        webhook_timeout: Duration::from_secs(cli.webhook_timeout_secs.max(1)),
        execute_timeout: Duration::from_secs(cli.execute_timeout_secs.max(1)),
        backoff: if backoff.is_empty() {
            defaults.backoff
        } else {
            backoff
        },
        give_up_after: Duration::from_secs(cli.webhook_give_up_secs),
        interval: Duration::from_millis(cli.dispatch_interval_ms.max(1)),
        llm: LlmConfig {
            base_url: cli.llm_base_url.clone(),
            api_key: cli.llm_api_key.clone().filter(|k| !k.is_empty()),
            model: cli.llm_model.clone(),
            ..LlmConfig::default()
        },
        ..defaults
    }
}

/// `MARKETPLACE_SECRET`, or else the secret generated on the first start and kept in the
/// database (the first replica to start writes it; the others read it).
async fn master_key<S: marketplace_core::store::Credentials>(
    cli: &Cli,
    store: &S,
) -> std::io::Result<MasterKey> {
    if let Some(secret) = &cli.secret {
        return Ok(MasterKey::from_secret(secret));
    }
    let fresh = random_hex(32).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let secret = store
        .setting_or_insert("master_secret", &fresh)
        .await
        .map_err(std::io::Error::other)?;
    Ok(MasterKey::from_secret(&secret))
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
