//! `marketplace-server`: the reference server. Parses its command line and calls the
//! library; see the crate docs.

#![allow(clippy::print_stdout)] // `audit` and `migrate` report on standard output

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use http_adapter::auth::{MasterKey, random_hex};
use http_adapter::database::Database;
use http_adapter::limits::{Rate, RateLimits};
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
    let db = match Database::open(&cli.database_url).await {
        Ok(db) => db,
        Err(e) => {
            tracing::error!(error = %e, url = %cli.database_url, "cannot open the database");
            return ExitCode::FAILURE;
        }
    };
    let code = match db.clone() {
        Database::Sqlite(store) => command(&cli, store).await,
        Database::Postgres(store) => command(&cli, store).await,
    };
    db.close().await;
    code
}

async fn command<S: Backend + Clone>(cli: &Cli, store: S) -> ExitCode {
    let policy = match cli.preset {
        Preset::Agora => Policy::agora(),
        Preset::Agentmarket => Policy::agentmarket(),
    };
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
        .with_rate_limits(limits);
    let app = server::router(market, config);
    let served = server::serve(listener, app, shutdown_signal()).await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    let _ = sweeps.await;
    served
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
