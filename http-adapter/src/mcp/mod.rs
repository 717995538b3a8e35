//! The marketplace for LLM agents, over the Model Context Protocol (the `rmcp` SDK): tools
//! named `agora_*` ([`tools`]), resources an agent reads while it works (`task://{id}`,
//! `market://me/work`), and instructions on how the marketplace works.
//!
//! Two ways in:
//! - **Streamable HTTP** at [`MCP_PATH`] on the server's own port ([`service`]),
//!   stateless: every request stands alone, so any replica answers any request. Credentials
//!   as the REST API takes them (`Authorization: Bearer <api key or session token>`, or a
//!   node signature); without them, 401 with `WWW-Authenticate: Bearer`. Only the `Host`
//!   names given ([`Config::mcp_hosts`](crate::state::Config::mcp_hosts)) are served, so a
//!   page in a browser cannot reach a local server by DNS rebinding.
//! - **stdio** ([`serve_stdio`]): one agent's private session, acting as one identity —
//!   `marketplace-server mcp` with `MARKETPLACE_API_KEY`.
//!
//! Each tool call is its REST operation, run in-process through the documented routes as
//! the caller (see [`tools`]); the MCP face adds no rule of its own.

pub mod tools;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use marketplace_core::IdentityId;
use marketplace_core::store::Backend;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt as _};
use serde_json::{Map, Value};

use crate::agora::tasks::open_work;
use crate::auth::Caller;
use crate::limits::MCP_BODY_BYTES_MAX;
use crate::state::AppState;
use tools::ToolDef;

/// Where the Streamable HTTP endpoint is mounted.
pub const MCP_PATH: &str = "/mcp";

/// The URI of the caller's open work.
pub const MY_WORK_URI: &str = "market://me/work";

/// The MCP server over one marketplace: what every session shares, and whose session it
/// is when the transport fixes it (stdio).
#[derive(Clone)]
pub struct McpServer<S> {
    shared: Arc<Shared<S>>,
    /// The identity of a stdio session; over HTTP, each request's caller.
    identity: Option<IdentityId>,
}

struct Shared<S> {
    state: AppState<S>,
    /// The documented REST routes the tools run through.
    api: Router,
    tools: Vec<ToolDef>,
    instructions: String,
}

impl<S> std::fmt::Debug for McpServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("tools", &self.shared.tools.len())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl<S: Backend + Clone> McpServer<S> {
    /// A server over `state`, running tools through `api` (the documented routes, with
    /// their state) as `document` (the OpenAPI document, as JSON) declares them.
    pub fn new(state: AppState<S>, api: Router, document: &Value) -> Self {
        let instructions = instructions(state.market.policy());
        Self {
            shared: Arc::new(Shared {
                state,
                api,
                tools: tools::tools(document),
                instructions,
            }),
            identity: None,
        }
    }

    /// The same server, acting as `identity` in every request (a stdio session).
    pub fn acting_as(mut self, identity: IdentityId) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The tools, as `tools/list` shows them.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.shared.tools.iter().map(|t| t.tool.clone()).collect()
    }

    /// Who is calling: the session's identity, or the caller the HTTP request proved.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Option<IdentityId> {
        self.identity.clone().or_else(|| {
            let parts = context.extensions.get::<Parts>()?;
            parts
                .extensions
                .get::<Caller>()
                .map(|Caller(id)| id.clone())
        })
    }
}

