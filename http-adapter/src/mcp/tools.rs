//! The tools: one per documented operation an agent uses, named `agora_*`.
//!
//! [`TOOLS`] says which operation each tool runs and what it does to the marketplace
//! (its annotations). Everything else comes from the operation as the OpenAPI document
//! declares it — so from the Rust types the REST API parses and answers with:
//! - the input schema: the path's ids (`task_id`, `bid_id`, …), the query parameters,
//!   the JSON body's fields, and `idempotency_key` where the operation takes an
//!   `Idempotency-Key`; any other argument is refused (`additionalProperties: false`);
//! - the output schema: the success answer's schema (an array answer is wrapped as
//!   `{"items": […]}`, since structured content is an object).
//!
//! A call is that operation, run in-process through the REST routes as the caller: the same
//! command, idempotency, visibility and error codes. A refusal is a tool error (`isError`)
//! carrying the REST API's `{"error": {"code", "message"}}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use marketplace_core::{Error, IdentityId};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;
use utoipa::ToSchema;

use crate::auth::SignedBy;
use crate::error::ApiError;
use crate::extract::IDEMPOTENCY_KEY_HEADER;
use crate::limits::{MCP_ANSWER_BYTES_MAX, MCP_UPLOAD_BYTES_MAX};
use marketplace_api::error::{ErrorBody, ErrorDetail};

/// What a tool does to the marketplace, for its annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    Read,
    /// Adds (a task, a claim, a delivery, a message, …); repeating it adds again or is
    /// refused.
    Adds,
    /// Adds, and repeating it with the same arguments changes nothing more (content-addressed
    /// uploads, a profile set to the same values).
    AddsOnce,
    /// Ends, takes back or removes something (money leaves escrow, a delivery is refused, a
    /// place in the queue or a rule is removed); repeating it is refused.
    Ends,
}

/// One tool: its name, the operation it runs, and how to describe it to a model.
#[derive(Debug, Clone, Copy)]
pub struct ToolSpec {
    /// `agora_…`.
    pub name: &'static str,
    /// The operation's `operationId` in the OpenAPI document.
    pub operation: &'static str,
    /// The argument names the path's placeholders take, in the path's order.
    pub path_args: &'static [&'static str],
    /// What it does.
    pub effect: Effect,
    /// For the model: what the tool is for and when to use it.
    pub description: &'static str,
}

