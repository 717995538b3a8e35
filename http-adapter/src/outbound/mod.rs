//! Requests the marketplace makes on its users' behalf — webhooks, broker callbacks,
//! direct executions — and how they are kept safe and verifiable.
//!
//! - [`Outbound`]: the one HTTP client for them. `https://` only; every host is resolved
//!   and its addresses checked against [`is_refused`] before connecting, and the
//!   connection goes only to an address that passed (so a DNS answer that changes between
//!   check and use cannot reach the inside); no redirects; answers capped.
//! - [`sign`]: webhook secrets and signatures, in AgentMarket's form
//!   (`X-AgentMarket-Signature: sha256=<hex HMAC>`) and the Standard Webhooks form
//!   (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

mod client;
mod guard;
pub mod sign;

pub use client::{Answer, Outbound, OutboundConfig, OutboundError};
pub use guard::is_refused;
