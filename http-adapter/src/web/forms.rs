//! The forms a person sends: sign up, log in, log out, post a task, and act on a task
//! (claim, queue, deliver, accept, reject, cancel). Each runs the same handler as the JSON
//! API — the task actions through the skill endpoint's dispatch — so a form does exactly
//! what the API call would; a refusal comes back on the page, as a sentence.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use marketplace_core::IdentityId;
use marketplace_core::store::Backend;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::session::{self, Viewer};
use super::{page, refusal, refusal_page, sentence};
use crate::agora::tasks::TaskView;
use crate::agora::{self, LoginRequest, SignupRequest};
use crate::auth::ProofOfWork;
use crate::error::ApiError;
use crate::extract::{ApiJson, IdempotencyKey};
use crate::state::AppState;

/// A form's fields (`application/x-www-form-urlencoded`), the last of each name winning.
fn fields(body: &Bytes) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A field's trimmed value, `None` when missing or empty.
fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// 303 to `to`, with `cookie` set when given.
fn see_other(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, location);
    }
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// A labelled field.
fn input(name: &str, label: &str, kind: &str, help: Option<&str>) -> Markup {
    html! {
        p.field {
            label for=(name) { (label) }
            input id=(name) name=(name) type=(kind)
                aria-describedby=[help.map(|_| format!("{name}-help"))];
            @if let Some(help) = help { small id={ (name) "-help" } { (help) } }
        }
    }
}

/// The sign-up or log-in page, with `problem` above the form.
fn account_page(signup: bool, viewer: &Viewer, problem: Option<&str>) -> Html {
    let (title, action) = if signup {
        ("Sign up", "/signup")
    } else {
        ("Log in", "/login")
    };
    let body = html! {
        h1 { (title) }
        @if let Some(problem) = problem { p.error role="alert" { (problem) } }
        form method="post" action=(action) {
            (input("email", "Email", "email", None))
            (input("password", "Password", "password", Some("At least 8 characters.")))
            @if signup {
                (input("alias", "Display name", "text", Some("1 to 16 characters, shown on your posts.")))
            }
            button type="submit" { (title) }
        }
    };
    page(title, viewer, &body)
}

type Html = axum::response::Html<String>;

/// `GET /signup`.
pub(super) async fn signup_form(viewer: Viewer) -> Html {
    account_page(true, &viewer, None)
}

/// `GET /login`.
pub(super) async fn login_form(viewer: Viewer) -> Html {
    account_page(false, &viewer, None)
}

/// Signs `identity` in: its session cookie, and back to the board.
async fn signed_in<S: Backend + Clone>(app: &AppState<S>, identity: &str) -> Response {
    let started = match IdentityId::parse(identity) {
        Ok(identity) => session::start(app, &identity).await,
        Err(_) => Err(ApiError::internal("a session for no identity".to_owned())),
    };
    match started {
        Ok(cookie) => see_other("/", Some(cookie)),
        Err(e) => refusal(&e),
    }
}

/// `POST /signup`: a person's account (as `POST /api/v1/auth/signup`), signed in.
pub(super) async fn signup<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    body: Bytes,
) -> Response {
    if app.registration_pow_bits > 0 {
        let why = "This marketplace asks every new account for a proof of work: sign up \
                   through the API (POST /api/v1/auth/signup).";
        return refusal_page(StatusCode::FORBIDDEN, why);
    }
    let form = fields(&body);
    let request = SignupRequest {
        email: field(&form, "email").unwrap_or_default().to_owned(),
        password: form.get("password").cloned().unwrap_or_default(),
        alias: field(&form, "alias").unwrap_or_default().to_owned(),
    };
    match agora::signup(State(app.clone()), ProofOfWork, ApiJson(request)).await {
        Ok((_, axum::Json(session))) => signed_in(&app, &session.identity_hash).await,
        Err(e) => (e.status(), account_page(true, &viewer, Some(&sentence(&e)))).into_response(),
    }
}

/// `POST /login`.
pub(super) async fn login<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    peer: crate::rate_limits::PeerIp,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    let request = LoginRequest {
        email: field(&form, "email").unwrap_or_default().to_owned(),
        password: form.get("password").cloned().unwrap_or_default(),
    };
    match agora::login(State(app.clone()), peer, ApiJson(request)).await {
        Ok(axum::Json(session)) => signed_in(&app, &session.identity_hash).await,
        Err(e) => (
            e.status(),
            account_page(false, &viewer, Some(&sentence(&e))),
        )
            .into_response(),
    }
}

/// `POST /logout`: the session ends now, not only in this browser.
pub(super) async fn logout<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
) -> Response {
    match session::end(&app, &viewer).await {
        Ok(cookie) => see_other("/", Some(cookie)),
        Err(e) => refusal(&e),
    }
}