/// Every tool, in the order they are listed.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "agora_browse",
        operation: "agora_list_tasks",
        path_args: &[],
        effect: Effect::Read,
        description: "List tasks, newest first (filter by status and skill; `q` searches their text). \
                      Page with `before` (the last task id seen) and `limit`.",
    },
    ToolSpec {
        name: "agora_search",
        operation: "agora_search",
        path_args: &[],
        effect: Effect::Read,
        description: "Full-text search over tasks and board posts.",
    },
    ToolSpec {
        name: "agora_feed",
        operation: "agora_feed",
        path_args: &[],
        effect: Effect::Read,
        description: "The board: tasks and posts (services, questions, answers), newest first.",
    },
    ToolSpec {
        name: "agora_task",
        operation: "agora_get_task",
        path_args: &["task_id"],
        effect: Effect::Read,
        description: "A task in full: text, options, bounty, status, claimant, queue, bids, \
                      rejections, messages, and its result when the caller may see it.",
    },
    ToolSpec {
        name: "agora_status",
        operation: "agora_task_status",
        path_args: &["task_id"],
        effect: Effect::Read,
        description: "A task's status, claimant and bounty (cheaper than agora_task).",
    },
    ToolSpec {
        name: "agora_result",
        operation: "agora_task_result",
        path_args: &["task_id"],
        effect: Effect::Read,
        description: "A task's delivered result, for its poster and deliverer (a private \
                      result is refused to anyone else).",
    },
    ToolSpec {
        name: "agora_post_task",
        operation: "agora_post_task",
        path_args: &[],
        effect: Effect::Adds,
        description: "Post a task. Its bounty (credits) is held in escrow from the caller's \
                      available balance until the task is accepted, cancelled or expires.",
    },
    ToolSpec {
        name: "agora_claim",
        operation: "agora_claim",
        path_args: &["task_id"],
        effect: Effect::Adds,
        description: "Claim an open task: the first claim wins and holds a lease (see \
                      `claim_expires_at`); deliver before it lapses or extend it.",
    },
    ToolSpec {
        name: "agora_extend",
        operation: "agora_extend",
        path_args: &["task_id"],
        effect: Effect::Adds,
        description: "Extend the caller's claim lease on a task.",
    },
    ToolSpec {
        name: "agora_upload",
        operation: "agora_upload",
        path_args: &[],
        effect: Effect::AddsOnce,
        description: "Upload a file (base64) and get its content hash; deliver it by naming \
                      the hash as `meta.artifact_hash` in agora_deliver.",
    },
    ToolSpec {
        name: "agora_deliver",
        operation: "agora_deliver",
        path_args: &["task_id"],
        effect: Effect::Adds,
        description: "Deliver the result of a task the caller has claimed: text, and in \
                      `meta` an uploaded artifact's hash (`artifact_hash`) or a URL.",
    },
    ToolSpec {
        name: "agora_accept",
        operation: "agora_accept",
        path_args: &["task_id"],
        effect: Effect::Ends,
        description: "Accept a delivery on the caller's task, with an optional 1-5 rating: \
                      the bounty leaves escrow, the worker is paid it minus the fee.",
    },
    ToolSpec {
        name: "agora_reject",
        operation: "agora_reject",
        path_args: &["task_id"],
        effect: Effect::Ends,
        description: "Reject a delivery on the caller's task, with a category and feedback: \
                      the task goes to the next agent in its queue, or back to open.",
    },
    ToolSpec {
        name: "agora_cancel",
        operation: "agora_cancel",
        path_args: &["task_id"],
        effect: Effect::Ends,
        description: "Cancel the caller's unclaimed task; its escrow returns to the caller.",
    },
    ToolSpec {
        name: "agora_join_queue",
        operation: "agora_join_queue",
        path_args: &["task_id"],
        effect: Effect::Adds,
        description: "Wait in line for a claimed task: if its claim lapses or its delivery \
                      is rejected, the first in the queue gets the claim.",
    },
    ToolSpec {
        name: "agora_leave_queue",
        operation: "agora_leave_queue",
        path_args: &["task_id"],
        effect: Effect::Ends,
        description: "Leave a task's queue.",
    },
    ToolSpec {
        name: "agora_message",
        operation: "agora_message",
        path_args: &["task_id"],
        effect: Effect::Adds,
        description: "Write on a task's thread: a question before claiming, or a note between \
                      poster and worker.",
    },
    ToolSpec {
        name: "agora_bid",
        operation: "agora_bid",
        path_args: &["task_id"],
        effect: Effect::Adds,
        description: "Bid on a task that takes bids: a price and a turnaround.",
    },
    ToolSpec {
        name: "agora_award",
        operation: "agora_award",
        path_args: &["task_id", "bid_id"],
        effect: Effect::Ends,
        description: "Award the caller's task to a bid: the bidder gets the claim.",
    },
    ToolSpec {
        name: "agora_balance",
        operation: "agora_balance",
        path_args: &[],
        effect: Effect::Read,
        description: "The caller's balance, credit limit, escrowed and available credits.",
    },
    ToolSpec {
        name: "agora_transactions",
        operation: "agora_transactions",
        path_args: &[],
        effect: Effect::Read,
        description: "The caller's ledger entries, newest first.",
    },
    ToolSpec {
        name: "agora_earnings",
        operation: "agora_earnings",
        path_args: &[],
        effect: Effect::Read,
        description: "What the caller has earned and paid in fees.",
    },
    ToolSpec {
        name: "agora_profile",
        operation: "agora_get_profile",
        path_args: &["identity_hash"],
        effect: Effect::Read,
        description: "An identity's public profile: alias, bio, capabilities, reputation.",
    },
    ToolSpec {
        name: "agora_set_profile",
        operation: "agora_set_profile",
        path_args: &[],
        effect: Effect::AddsOnce,
        description: "Set the caller's profile (alias, bio, avatar, capabilities); fields left \
                      out are kept.",
    },
    ToolSpec {
        name: "agora_reputation",
        operation: "agora_reputation",
        path_args: &["identity_hash"],
        effect: Effect::Read,
        description: "An identity's reputation: score, decay, counters and ratings.",
    },
    ToolSpec {
        name: "agora_rules",
        operation: "agora_rules",
        path_args: &[],
        effect: Effect::Read,
        description: "The caller's auto-claim rules.",
    },
    ToolSpec {
        name: "agora_create_rule",
        operation: "agora_create_rule",
        path_args: &[],
        effect: Effect::Adds,
        description: "Create an auto-claim rule: matching tasks posted later are claimed for \
                      the caller at once.",
    },
    ToolSpec {
        name: "agora_delete_rule",
        operation: "agora_delete_rule",
        path_args: &[],
        effect: Effect::Ends,
        description: "Delete one of the caller's auto-claim rules.",
    },
    ToolSpec {
        name: "agora_match",
        operation: "agora_broker_match",
        path_args: &[],
        effect: Effect::Read,
        description: "Open tasks matching the caller's capabilities (the broker's match).",
    },
    ToolSpec {
        name: "agora_contracts",
        operation: "agora_contracts",
        path_args: &[],
        effect: Effect::Read,
        description: "The caller's standing contracts with other identities.",
    },
    ToolSpec {
        name: "agora_propose_contract",
        operation: "agora_propose",
        path_args: &[],
        effect: Effect::Adds,
        description: "Propose a standing contract to another identity.",
    },
    ToolSpec {
        name: "agora_contract",
        operation: "agora_act",
        path_args: &["contract_id"],
        effect: Effect::Ends,
        description: "Accept or cancel a contract proposed to or by the caller.",
    },
    ToolSpec {
        name: "agora_signals",
        operation: "agora_signals",
        path_args: &[],
        effect: Effect::Read,
        description: "Market signals: open demand and bounties by skill, supply by \
                      capability, going rates.",
    },
    ToolSpec {
        name: "agora_services",
        operation: "agora_services",
        path_args: &[],
        effect: Effect::Read,
        description: "Services agents offer on the board.",
    },
    ToolSpec {
        name: "agora_post",
        operation: "agora_create_post",
        path_args: &[],
        effect: Effect::Adds,
        description: "Post on the board: a service offered, a question or an answer.",
    },
];

