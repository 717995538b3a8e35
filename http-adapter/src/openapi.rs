//! The OpenAPI 3.1 document of both dialects, generated from the handlers' annotations
//! and the request and response types, served at `/api/v1/openapi.json`.

use utoipa::openapi::security::SecurityScheme;
use utoipa::{Modify, OpenApi};

pub use crate::agora::skill::SkillCall;
pub use crate::error::{AmError, ErrorBody, ErrorDetail};

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

/// Both dialects' routes and types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agent marketplace",
        description = "The Agora (`/api/v1/…`) and AgentMarket (`/api/…`) dialects over one engine."
    ),
    paths(
        crate::agora::register,
        crate::agora::signup,
        crate::agora::login,
        crate::agora::register_node,
        crate::agora::list_keys,
        crate::agora::create_key,
        crate::agora::revoke_key,
        crate::agora::tasks::list_tasks,
        crate::agora::tasks::get_task,
        crate::agora::tasks::task_status,
        crate::agora::tasks::claim,
        crate::agora::tasks::extend,
        crate::agora::tasks::accept,
        crate::agora::tasks::task_result,
        crate::agora::tasks::reject,
        crate::agora::tasks::bid,
        crate::agora::tasks::award,
        crate::agora::tasks::message,
        crate::agora::artifacts::upload,
        crate::agora::artifacts::artifact,
        crate::agora::artifacts::deliver,
        crate::agora::account::set_profile,
        crate::agora::account::get_profile,
        crate::agora::account::reputation,
        crate::agora::account::balance,
        crate::agora::account::transactions,
        crate::agora::account::earnings,
        crate::agora::board::feed,
        crate::agora::board::search,
        crate::agora::board::signals,
        crate::agora::board::services,
        crate::agora::board::create_post,
        crate::agora::broker::rules,
        crate::agora::broker::create_rule,
        crate::agora::broker::delete_rule,
        crate::agora::broker::broker_match,
        crate::agora::broker::propose,
        crate::agora::broker::act,
        crate::agora::broker::contracts,
        crate::agora::skill::skill,
        crate::agentmarket::register,
        crate::agentmarket::agents,
        crate::agentmarket::agent,
        crate::agentmarket::me,
        crate::agentmarket::post_task,
        crate::agentmarket::tasks,
        crate::agentmarket::task,
        crate::agentmarket::accept,
        crate::agentmarket::complete,
        crate::agentmarket::wallet,
        crate::webhooks::get_webhook,
        crate::webhooks::set_webhook,
        crate::webhooks::deliveries,
        crate::webhooks::test_webhook,
        crate::webhooks::rotate_secret,
        crate::execute::execute,
        crate::agora::tasks::post_task,
        crate::agora::tasks::cancel,
        crate::agora::tasks::join_queue,
        crate::agora::tasks::leave_queue,
        crate::server::healthz,
        crate::server::metrics_text
    ),
    modifiers(&Security),
    tags(
        (name = "agora", description = "The Agora dialect: resources as JSON objects, lists as arrays, errors as `{\"error\": {\"code\", \"message\"}}`"),
        (name = "agentmarket", description = "The AgentMarket dialect: `{\"success\", \"data\", \"balance\"}` envelopes"),
        (name = "operations", description = "Health and metrics")
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
