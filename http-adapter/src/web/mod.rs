//! The board people use in a browser: pages rendered on the server (`maud`, checked at
//! compile time, every interpolated text escaped), plain HTML that works without
//! JavaScript, one small stylesheet, and one small script of our own (`live.js`) that
//! keeps the board, a task, my work, the wallet and the market up to date from `/live` —
//! the `GET /api/v1/events` stream as the session's viewer may see it.
//!
//! Pages read through the same handlers as the JSON API (`GET /api/v1/tasks`, the task,
//! the feed), so a page shows exactly what the API would show its viewer.
//!
//! Every page is served with a strict `Content-Security-Policy` (no script but this
//! server's own file, no inline script or style, no frames, forms posting only here),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`. Task text is hostile input: it is only ever text in an
//! element, never markup, and artifacts are linked, never embedded.

mod account;
mod charts;
mod fields;
mod forms;
mod market;
mod pages;
pub mod session;
mod settings;

use axum::Router;
use axum::extract::Request;
use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use marketplace_core::EventKind;
use marketplace_core::store::Backend;
use maud::{DOCTYPE, Markup, html};

use crate::error::ApiError;
use crate::state::AppState;

/// The policy every page is served with: nothing but this server's own stylesheet,
/// script, images, event stream and forms.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Where the interactive API reference is served: a page rendering the OpenAPI document
/// (Scalar, through `utoipa-scalar`).
pub const DOCS_PATH: &str = "/docs";

/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/assets/board.css";

/// Where the live-update script is served.
pub const SCRIPT_PATH: &str = "/assets/live.js";

/// Where the pages' event stream is served: `GET /api/v1/events` for the session's viewer.
pub const LIVE_PATH: &str = "/live";

/// The board's routes: `/` (the board; for a client asking for JSON, what this server is and
/// where its documentation lives), a task (`/tasks/{id}`, its forms, its delivery form and
/// its files), `/post`, `/me`, `/market`, `/wallet`, `/profile/{hash}`, the account
/// (`/signup`, `/login`, `/logout`, `/settings`), the stylesheet, the script and `/live`.
/// Every form post must come from this origin ([`session::same_origin`]).
pub fn routes<S: Backend + Clone>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(pages::board::<S>))
        .route("/tasks/{id}", get(pages::task::<S>).post(forms::act::<S>))
        .route("/tasks/{id}/files/{hash}", get(pages::file::<S>))
        .route(
            "/tasks/{id}/deliver",
            axum::routing::post(forms::deliver::<S>).layer(axum::extract::DefaultBodyLimit::max(
                crate::limits::FILE_BODY_BYTES_MAX,
            )),
        )
        .route("/post", get(forms::post_form).post(forms::post::<S>))
        .route("/me", get(account::me::<S>))
        .route("/market", get(market::market::<S>))
        .route("/wallet", get(account::wallet::<S>))
        .route("/profile/{hash}", get(account::profile::<S>))
        .route("/signup", get(forms::signup_form).post(forms::signup::<S>))
        .route("/login", get(forms::login_form).post(forms::login::<S>))
        .route("/logout", axum::routing::post(forms::logout::<S>))
        .route(
            "/settings",
            get(settings::settings::<S>).post(settings::change::<S>),
        )
        .route(STYLESHEET_PATH, get(stylesheet))
        .route(SCRIPT_PATH, get(script))
        .route(LIVE_PATH, get(live::<S>))
        .layer(middleware::from_fn(session::same_origin))
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
    // An artifact keeps its own, stricter policy.
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE));
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

/// `GET /assets/live.js`.
async fn script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("live.js"),
    )
}

/// `GET /live` parameters.
#[derive(Debug, Default, serde::Deserialize)]
struct LiveQuery {
    /// Start after this event (the page's `data-since`), unless the browser resumes with
    /// `Last-Event-ID`.
    after: Option<u64>,
}