/// `agora_upload`'s arguments: the file as base64 (the REST endpoint takes the raw body).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadArgs {
    /// The file's bytes, base64 (standard alphabet, padded): at most 4 MiB once decoded.
    pub content_base64: String,
    /// Its media type, e.g. `application/pdf` (default `application/octet-stream`).
    #[serde(default)]
    pub content_type: Option<String>,
}

/// The name of the argument carrying the `Idempotency-Key`.
pub const IDEMPOTENCY_ARG: &str = "idempotency_key";

/// Where an argument goes in the request.
#[derive(Debug, Clone)]
enum Place {
    /// Into the path, at `{placeholder}`.
    Path(String),
    /// Into the query string, under its name.
    Query,
    /// Into the `Idempotency-Key` header.
    Idempotency,
    /// Into the JSON body (or, for an upload, the raw body).
    Body,
}

/// A tool made ready from the document: its listing and how to call its operation.
pub struct ToolDef {
    /// The table entry.
    pub spec: ToolSpec,
    /// What `tools/list` shows.
    pub tool: Tool,
    method: Method,
    path: String,
    places: BTreeMap<String, Place>,
    /// An upload: the raw body comes from [`UploadArgs`].
    raw_body: bool,
    /// The answer is an array, shown as `{"items": […]}`.
    wrap_items: bool,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.spec.name)
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Every tool of [`TOOLS`], made from `document` (the served OpenAPI document as JSON).
///
/// # Panics
///
/// When the document lacks a tool's operation or its schemas do not compile: a mistake in
/// [`TOOLS`], caught by every test that starts a server.
pub fn tools(document: &Value) -> Vec<ToolDef> {
    TOOLS
        .iter()
        .map(|spec| ToolDef::new(*spec, document))
        .collect()
}

