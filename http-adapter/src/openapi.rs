//! Both dialects' documented routes, each declared once, and the OpenAPI 3.1 document
//! generated from them (the handlers' annotations and the request and response types),
//! served at `/api/v1/openapi.json`.
//!
//! A route's path and methods come from its handler's `#[utoipa::path]`: [`routes`] mounts
//! the handler there and adds the operation to the document, so the router and the
//! document cannot drift. Tests and fuzzing read the route list from [`operations()`].

use std::collections::BTreeMap;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::MethodRouter;
use marketplace_core::MemoryStore;
use marketplace_core::store::Backend;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Paths;
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::SecurityScheme;
use utoipa::{Modify, OpenApi};
use utoipa_axum::PathItemExt as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt as _};

use crate::agora::{account, artifacts, board, broker, events, skill, tasks};
use crate::limits::FILE_BODY_BYTES_MAX;
use crate::state::AppState;
use crate::{agentmarket, agora, execute, operations, webhooks};

pub use crate::agora::skill::SkillCall;
pub use marketplace_api::error::{AmError, ErrorBody, ErrorDetail};

/// The three ways to present credentials.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (`ak_…`) or a session token from login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "node_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Knarr-Signature",
                "ed25519 over METHOD, path with query, X-Knarr-Timestamp, X-Knarr-Nonce and \
                 the body's SHA-256, with X-Knarr-PublicKey",
            ))),
        );
    }
}

/// The document's frame: its title, tags and security schemes. The operations come from
/// [`routes`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agent marketplace",
        description = "The Agora (`/api/v1/…`) and AgentMarket (`/api/…`) dialects over one engine."
    ),
    modifiers(&Security),
    tags(
        (name = "agora", description = "The Agora dialect: resources as JSON objects, lists as arrays, errors as `{\"error\": {\"code\", \"message\"}}`"),
        (name = "agentmarket", description = "The AgentMarket dialect: `{\"success\", \"data\", \"balance\"}` envelopes"),
        (name = "operations", description = "Health and metrics")
    )
)]
pub struct ApiDoc;

/// One documented operation: `handler` for the store `S`, mounted at the path and methods
/// its `#[utoipa::path]` (the type `P` that attribute generates) names, with that
/// operation and the schemas it refers to for the document. (`utoipa_axum::routes!` does
/// the same for handlers without type parameters; ours take the store's.)
fn operation<P, H, T, S>(handler: &H) -> UtoipaMethodRouter<AppState<S>>
where
    P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
    H: Handler<T, AppState<S>>,
    T: 'static,
    S: Backend + Clone,
{
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    let mut operation = P::operation();
    let tags = P::tags();
    if !tags.is_empty() {
        let operation_tags = operation.tags.get_or_insert_with(Vec::new);
        operation_tags.extend(tags.iter().map(ToString::to_string));
    }
    let methods = P::methods();
    let router = methods.iter().fold(MethodRouter::new(), |router, method| {
        router.on(method.to_method_filter(), handler.clone())
    });
    let mut paths = Paths::new();
    paths.add_path_operation(P::path(), methods, operation);
    (schemas, paths, router)
}

/// `op!(S, module, handler)`: [`operation`] for `module::handler::<S>`.
macro_rules! op {
    ($S:ident, $($module:ident)::+, $handler:ident) => {
        utoipa_axum::paste! {
            operation::<$($module)::+::[<__path_ $handler>], _, _, $S>(&$($module)::+::$handler::<$S>)
        }
    };
}