/// `GET /live`: the event stream of `GET /api/v1/events`, as the session's viewer may see
/// it (the JSON API's own credentials are not read here, nor the session there), from
/// `after` when the browser names no `Last-Event-ID`.
async fn live<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: session::Viewer,
    mut headers: axum::http::HeaderMap,
    crate::extract::ApiQuery(query): crate::extract::ApiQuery<LiveQuery>,
) -> Response {
    use crate::agora::events::{LAST_EVENT_ID, events};
    use marketplace_api::agora::events::EventsParams;
    if let Some(after) = query.after
        && !headers.contains_key(LAST_EVENT_ID)
    {
        headers.insert(LAST_EVENT_ID, HeaderValue::from(after));
    }
    let params = crate::extract::ApiQuery(EventsParams::default());
    match events(State(app), viewer.caller(), headers, params).await {
        Ok(stream) => stream.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Where a page's live stream starts: taken before the page reads what it shows, so
/// nothing committed after that read is missed.
async fn since<S: Backend + Clone>(app: &AppState<S>) -> u64 {
    app.live
        .resume_point(&app.market)
        .await
        .unwrap_or_else(|_| app.live.horizon())
}

/// What a page keeps up to date from `/live`, and the event it starts after.
#[derive(Debug, Clone, Copy)]
enum Live<'a> {
    /// Nothing: a form, or an error.
    No,
    /// Whatever its viewer may see happen: the board, my work, the wallet.
    All(u64),
    /// One task's page.
    Task(&'a str, u64),
}

/// A whole page for `viewer`: `title`, the navigation, and `body`; not live.
fn page(title: &str, viewer: &session::Viewer, body: &Markup) -> Html<String> {
    live_page(title, viewer, body, Live::No)
}

/// A whole page for `viewer`: `title`, the navigation, and `body`, kept up to date as
/// `live` says.
fn live_page(title: &str, viewer: &session::Viewer, body: &Markup, live: Live<'_>) -> Html<String> {
    let kinds = EventKind::ALL.map(EventKind::as_str).join(" ");
    let (follows, task, since) = match live {
        Live::No => (false, None, 0),
        Live::All(since) => (true, None, since),
        Live::Task(id, since) => (true, Some(id), since),
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · agent marketplace" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                @if follows { script src=(SCRIPT_PATH) defer {} }
            }
            body {
                header {
                    nav aria-label="Main" {
                        a href="/" { "Board" }
                        a href="/post" { "Post a task" }
                        a href="/market" { "Market" }
                        @if let Some(identity) = &viewer.identity {
                            a href="/me" { "My work" }
                            a href="/wallet" { "Wallet" }
                            a href={ "/profile/" (identity.as_str()) } { "Profile" }
                            a href="/settings" { "Settings" }
                            span.who { "Signed in as " (identity.as_str().get(..10).unwrap_or_default()) }
                            form.inline method="post" action="/logout" {
                                button type="submit" { "Log out" }
                            }
                        } @else {
                            a href="/login" { "Log in" }
                            a href="/signup" { "Sign up" }
                        }
                    }
                }
                p #live-status role="status" aria-live="polite" {}
                @if follows {
                    main data-live="" data-since=(since) data-kinds=(kinds) data-task=[task] { (body) }
                } @else {
                    main { (body) }
                }
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
    refusal_page(error.status(), &sentence(error))
}

/// A page saying `sentence`, with `status`.
fn refusal_page(status: StatusCode, sentence: &str) -> Response {
    let anonymous = session::Viewer::default();
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        p.error role="alert" { (sentence) }
        p { a href="/" { "Back to the board" } }
    };
    (status, page("Error", &anonymous, &body)).into_response()
}

/// The sentence a person reads for an API error.
fn sentence(error: &ApiError) -> String {
    let message = match error {
        ApiError::Engine(e) => e.to_string(),
        ApiError::BadBody(why) => why.clone(),
        ApiError::Unauthorized(why) => (*why).to_owned(),
        other => other.code().replace('_', " "),
    };
    if error.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return "The marketplace could not answer; try again.".to_owned();
    }
    sentence_for(error.code(), &message)
}

/// The sentence a person reads for the API's error `code` with its `message`.
fn sentence_for(code: &str, message: &str) -> String {
    match code {
        "task_not_found" | "not_found" => "There is no such task.".to_owned(),
        "already_claimed" => "Someone claimed this task first.".to_owned(),
        "insufficient_funds" => "You do not have enough credits available for that.".to_owned(),
        "own_task" => "You cannot work on your own task.".to_owned(),
        "email_taken" => "That email is signed up already; log in instead.".to_owned(),
        "not_participant" => "Only the task's poster and worker may do that.".to_owned(),
        "unauthorized" if message.contains("password") => "Wrong email or password.".to_owned(),
        "unauthorized" => "Log in first.".to_owned(),
        "rate_limited" => "Too many requests; wait a moment and try again.".to_owned(),
        "invalid" | "invalid_input" => format!("That is not a valid request: {message}"),
        _ => message.to_owned(),
    }
}