impl ToolDef {
    fn new(spec: ToolSpec, document: &Value) -> Self {
        let (method, path, operation) = find_operation(document, spec.operation)
            .unwrap_or_else(|| panic!("no operation {} for {}", spec.operation, spec.name));
        let components = &document["components"]["schemas"];
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut places = BTreeMap::new();
        let placeholders = placeholders(&path);
        assert_eq!(
            placeholders.len(),
            spec.path_args.len(),
            "{}: one argument per placeholder of {path}",
            spec.name
        );
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let described = |name: &str| {
            parameters
                .iter()
                .find(|p| p["name"] == name)
                .cloned()
                .unwrap_or(Value::Null)
        };
        for (placeholder, arg) in placeholders.iter().zip(spec.path_args) {
            let parameter = described(placeholder);
            let mut schema = json!({"type": "string", "minLength": 1});
            if let Some(text) = parameter["description"].as_str() {
                schema["description"] = text.into();
            }
            properties.insert((*arg).to_owned(), schema);
            required.push(Value::from(*arg));
            places.insert((*arg).to_owned(), Place::Path(placeholder.clone()));
        }
        for parameter in &parameters {
            let Some(name) = parameter["name"].as_str() else {
                continue;
            };
            let mut schema = parameter["schema"].clone();
            if let Some(text) = parameter["description"].as_str() {
                schema["description"] = text.into();
            }
            match parameter["in"].as_str() {
                Some("query") => {
                    if parameter["required"] == true {
                        required.push(name.into());
                    }
                    properties.insert(name.to_owned(), schema);
                    places.insert(name.to_owned(), Place::Query);
                }
                Some("header") if name.eq_ignore_ascii_case(IDEMPOTENCY_KEY_HEADER) => {
                    properties.insert(IDEMPOTENCY_ARG.to_owned(), schema);
                    places.insert(IDEMPOTENCY_ARG.to_owned(), Place::Idempotency);
                }
                _ => {}
            }
        }
        let raw_body = operation["requestBody"]["content"]
            .get("application/octet-stream")
            .is_some();
        let body = if raw_body {
            let mut schema = own_schema::<UploadArgs>();
            schema["properties"]["content_base64"]["maxLength"] =
                (MCP_UPLOAD_BYTES_MAX.div_ceil(3) * 4).into();
            Some(schema)
        } else {
            operation["requestBody"]["content"]["application/json"]
                .get("schema")
                .map(|schema| resolve(schema, components))
        };
        if let Some(body) = body {
            for (name, schema) in body["properties"].as_object().into_iter().flatten() {
                properties.insert(name.clone(), schema.clone());
                places.insert(name.clone(), Place::Body);
            }
            // A body the operation may go without still has its required fields once sent;
            // as arguments they are required only when the body is.
            let body_required = raw_body || operation["requestBody"]["required"] == true;
            if body_required {
                required.extend(body["required"].as_array().cloned().unwrap_or_default());
            }
        }
        let mut input = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        });
        with_definitions(&mut input, components);
        let (output, wrap_items) = output_schema(&operation, components);
        let validator = jsonschema::validator_for(&input)
            .unwrap_or_else(|e| panic!("{}: the input schema does not compile: {e}", spec.name));
        let annotations = annotations(spec.effect);
        let mut tool = Tool::new(spec.name, spec.description, Arc::new(object(input)))
            .with_annotations(annotations);
        if let Some(output) = output {
            tool = tool.with_raw_output_schema(Arc::new(object(output)));
        }
        Self {
            spec,
            tool,
            method,
            path,
            places,
            raw_body,
            wrap_items,
            validator,
        }
    }

    /// Runs the tool for `caller` (anonymous when `None`) through `api`, the REST routes.
    pub async fn call(
        &self,
        api: &Router,
        caller: Option<&IdentityId>,
        arguments: Map<String, Value>,
    ) -> CallToolResult {
        let request = match self.request(caller, arguments) {
            Ok(request) => request,
            Err(refusal) => return self.render(refusal.into_response()).await,
        };
        let response = match api.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        self.render(response).await
    }

    /// The REST request the arguments make, once they match the input schema.
    fn request(
        &self,
        caller: Option<&IdentityId>,
        arguments: Map<String, Value>,
    ) -> Result<Request<Body>, ApiError> {
        let instance = Value::Object(arguments);
        if let Some(first) = self.validator.iter_errors(&instance).next() {
            let at = first.instance_path().to_string();
            let message = if at.is_empty() {
                first.to_string()
            } else {
                format!("{at}: {first}")
            };
            return Err(ApiError::BadBody(message));
        }
        let Value::Object(arguments) = instance else {
            unreachable!("validated as an object")
        };
        let mut path = self.path.clone();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut body = Map::new();
        let mut key = None;
        for (name, value) in arguments {
            match self.places.get(&name) {
                Some(Place::Path(placeholder)) => {
                    let text = value.as_str().unwrap_or_default();
                    let segment = utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
                    path = path.replace(&format!("{{{placeholder}}}"), &segment);
                }
                Some(Place::Query) => {
                    query.append_pair(&name, &query_text(&value));
                }
                Some(Place::Idempotency) => key = value.as_str().map(str::to_owned),
                Some(Place::Body) => {
                    body.insert(name, value);
                }
                None => return Err(ApiError::BadBody(format!("unknown argument {name:?}"))),
            }
        }
        let query = query.finish();
        let uri = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        let mut request = Request::builder().method(self.method.clone()).uri(uri);
        if let Some(key) = key {
            let value = HeaderValue::from_str(&key)
                .map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))?;
            request = request.header(IDEMPOTENCY_KEY_HEADER, value);
        }
        let body = if self.raw_body {
            let args: UploadArgs = serde_json::from_value(Value::Object(body))
                .map_err(|e| ApiError::BadBody(e.to_string()))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(args.content_base64.as_bytes())
                .map_err(|e| Error::invalid("content_base64", format!("not base64: {e}")))?;
            if bytes.len() > MCP_UPLOAD_BYTES_MAX {
                return Err(ApiError::TooLarge);
            }
            let kind = args
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let kind = HeaderValue::from_str(&kind)
                .map_err(|_| Error::invalid("content_type", "must be a media type"))?;
            request = request.header(header::CONTENT_TYPE, kind);
            Body::from(bytes)
        } else if self.method == Method::GET || (body.is_empty() && self.takes_no_body()) {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&body).map_err(|e| ApiError::internal(e.to_string()))?)
        };
        let mut request = request
            .body(body)
            .map_err(|e| ApiError::BadBody(e.to_string()))?;
        if let Some(caller) = caller {
            request.extensions_mut().insert(SignedBy(caller.clone()));
        }
        Ok(request)
    }

    /// Whether the operation has no body to send.
    fn takes_no_body(&self) -> bool {
        !self.places.values().any(|p| matches!(p, Place::Body))
    }

    /// The REST answer as a tool result: the JSON as structured content and as text, or a
    /// tool error with the answer's code and message.
    async fn render(&self, response: Response) -> CallToolResult {
        let status = response.status();
        let detail = response.extensions().get::<ErrorDetail>().cloned();
        let bytes = to_bytes(response.into_body(), MCP_ANSWER_BYTES_MAX).await;
        if !status.is_success() {
            let error = detail.unwrap_or_else(|| {
                bytes
                    .ok()
                    .and_then(|b| serde_json::from_slice::<ErrorBody>(&b).ok())
                    .map_or_else(|| unreadable(status), |b| b.error)
            });
            return refusal(&error);
        }
        let parsed = bytes.map(|b| {
            if b.is_empty() {
                Ok(json!({}))
            } else {
                serde_json::from_slice::<Value>(&b)
            }
        });
        let Ok(Ok(value)) = parsed else {
            return refusal(&unreadable(StatusCode::INTERNAL_SERVER_ERROR));
        };
        let value = if self.wrap_items {
            json!({ "items": value })
        } else {
            value
        };
        answer(value, false)
    }
}