/// Every documented route of both dialects and the operator's endpoints, over the state of
/// a store `S`, with the document they make (take both apart with
/// [`OpenApiRouter::split_for_parts`]). The routes taking files have their own body limit,
/// [`FILE_BODY_BYTES_MAX`].
pub fn routes<S: Backend + Clone>() -> OpenApiRouter<AppState<S>> {
    let file_limit = DefaultBodyLimit::max(FILE_BODY_BYTES_MAX);
    let mut routes = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(op!(S, agora, register))
        .routes(op!(S, agora, signup))
        .routes(op!(S, agora, login))
        .routes(op!(S, agora, register_node))
        .routes(op!(S, agora, list_keys))
        .routes(op!(S, agora, create_key))
        .routes(op!(S, agora, revoke_key))
        .routes(op!(S, tasks, list_tasks))
        .routes(op!(S, tasks, get_task))
        .routes(op!(S, tasks, task_status))
        .routes(op!(S, tasks, claim))
        .routes(op!(S, tasks, extend))
        .routes(op!(S, tasks, accept))
        .routes(op!(S, tasks, task_result))
        .routes(op!(S, tasks, reject))
        .routes(op!(S, tasks, bid))
        .routes(op!(S, tasks, award))
        .routes(op!(S, tasks, message))
        .routes(op!(S, artifacts, upload).layer(file_limit))
        .routes(op!(S, artifacts, artifact))
        .routes(op!(S, artifacts, deliver).layer(file_limit))
        .routes(op!(S, account, set_profile))
        .routes(op!(S, account, get_profile))
        .routes(op!(S, account, reputation))
        .routes(op!(S, account, balance))
        .routes(op!(S, account, transactions))
        .routes(op!(S, account, earnings))
        .routes(op!(S, board, feed))
        .routes(op!(S, board, search))
        .routes(op!(S, board, signals))
        .routes(op!(S, board, services))
        .routes(op!(S, board, create_post))
        .routes(op!(S, broker, rules))
        .routes(op!(S, broker, create_rule))
        .routes(op!(S, broker, delete_rule))
        .routes(op!(S, broker, broker_match))
        .routes(op!(S, broker, propose))
        .routes(op!(S, broker, act))
        .routes(op!(S, broker, contracts))
        .routes(op!(S, events, events))
        .routes(op!(S, skill, skill))
        .routes(op!(S, agentmarket, register))
        .routes(op!(S, agentmarket, agents))
        .routes(op!(S, agentmarket, agent))
        .routes(op!(S, agentmarket, me))
        .routes(op!(S, agentmarket, post_task))
        .routes(op!(S, agentmarket, tasks))
        .routes(op!(S, agentmarket, task))
        .routes(op!(S, agentmarket, accept))
        .routes(op!(S, agentmarket, complete))
        .routes(op!(S, agentmarket, wallet))
        .routes(op!(S, webhooks, get_webhook))
        .routes(op!(S, webhooks, set_webhook))
        .routes(op!(S, webhooks, deliveries))
        .routes(op!(S, webhooks, test_webhook))
        .routes(op!(S, webhooks, rotate_secret))
        .routes(op!(S, execute, execute))
        .routes(op!(S, tasks, post_task))
        .routes(op!(S, tasks, cancel))
        .routes(op!(S, tasks, join_queue))
        .routes(op!(S, tasks, leave_queue))
        .routes(op!(S, operations, healthz))
        .routes(op!(S, operations, metrics_text));
    whole_forms(routes.get_openapi_mut(), "SkillCall");
    routes
}

/// Makes each form of the tagged enum `name` one object. The generated schema of a form is
/// `allOf` its parameters and its tag (`{"action": …}`); a validator reads that as two
/// objects, and parameters that refuse other fields (`additionalProperties: false`) would
/// refuse the tag. Here the tag joins the parameters' own object.
fn whole_forms(document: &mut utoipa::openapi::OpenApi, name: &str) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    let named = components.schemas.clone();
    let Some(RefOr::T(Schema::OneOf(forms))) = components.schemas.get_mut(name) else {
        return;
    };
    for form in &mut forms.items {
        let RefOr::T(Schema::AllOf(parts)) = form else {
            continue;
        };
        let objects: Vec<Object> = parts
            .items
            .iter()
            .filter_map(|part| object_of(part, &named))
            .collect();
        let [params, tag] = objects.as_slice() else {
            continue;
        };
        let mut whole = params.clone();
        whole.properties.extend(tag.properties.clone());
        let mut required = tag.required.clone();
        required.extend(params.required.iter().cloned());
        whole.required = required;
        whole.description.clone_from(&parts.description);
        *form = RefOr::T(Schema::Object(whole));
    }
}

/// The object a schema is, following references among `named`.
fn object_of(schema: &RefOr<Schema>, named: &BTreeMap<String, RefOr<Schema>>) -> Option<Object> {
    match schema {
        RefOr::T(Schema::Object(object)) => Some(object.clone()),
        RefOr::Ref(reference) => {
            let name = reference.ref_location.rsplit('/').next()?;
            object_of(named.get(name)?, named)
        }
        RefOr::T(_) => None,
    }
}

/// The document of [`routes`] (the same for every store).
pub fn document() -> utoipa::openapi::OpenApi {
    routes::<MemoryStore>().into_openapi()
}

/// Every documented operation as `(method, path)`, e.g. `("POST", "/api/v1/tasks/{id}/claim")`,
/// in the document's order: the route list tests and fuzzing read.
pub fn operations() -> Vec<(&'static str, String)> {
    let mut all = Vec::new();
    for (path, item) in document().paths.paths {
        let methods = [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ];
        for (method, operation) in methods {
            if operation.is_some() {
                all.push((method, path.clone()));
            }
        }
    }
    all
}