/// The post-a-task page, with `problem` above the form.
fn post_page(viewer: &Viewer, problem: Option<&str>) -> Html {
    let body = html! {
        h1 { "Post a task" }
        @if let Some(problem) = problem { p.error role="alert" { (problem) } }
        form method="post" action="/post" {
            p.field {
                label for="text" { "What do you need done?" }
                textarea id="text" name="text" rows="6" required aria-describedby="text-help" {}
                small id="text-help" { "Agents and people read this to decide; be specific." }
            }
            (input("title", "Title (optional)", "text", Some("At most 80 characters; the text's start otherwise.")))
            (input("bounty", "Bounty, credits", "number", Some("Held in escrow from your available credits until you accept, cancel or the task expires; up to 6 decimal places.")))
            (input("skill", "Skill (optional)", "text", Some("e.g. writing; agents with this skill hear of it.")))
            (input("capabilities", "Capabilities (optional)", "text", Some("Comma-separated, e.g. research, translation.")))
            p.field {
                input id="require_review" name="require_review" type="checkbox" value="true";
                label for="require_review" { "Always let me review the delivery" }
            }
            p.field {
                input id="bidding" name="bidding" type="checkbox" value="true";
                label for="bidding" { "Take bids, and award the task to one (instead of the first claim)" }
            }
            p.field {
                input id="private" name="private" type="checkbox" value="true";
                label for="private" { "Keep the result between me and the worker" }
            }
            button type="submit" { "Post" }
        }
    };
    page("Post a task", viewer, &body)
}

/// `GET /post`: the form, for a signed-in viewer; otherwise to the log-in page.
pub(super) async fn post_form(viewer: Viewer) -> Response {
    if viewer.identity.is_none() {
        return see_other("/login", None);
    }
    post_page(&viewer, None).into_response()
}

/// `POST /post`: posts the task (as `POST /api/v1/tasks`) and shows it.
pub(super) async fn post<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    body: Bytes,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return see_other("/login", None);
    };
    let form = fields(&body);
    let mut task = Map::new();
    task.insert(
        "text".into(),
        field(&form, "text").unwrap_or_default().into(),
    );
    let bounty = field(&form, "bounty").unwrap_or("0");
    // As typed: the API reads an exact decimal from a string where a number could not
    // carry it.
    task.insert("bounty".into(), bounty.into());
    for name in ["title", "skill"] {
        if let Some(value) = field(&form, name) {
            task.insert(name.into(), value.into());
        }
    }
    if let Some(capabilities) = field(&form, "capabilities") {
        let list: Vec<Value> = capabilities
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Value::from)
            .collect();
        task.insert("required_capabilities".into(), list.into());
    }
    task.insert(
        "require_review".into(),
        form.contains_key("require_review").into(),
    );
    task.insert("bidding".into(), form.contains_key("bidding").into());
    if form.contains_key("private") {
        task.insert("delivery".into(), "private".into());
    }
    let posted =
        crate::agora::tasks::post_task(State(app), caller, IdempotencyKey(None), ApiJson(task))
            .await;
    match posted {
        Ok((_, axum::Json(task))) => see_other(&format!("/tasks/{}", task.id), None),
        Err(e) => (e.status(), post_page(&viewer, Some(&sentence(&e)))).into_response(),
    }
}

/// A form sending `action` with one required text (`text`), in a textarea of `rows` rows
/// labelled `label`.
fn text_form(action: &str, id: &str, label: &str, rows: u8, button: &str) -> Markup {
    html! {
        form method="post" {
            input type="hidden" name="action" value=(action);
            p.field {
                label for=(id) { (label) }
                textarea id=(id) name="text" rows=(rows) required {}
            }
            button type="submit" { (button) }
        }
    }
}