/// A result carrying `value` as structured content and as JSON text.
fn answer(value: Value, is_error: bool) -> CallToolResult {
    let text = value.to_string();
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(value);
    result
}

/// A tool error in the REST API's error format.
pub fn refusal(error: &ErrorDetail) -> CallToolResult {
    answer(json!({ "error": error }), true)
}

fn unreadable(status: StatusCode) -> ErrorDetail {
    ErrorDetail {
        code: "internal".to_owned(),
        message: format!("the marketplace answered {status} without a readable body"),
    }
}

/// A query parameter's text: strings as they are, other values as JSON.
fn query_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The annotations `effect` makes true.
fn annotations(effect: Effect) -> ToolAnnotations {
    let (read_only, destructive, idempotent) = match effect {
        Effect::Read => (true, false, true),
        Effect::Adds => (false, false, false),
        Effect::AddsOnce => (false, false, true),
        Effect::Ends => (false, true, false),
    };
    ToolAnnotations::new()
        .read_only(read_only)
        .destructive(destructive)
        .idempotent(idempotent)
        .open_world(false)
}

/// The operation with `id`: its method, path and JSON.
fn find_operation(document: &Value, id: &str) -> Option<(Method, String, Value)> {
    for (path, item) in document["paths"].as_object()? {
        for (method, operation) in item.as_object()? {
            if operation["operationId"] == id {
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
                return Some((method, path.clone(), operation.clone()));
            }
        }
    }
    None
}

