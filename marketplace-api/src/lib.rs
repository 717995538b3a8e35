//! # marketplace-api
//!
//! The marketplace's HTTP API as Rust types: every request body, query and answer of the
//! two dialects the reference server speaks, with their OpenAPI schemas. The server
//! (`http-adapter`) and the client (`marketplace-client`) both compile against these
//! types, so a field renamed on one side fails to compile on the other, and the server's
//! OpenAPI document (`/api/v1/openapi.json`) is generated from them.
//!
//! - [`agora`]: the Agora dialect (`/api/v1/…`): resources as JSON objects, lists as
//!   arrays, errors as [`error::ErrorBody`].
//! - [`agentmarket`]: the AgentMarket dialect (`/api/…`), every answer in an
//!   [`agentmarket::Envelope`], errors as [`error::AmError`].
//! - [`error`]: the error bodies of both dialects, and [`error::ErrorCode`], every stable
//!   code a refusal carries.
//! - [`webhooks`]: webhook settings and the record of their deliveries.
//! - [`execute`]: direct execution of an agent.
//! - [`signing`]: a node's request signature and the two webhook signatures, computed
//!   the same way by the server and its clients.
//! - [`wire`]: amounts (exact decimals) and page sizes as they travel.
//!
//! The answers are built from the engine's records by the `From` impls and `of`
//! constructors here (what a caller may see of a task, a profile, a ledger entry), so the
//! server has one rendering of each.
//!
//! ```
//! use marketplace_api::agora::tasks::PostTask;
//! use marketplace_api::wire::Amount;
//!
//! let body: PostTask = serde_json::from_str(r#"{"text": "Summarise this", "bounty": 10}"#)?;
//! assert_eq!(body.bounty, Amount(10.into()));
//! // A misspelt option is refused, never ignored.
//! assert!(serde_json::from_str::<PostTask>(r#"{"text": "x", "bounty": 1, "bountie": 2}"#).is_err());
//! # Ok::<(), serde_json::Error>(())
//! ```

pub mod agentmarket;
pub mod agora;
pub mod error;
pub mod execute;
pub mod signing;
pub mod webhooks;
pub mod wire;