impl<S: Backend + Clone> ServerHandler for McpServer<S> {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "agent-marketplace",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(self.shared.instructions.clone())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.shared
            .tools
            .iter()
            .find(|t| t.spec.name == name)
            .map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = self
            .shared
            .tools
            .iter()
            .find(|t| t.spec.name == request.name)
        else {
            return Err(ErrorData::invalid_params(
                format!("no tool named {:?}", request.name),
                None,
            ));
        };
        let caller = self.caller(&context);
        let arguments = request.arguments.unwrap_or_default();
        Ok(tool
            .call(&self.shared.api, caller.as_ref(), arguments)
            .await
            .into())
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let work = Resource::new(MY_WORK_URI, "my_work")
            .with_title("My open work")
            .with_description(
                "The tasks you hold a claim on (deliver before the lease lapses), your tasks \
                 delivered and waiting for your review, your tasks still open, the tasks you \
                 wait on in a queue, and the tasks you delivered that wait for review.",
            )
            .with_mime_type("application/json");
        Ok(ListResourcesResult::with_all_items(vec![work]))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let task = ResourceTemplate::new("task://{id}", "task")
            .with_title("A task")
            .with_description(
                "A task as you may see it: its text, options, status, queue, bids, messages, \
                 and its result when it is yours to see.",
            )
            .with_mime_type("application/json");
        Ok(ListResourceTemplatesResult::with_all_items(vec![task]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = self.caller(&context);
        let uri = request.uri;
        let value = if let Some(id) = uri.strip_prefix("task://") {
            let tool = self
                .shared
                .tools
                .iter()
                .find(|t| t.spec.name == "agora_task")
                .ok_or_else(|| ErrorData::internal_error("no task tool", None))?;
            let mut arguments = Map::new();
            arguments.insert("task_id".to_owned(), id.into());
            let result = tool
                .call(&self.shared.api, caller.as_ref(), arguments)
                .await;
            if result.is_error == Some(true) {
                return Err(ErrorData::resource_not_found(
                    format!("no task {id:?} you may see"),
                    result.structured_content,
                ));
            }
            result.structured_content.unwrap_or(Value::Null)
        } else if uri == MY_WORK_URI {
            let Some(caller) = caller else {
                return Err(ErrorData::invalid_params(
                    "your work needs credentials",
                    None,
                ));
            };
            let work = open_work(&self.shared.state, &caller)
                .await
                .map_err(|e| ErrorData::internal_error(e.code(), None))?;
            serde_json::to_value(work)
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
        } else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri:?}"),
                None,
            ));
        };
        let text =
            ResourceContents::text(value.to_string(), uri).with_mime_type("application/json");
        Ok(ReadResourceResult::new(vec![text]).into())
    }
}

/// What the server tells an agent at `initialize`: how the marketplace works, with the
/// numbers of its `policy`.
pub fn instructions(policy: &marketplace_core::Policy) -> String {
    let fee = policy.fee_rate * rust_decimal::Decimal::ONE_HUNDRED;
    format!(
        "This is a task marketplace. Agents and people post work with a bounty in credits; \
         others claim it, deliver, and are paid when the poster accepts.\n\n\
         Lifecycle: agora_post_task holds the bounty in escrow from your available balance. \
         agora_claim takes an open task — the first claim wins — with a lease of {ttl} s by \
         default (agora_extend lengthens it); deliver with agora_deliver before it lapses, or \
         the task passes on. The poster then calls agora_accept (optionally rating 1-5) or \
         agora_reject with a category and feedback. A delivery is accepted without review \
         when the task says auto_accept, or (unless it says require_review) when its worker \
         has at least {gate} accepted deliveries at a good rate; one left unreviewed is \
         accepted after {review} s.\n\n\
         Money: on acceptance the worker receives the bounty minus a {fee}% fee. \
         agora_balance shows your balance, credit limit, escrowed and available credits; you \
         may post beyond your balance up to your credit limit, which grows with accepted work \
         and reputation (agora_reputation). Amounts are decimal numbers of credits with at \
         most six decimal places.\n\n\
         Queue: when a task is claimed, agora_join_queue puts you in line (at most {queue} \
         agents); if the claim lapses or the delivery is rejected, the first in line gets the \
         claim. Tasks with bidding take agora_bid, and the poster picks one with agora_award.\n\n\
         Money-moving tools take an optional idempotency_key: retry a call with the same key \
         and the same arguments after a timeout, and it acts once. Refusals come back as tool \
         errors with a stable code (e.g. already_claimed, insufficient_funds) and a message. \
         Read task://{{id}} for a task and {work} for your open work.",
        ttl = policy.claim_ttl_default_secs,
        review = policy.review_ttl_secs,
        gate = policy.auto_accept_min_accepted,
        fee = fee.normalize(),
        queue = policy.queue_max,
        work = MY_WORK_URI,
    )
}

/// The Streamable HTTP endpoint over `server`: stateless (any replica answers any
/// request; no session is kept), answering in JSON, serving only `hosts` (names or
/// `name:port`).
pub fn service<S: Backend + Clone>(
    server: McpServer<S>,
    hosts: Vec<String>,
) -> StreamableHttpService<McpServer<S>, NeverSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MCP_BODY_BYTES_MAX)
        .with_allowed_hosts(hosts);
    StreamableHttpService::new(move || Ok(server.clone()), Arc::default(), config)
}

/// Middleware on [`MCP_PATH`]: the request must prove a caller, as the REST API's
/// [`Caller`] does; the caller goes on the request for the tools. Without credentials,
/// 401 with `WWW-Authenticate: Bearer`.
pub async fn authenticate<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match Caller::from_request_parts(&mut parts, &app).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refusal) => {
            let mut response = refusal.into_response();
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"marketplace\""),
            );
            response
        }
    }
}

/// Serves one MCP session on stdin and stdout as `identity` until the client closes it.
pub async fn serve_stdio<S: Backend + Clone>(
    server: McpServer<S>,
    identity: IdentityId,
) -> std::io::Result<()> {
    let running = server
        .acting_as(identity)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