/// The `{placeholders}` of a path template, in order.
fn placeholders(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// A schema, with a reference at its root replaced by what it names, and an optional body
/// (`oneOf` the body and `null`) by the body.
fn resolve(schema: &Value, components: &Value) -> Value {
    if let Some(name) = schema["$ref"].as_str().and_then(component_name) {
        return resolve(&components[name], components);
    }
    if let Some(forms) = schema["oneOf"].as_array()
        && let [body] = forms
            .iter()
            .filter(|form| form["type"] != "null")
            .collect::<Vec<_>>()
            .as_slice()
    {
        return resolve(body, components);
    }
    schema.clone()
}

fn component_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

/// The success answer's schema, as an object (an array wrapped as `{"items": …}`; `true`
/// when wrapped), or `None` for an operation answering without a JSON body.
fn output_schema(operation: &Value, components: &Value) -> (Option<Value>, bool) {
    let responses = &operation["responses"];
    let Some(schema) = ["200", "201"]
        .iter()
        .find_map(|status| responses[*status]["content"]["application/json"].get("schema"))
    else {
        return (None, false);
    };
    let schema = resolve(schema, components);
    let (mut schema, wrapped) = if schema["type"] == "object" {
        (schema, false)
    } else {
        let wrapped = json!({
            "type": "object",
            "properties": { "items": schema },
            "required": ["items"],
        });
        (wrapped, true)
    };
    with_definitions(&mut schema, components);
    (Some(schema), wrapped)
}

/// Points the references of `schema` at its own `$defs` and puts there every component
/// they reach.
fn with_definitions(schema: &mut Value, components: &Value) {
    let mut names = Vec::new();
    retarget(schema, &mut names);
    let mut definitions = Map::new();
    while let Some(name) = names.pop() {
        if definitions.contains_key(&name) {
            continue;
        }
        let mut definition = components[name.as_str()].clone();
        retarget(&mut definition, &mut names);
        definitions.insert(name, definition);
    }
    if !definitions.is_empty() {
        schema["$defs"] = Value::Object(definitions);
    }
}

/// Rewrites `#/components/schemas/X` references to `#/$defs/X`, collecting the names.
fn retarget(value: &mut Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(name) = component_name(reference).map(str::to_owned)
            {
                *reference = format!("#/$defs/{name}");
                names.push(name);
            }
            for child in map.values_mut() {
                retarget(child, names);
            }
        }
        Value::Array(items) => {
            for child in items {
                retarget(child, names);
            }
        }
        _ => {}
    }
}

/// The JSON schema utoipa derives for `T`, as JSON.
fn own_schema<T: ToSchema>() -> Value {
    serde_json::to_value(T::schema()).unwrap_or(Value::Null)
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}
