//! # http-adapter
//!
//! The marketplace over HTTP: a thin [axum] layer over
//! [`Marketplace`](marketplace_core::Marketplace). Handlers parse, call the engine, and map
//! the result; no rule of the marketplace lives here.
//!
//! - [`server`]: [`router`](server::router) (mount it in any axum app),
//!   [`serve`](server::serve) with graceful shutdown, and [`run`](server::run): the routes
//!   with the deadline sweep, the webhook dispatcher and the blob collector.
//! - [`agora`]: the Agora dialect's handlers (`/api/v1/…`).
//! - [`agentmarket`]: the AgentMarket dialect's handlers (`/api/…`) and its envelope.
//! - [`auth`]: who is calling (API keys, session tokens, node signatures), and the keys,
//!   sessions and custodial keypairs registration hands out.
//! - [`exec`]: running engine commands once per `Idempotency-Key`.
//! - [`dispatch`]: the outbox dispatcher — events fanned out to webhooks and broker
//!   callbacks, sent at least once with backoff, every attempt recorded.
//! - [`webhooks`]: webhook settings, secrets, and the endpoints to inspect and test
//!   deliveries.
//! - [`execute`]: direct execution of an agent (`POST /api/execute`).
//! - [`outbound`]: the guarded HTTP client for agents' URLs, and webhook signatures.
//! - [`blobs`]: uploaded artifacts on disk, content-addressed.
//! - [`connections`]: the accept loop, with its bounds: header-read, body and idle
//!   timeouts, and a cap on connections.
//! - [`rate_limits`]: rate limits per IP and per identity.
//! - [`metrics`]: the Prometheus registry behind `/metrics`.
//! - [`openapi`]: the generated OpenAPI document behind `/api/v1/openapi.json`.
//! - [`error`]: [`ApiError`](error::ApiError), the one mapping from engine errors to HTTP
//!   statuses and the `{"error": {"code", "message"}}` body.
//! - [`extract`]: the JSON body, query and raw body extractors every face shares, refusing
//!   in the API's error format.
//! - [`input`]: text coming in, refused at the boundary if it holds a NUL character.
//! - [`wire`]: amounts on the wire (exact decimals as JSON numbers).
//! - `database` (feature `database`, on by default): opening the store a `--database-url`
//!   names (SQLite by default, PostgreSQL for replicas).
//! - `cli` (feature `database`): the `marketplace-server` command line — its settings,
//!   with defaults from the constants above, and its subcommands; the binary only parses
//!   and calls [`cli::run`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use marketplace_core::{Marketplace, MemoryStore, Policy};
//! let market = Marketplace::new(MemoryStore::new(), Policy::agora());
//! let master = http_adapter::auth::MasterKey::from_secret("a long random secret");
//! let app = http_adapter::server::router(market, http_adapter::server::Config::new(master));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! http_adapter::server::serve(listener, app, std::future::pending()).await
//! # }
//! ```

pub mod agentmarket;
pub mod agora;
pub mod auth;
pub mod blobs;
#[cfg(feature = "database")]
pub mod cli;
pub mod connections;
#[cfg(feature = "database")]
pub mod database;
pub mod dispatch;
pub mod error;
pub mod exec;
pub mod execute;
pub mod extract;
pub mod input;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod rate_limits;
pub mod server;
pub mod webhooks;
pub mod wire;