/// The actions `viewer` may take on `task`, as forms.
pub(super) fn actions(task: &TaskView, viewer: &Viewer) -> Markup {
    let Some(me) = viewer.identity.as_ref().map(IdentityId::as_str) else {
        return html! {
            p { a href="/login" { "Log in" } " to claim, queue or message." }
        };
    };
    let mine = task.poster == me;
    let claimant = task.claimed_by.as_deref() == Some(me);
    let queued = task.queue.iter().any(|e| e.agent == me);
    let button = |action: &str, label: &str| {
        html! {
            form.inline method="post" { input type="hidden" name="action" value=(action); button type="submit" { (label) } }
        }
    };
    html! {
        section.actions aria-labelledby="actions-heading" {
            h2 #actions-heading { "What you can do" }
            @match (mine, task.status.as_str()) {
                (true, "open") => { (button("cancel", "Cancel the task (refunds the bounty)")) }
                (true, "delivered") => {
                    form method="post" {
                        input type="hidden" name="action" value="accept";
                        p.field {
                            label for="rating" { "Rating (optional)" }
                            select id="rating" name="rating" {
                                option value="" { "none" }
                                @for r in (1..=5).rev() { option value=(r) { (r) } }
                            }
                        }
                        button type="submit" { "Accept and pay" }
                    }
                    form method="post" {
                        input type="hidden" name="action" value="reject";
                        p.field {
                            label for="category" { "Why not" }
                            select id="category" name="category" {
                                @for c in ["quality", "format", "wrong_interpretation", "too_slow", "incomplete", "other"] {
                                    option value=(c) { (c.replace('_', " ")) }
                                }
                            }
                        }
                        p.field {
                            label for="feedback" { "Feedback for the worker" }
                            textarea id="feedback" name="text" rows="3" {}
                        }
                        button type="submit" { "Reject" }
                    }
                }
                (true, _) => { p { "Waiting for the work." } }
                (false, "open") => { (button("claim", "Claim this task")) }
                (false, "claimed") if claimant => {
                    (text_form("deliver", "result", "Your result", 6, "Deliver"))
                }
                (false, "claimed") if queued => { (button("leave_queue", "Leave the queue")) }
                (false, "claimed") => { (button("queue", "Join the queue")) }
                _ => { p { "Nothing to do here now." } }
            }
            @if task.bidding && !mine && task.status == "open" {
                form method="post" {
                    input type="hidden" name="action" value="bid";
                    p.field {
                        label for="offered_price" { "Your price, credits" }
                        input id="offered_price" name="offered_price" type="number" min="0" step="any" required;
                    }
                    p.field {
                        label for="pitch" { "Why you" }
                        textarea id="pitch" name="text" rows="2" {}
                    }
                    button type="submit" { "Bid" }
                }
            }
            @if mine && task.status == "open" && !task.bids.is_empty() {
                @for bid in &task.bids {
                    form.inline method="post" {
                        input type="hidden" name="action" value="award";
                        input type="hidden" name="bid_id" value=(bid.id);
                        button type="submit" { "Award to " (bid.agent.get(..10).unwrap_or_default()) " at " (super::pages::credits(&bid.offered_price)) }
                    }
                }
            }
            (text_form("message", "message", "Message on this task", 2, "Send"))
        }
    }
}

/// `POST /tasks/{id}`: the action the form names, through the skill endpoint's dispatch;
/// back to the task, or the task with the refusal.
pub(super) async fn act<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return see_other("/login", None);
    };
    let form = fields(&body);
    let action = field(&form, "action").unwrap_or_default();
    let mut call = json!({ "action": action, "task_id": id });
    match action {
        "deliver" => call["text"] = form.get("text").cloned().unwrap_or_default().into(),
        "reject" => {
            call["category"] = field(&form, "category").unwrap_or("other").into();
            call["text"] = form.get("text").cloned().unwrap_or_default().into();
        }
        "accept" => {
            if let Some(rating) = field(&form, "rating").and_then(|r| r.parse::<u8>().ok()) {
                call["rating"] = rating.into();
            }
        }
        "message" => {
            call["text"] = form.get("text").cloned().unwrap_or_default().into();
        }
        "bid" => {
            call["text"] = form.get("text").cloned().unwrap_or_default().into();
            // As typed: an exact decimal the API reads from a string.
            call["offered_price"] = field(&form, "offered_price").unwrap_or("0").into();
        }
        "award" => call["bid_id"] = field(&form, "bid_id").unwrap_or_default().into(),
        "claim" | "queue" | "leave_queue" | "cancel" => {}
        _ => {
            let problem = (
                StatusCode::BAD_REQUEST,
                "That is not an action on a task.".to_owned(),
            );
            return super::pages::render_task(app, &viewer, id, Some(problem)).await;
        }
    }
    let Value::Object(call) = call else {
        unreachable!("built as an object")
    };
    let result = crate::agora::skill::skill(
        State(app.clone()),
        Some(caller),
        IdempotencyKey(None),
        ApiJson(call),
    )
    .await;
    let refused = match result {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(refused_by(&response)),
        Err(e) => Some((e.status(), sentence(&e))),
    };
    match refused {
        None => see_other(&format!("/tasks/{id}"), None),
        Some(problem) => super::pages::render_task(app, &viewer, id, Some(problem)).await,
    }
}

/// The status and sentence of an API answer that refused.
fn refused_by(response: &Response) -> (StatusCode, String) {
    let status = response.status();
    let message = response
        .extensions()
        .get::<crate::error::ErrorDetail>()
        .map_or_else(
            || "The marketplace refused.".to_owned(),
            |d| super::sentence_for(&d.code, &d.message),
        );
    (status, message)
}
