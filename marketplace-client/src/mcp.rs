//! The marketplace's MCP endpoint (`/mcp`, Streamable HTTP), one JSON-RPC message at a
//! time: what a bridge for MCP clients that only speak stdio needs.

use reqwest::Method;
use serde_json::Value;

use crate::client::Client;
use crate::error::Error;
use crate::sse::{data, event_end};
use crate::transport::{ANSWER_BYTES_MAX, Body, Call, Dialect, Effect, read_bounded};

/// The header a Streamable HTTP session travels in.
pub const MCP_SESSION_HEADER: &str = "mcp-session-id";

/// What `/mcp` answered one message with.
#[derive(Debug, Clone, PartialEq)]
pub struct McpReply {
    /// The session the server opened (on `initialize`), to send with every later message.
    pub session: Option<String>,
    /// The JSON-RPC messages of the answer, in order: none for a notification, one
    /// response for a request (after any notifications the server sent on the way).
    pub messages: Vec<Value>,
}

impl Client {
    /// `POST /mcp`: sends one JSON-RPC message of the Model Context Protocol, as this
    /// client's identity, in `session` (none before `initialize`). Not retried once it may
    /// have reached the server: a tool call may move money.
    pub async fn mcp(&self, message: &Value, session: Option<&str>) -> Result<McpReply, Error> {
        let bytes = serde_json::to_vec(message).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut headers = vec![("accept", "application/json, text/event-stream".to_owned())];
        if let Some(session) = session {
            headers.push((MCP_SESSION_HEADER, session.to_owned()));
        }
        let call = Call {
            method: Method::POST,
            path: "/mcp".into(),
            body: Body::Bytes {
                bytes,
                content_type: "application/json".into(),
            },
            dialect: Dialect::Agora,
            effect: Effect::Unkeyed,
            last_event_id: None,
            headers,
        };
        let response = self.transport.send(&call).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let session = header(MCP_SESSION_HEADER).or_else(|| session.map(str::to_owned));
        let streamed = header("content-type").is_some_and(|t| t.starts_with("text/event-stream"));
        let body = read_bounded(response, ANSWER_BYTES_MAX).await?;
        let unexpected = |e: serde_json::Error| Error::Unexpected(format!("an MCP answer: {e}"));
        let mut messages = Vec::new();
        if streamed {
            let mut rest = body.as_slice();
            while !rest.is_empty() {
                let (text_end, end) = event_end(rest).unwrap_or((rest.len(), rest.len()));
                let data = data(&rest[..text_end]);
                if !data.is_empty() {
                    messages.push(serde_json::from_str(&data).map_err(unexpected)?);
                }
                rest = &rest[end..];
            }
        } else if !body.iter().all(u8::is_ascii_whitespace) {
            messages.push(serde_json::from_slice(&body).map_err(unexpected)?);
        }
        Ok(McpReply { session, messages })
    }
}
