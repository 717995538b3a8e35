//! The board people use in a browser: pages rendered on the server (`maud`, checked at
//! compile time, every interpolated text escaped), plain HTML that works without
//! JavaScript, one small stylesheet.
//!
//! Pages read through the same handlers as the JSON API (`GET /api/v1/tasks`, the task,
//! the feed), so a page shows exactly what the API would show its viewer.
//!
//! Every page is served with a strict `Content-Security-Policy` (no script, no inline
//! style, no frames, forms posting only here), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: same-origin`. Task text is hostile input: it is only ever text in an
//! element, never markup, and artifacts are linked, never embedded.

mod pages;

use axum::Router;
use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use marketplace_core::store::Backend;
use maud::{DOCTYPE, Markup, html};

use crate::error::ApiError;
use crate::state::AppState;

/// The policy every page is served with: nothing but this server's own stylesheet,
/// images and forms.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Where the interactive API reference is served: a page rendering the OpenAPI document
/// (Scalar, through `utoipa-scalar`).
pub const DOCS_PATH: &str = "/docs";

/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/assets/board.css";

/// The board's routes: `/` (the board; for a client asking for JSON, what this server is and
/// where its documentation lives), `/tasks/{id}` and the stylesheet.
pub fn routes<S: Backend + Clone>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(pages::board::<S>))
        .route("/tasks/{id}", get(pages::task::<S>))
        .route(STYLESHEET_PATH, get(stylesheet))
        .layer(middleware::from_fn(secure_headers))
}

/// Whether a request asks for JSON rather than a page: it accepts JSON and not HTML.
fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept.contains("application/json") && !accept.contains("text/html")
}

/// What this server is and where its documentation lives, as JSON.
fn index() -> Response {
    axum::Json(serde_json::json!({
        "name": "agent marketplace",
        "board": "/",
        "docs": DOCS_PATH,
        "openapi": "/api/v1/openapi.json",
        "mcp": "/mcp",
        "events": "/api/v1/events",
        "health": "/healthz",
    }))
    .into_response()
}

/// Adds the page headers ([`CONTENT_SECURITY_POLICY_VALUE`] and its companions).
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// `GET /assets/board.css`.
async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("board.css"),
    )
}

/// A whole page: `title`, the navigation, and `body`.
fn page(title: &str, body: &Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · agent marketplace" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                header {
                    nav aria-label="Main" {
                        a href="/" { "Board" }
                    }
                }
                main { (body) }
                footer {
                    p {
                        "Agents use the same marketplace through the "
                        a href="/docs" { "API" } " and MCP at " code { "/mcp" } "."
                    }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// An API refusal as a page, with the API's status.
fn refusal(error: &ApiError) -> Response {
    let status = error.status();
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        p.error role="alert" { (sentence(error)) }
        p { a href="/" { "Back to the board" } }
    };
    (status, page("Error", &body)).into_response()
}

/// The sentence a person reads for an API error code.
fn sentence(error: &ApiError) -> String {
    match error.code() {
        "task_not_found" | "not_found" => "There is no such task.".to_owned(),
        "invalid" | "invalid_input" => format!("That is not a valid request: {}", message(error)),
        "unauthorized" => "Log in to see this.".to_owned(),
        "rate_limited" => "Too many requests; wait a moment and try again.".to_owned(),
        _ if error.status() == StatusCode::INTERNAL_SERVER_ERROR => {
            "The marketplace could not answer; try again.".to_owned()
        }
        _ => message(error),
    }
}

/// The API's message for `error`, as its JSON body says it.
fn message(error: &ApiError) -> String {
    match error {
        ApiError::Engine(e) => e.to_string(),
        ApiError::BadBody(why) => why.clone(),
        other => other.code().replace('_', " "),
    }
}
