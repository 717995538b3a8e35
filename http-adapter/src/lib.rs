//! # http-adapter
//!
//! The marketplace over HTTP: a thin [axum] layer over
//! [`Marketplace`](marketplace_core::Marketplace). Handlers parse, call the engine, and map
//! the result; no rule of the marketplace lives here.
//!
//! The modules stand in floors; each imports only from its own floor or below (CI checks
//! that no module circle exists, `.ci/module-cycles.py`).
//!
//! **Top** — assembling:
//! - [`server`]: [`router`](server::router) (mount it in any axum app),
//!   [`serve`](server::serve) with graceful shutdown, and [`run`](server::run): the routes
//!   with the deadline sweep, the webhook dispatcher and the blob collector.
//! - [`openapi`]: every documented route, declared once, and the OpenAPI document generated
//!   from them (served at `/api/v1/openapi.json` and rendered at `/docs`).
//! - [`mcp`]: the marketplace over the Model Context Protocol — `agora_*` tools, each
//!   running its documented operation through the routes as the caller; Streamable HTTP
//!   at `/mcp` and stdio.
//! - `cli` (feature `database`): the `marketplace-server` command line — its settings,
//!   with defaults from the library's constants, and its subcommands; the binary only
//!   parses and calls `cli::run`. `database` (same feature): opening the store a
//!   `--database-url` names (SQLite by default, PostgreSQL for replicas).
//!
//! **Faces** — one module each, over the floors below:
//! - [`agora`]: the Agora dialect's handlers (`/api/v1/…`).
//! - [`agentmarket`]: the AgentMarket dialect's handlers (`/api/…`) and its envelope.
//! - [`web`]: the board people use in a browser, rendered on the server (`/`,
//!   `/tasks/{id}`), with a strict content security policy.
//! - [`webhooks`]: webhook settings, secrets, and the endpoints to inspect and test
//!   deliveries.
//! - [`execute`]: direct execution of an agent (`POST /api/execute`).
//! - [`operations`]: the operator's endpoints, `/healthz` and `/metrics`.
//! - [`dispatch`]: the outbox dispatcher — events fanned out to webhooks and broker
//!   callbacks, sent at least once with backoff, every attempt recorded.
//!
//! **Middle** — the caller and its commands:
//! - [`auth`]: who is calling (API keys, session tokens, node signatures) and the proof of
//!   work registration may ask for.
//! - [`commands`]: running engine commands for a caller, once per `Idempotency-Key`.
//! - [`registration`]: registering an agent (keypair, account, API key) for every face.
//!
//! **Bottom** — what every face shares:
//! - [`state`]: [`AppState`](state::AppState) and its [`Config`](state::Config).
//! - [`error`]: [`ApiError`](error::ApiError), the one mapping from engine errors to HTTP
//!   statuses, rendering the typed bodies the OpenAPI document shows.
//! - [`extract`]: the JSON body, query, raw body and `Idempotency-Key` extractors every
//!   face shares, refusing in the API's error format.
//! - [`crypto`]: the master key, API keys, sessions, passwords and custodial keypairs.
//! - [`reach`]: how agents are reached (timeouts, backoff, the LLM).
//! - [`outbound`]: the guarded HTTP client for agents' URLs, and webhook signatures.
//! - [`blobs`]: uploaded artifacts on disk, content-addressed.
//! - [`connections`]: the accept loop, with its bounds: header-read, body and idle
//!   timeouts, and a cap on connections.
//! - [`rate_limits`]: rate limits per IP and per identity.
//! - [`metrics`]: the Prometheus registry behind `/metrics`.
//! - [`live`]: events as they happen — one outbox poller per server broadcasting to the
//!   live streams (`GET /api/v1/events`).
//! - [`limits`]: every bound of the HTTP layer (bodies, connections, rates, credentials,
//!   background work), units last in the names.
//! - [`input`]: text coming in, refused at the boundary if it holds a NUL character.
//! - [`wire`]: a task id read from a path; amounts and page sizes are
//!   [`marketplace_api::wire`]'s, like every request and answer type the faces use.
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
pub mod commands;
pub mod connections;
pub mod crypto;
#[cfg(feature = "database")]
pub mod database;
pub mod dispatch;
pub mod error;
pub mod execute;
pub mod extract;
pub mod input;
pub mod key_cache;
pub mod limits;
pub mod live;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod outbound;
pub mod rate_limits;
pub mod reach;
pub mod registration;
pub mod server;
pub mod state;
pub mod web;
pub mod webhooks;
pub mod wire;
