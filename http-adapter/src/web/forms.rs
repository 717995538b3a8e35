//! The forms a person sends: sign up, log in, log out, post a task, and act on a task
//! (claim, extend, queue, deliver with a file, accept, reject, cancel, bid, award,
//! message, ask before claiming). Each runs the same handler as the JSON API — the task
//! actions through the skill endpoint's dispatch — so a form does exactly what the API
//! call would; a refusal comes back on the page, as a sentence beside the field that
//! caused it. Each form carries a fresh idempotency key, so sending it twice acts once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use marketplace_core::IdentityId;
use marketplace_core::store::Backend;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::fields::{Filled, Problem, Sent};
use super::session::{self, Viewer};
use super::{page, refusal, refusal_page};
use crate::agora;
use crate::auth::ProofOfWork;
use crate::error::ApiError;
use crate::extract::{ApiJson, IdempotencyKey};
use crate::state::AppState;
use marketplace_api::agora::tasks::TaskView;
use marketplace_api::agora::{LoginRequest, SignupRequest};

/// A hidden field carrying a fresh idempotency key: the form sent twice (a double click,
/// a resend after a dropped answer) acts once.
pub(super) fn once() -> Markup {
    let key = crate::crypto::random_hex(16).unwrap_or_default();
    html! { input type="hidden" name="idempotency_key" value=(key); }
}

/// The idempotency key a form carries ([`once`]), if it is one this board made.
pub(super) fn sent_key(sent: &Sent) -> IdempotencyKey {
    let key = sent
        .get("idempotency_key")
        .filter(|k| k.len() <= 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|k| format!("web-{k}"));
    IdempotencyKey(key)
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

/// The sign-up or log-in page, the form drawn as `filled`.
fn account_page(signup: bool, viewer: &Viewer, filled: Filled<'_>) -> Html {
    let (title, action) = if signup {
        ("Sign up", "/signup")
    } else {
        ("Log in", "/login")
    };
    let body = html! {
        h1 { (title) }
        (filled.summary())
        form method="post" action=(action) {
            (filled.input("email", "Email", "email", None))
            (filled.input("password", "Password", "password", Some("At least 8 characters.")))
            @if signup {
                (filled.input("alias", "Display name", "text", Some("1 to 16 characters, shown on your posts.")))
            }
            button type="submit" { (title) }
        }
        @if signup {
            p { "Signed up already? " a href="/login" { "Log in" } "." }
        } @else {
            p { "New here? " a href="/signup" { "Sign up" } "." }
        }
    };
    page(title, viewer, &body)
}

type Html = axum::response::Html<String>;

/// `GET /signup`.
pub(super) async fn signup_form(viewer: Viewer) -> Html {
    account_page(true, &viewer, Filled::default())
}

/// `GET /login`.
pub(super) async fn login_form(viewer: Viewer) -> Html {
    account_page(false, &viewer, Filled::default())
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
    let sent = Sent::parse(&body);
    let request = SignupRequest {
        email: sent.get("email").unwrap_or_default().to_owned(),
        password: sent.raw("password").unwrap_or_default().to_owned(),
        alias: sent.get("alias").unwrap_or_default().to_owned(),
    };
    match agora::signup(State(app.clone()), ProofOfWork, ApiJson(request)).await {
        Ok((_, axum::Json(session))) => signed_in(&app, &session.identity_hash).await,
        Err(e) => {
            let mut problem = Problem::of(&e);
            if e.code() == "email_taken" {
                problem.field = Some("email".to_owned());
            }
            let page = account_page(true, &viewer, Filled::again(&sent, Some(&problem)));
            (problem.status, page).into_response()
        }
    }
}

/// `POST /login`.
pub(super) async fn login<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    peer: crate::rate_limits::PeerIp,
    body: Bytes,
) -> Response {
    let sent = Sent::parse(&body);
    let request = LoginRequest {
        email: sent.get("email").unwrap_or_default().to_owned(),
        password: sent.raw("password").unwrap_or_default().to_owned(),
    };
    match agora::login(State(app.clone()), peer, ApiJson(request)).await {
        Ok(axum::Json(session)) => signed_in(&app, &session.identity_hash).await,
        Err(e) => {
            let problem = Problem::of(&e);
            let page = account_page(false, &viewer, Filled::again(&sent, Some(&problem)));
            (problem.status, page).into_response()
        }
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

/// The post-a-task page, the form drawn as `filled`.
fn post_page(viewer: &Viewer, filled: Filled<'_>) -> Html {
    let f = filled;
    let body = html! {
        h1 { "Post a task" }
        (f.summary())
        form method="post" action="/post" {
            (once())
            (f.textarea("text", "What do you need done?", 6, Some("Agents and people read this to decide; be specific."), true))
            (f.input("title", "Title (optional)", "text", Some("At most 80 characters; the text's start otherwise.")))
            (f.input("bounty", "Bounty, credits", "text", Some("Held in escrow from your available credits until you accept, cancel or the task expires; up to 6 decimal places.")))
            (f.input("skill", "Skill (optional)", "text", Some("e.g. writing; agents with this skill hear of it.")))
            (f.input("capabilities", "Capabilities (optional)", "text", Some("Comma-separated, e.g. research, translation.")))
            (f.checkbox("require_review", "Always let me review the delivery"))
            (f.checkbox("bidding", "Take bids, and award the task to one (instead of the first claim)"))
            (f.checkbox("private", "Keep the result between me and the worker"))
            details open[f.problem.is_some_and(|p| p.field.as_deref().is_some_and(|n| !BASIC_POST_FIELDS.contains(&n)))] {
                summary { "More options" }
                (f.checkbox("auto_accept", "Accept any delivery at once (pays without my review)"))
                (f.input("expires_in", "Open for, seconds (optional)", "number", Some("Default 7 days (604800). Unclaimed by then, the task expires and the bounty comes back.")))
                (f.input("claim_ttl", "Claim lease, seconds (optional)", "number", Some("Default 300: how long a claim holds before the task is claimable again; the worker may extend it.")))
                (f.input("max_turnaround_s", "Turnaround, seconds (optional)", "number", Some("A delivery later than this after the claim counts as late.")))
                (f.input("min_reputation", "Lowest reputation to claim (optional)", "text", Some("A score from 0 to 100.")))
                (f.input("assign_to", "Only for this identity (optional)", "text", Some("An identity hash (64 hex digits): no one else may claim.")))
                (f.input("contract", "Under contract (optional)", "text", Some("An active contract's id: its agent claims the task at the agreed price.")))
                (f.input("depends_on", "After these tasks (optional)", "text", Some("Comma-separated task ids that must complete first.")))
                (f.input("topic", "Board topic (optional)", "text", None))
                (f.checkbox("recurring", "Post it again each time it is accepted"))
                fieldset {
                    legend { "Raise the bounty while no one claims it (optional)" }
                    (f.input("escalation_rate", "Credits per step", "text", None))
                    (f.input("escalation_interval_hours", "Hours between steps", "number", None))
                    (f.input("escalation_cap", "Never above, credits", "text", None))
                }
                fieldset {
                    legend { "Auto-acceptance gate (optional)" }
                    (f.input("min_auto_accept_accepted", "Accepted deliveries an agent needs", "number", Some("Default 3.")))
                    (f.input("min_auto_accept_rate", "Accept rate an agent needs", "text", Some("From 0 to 1; default 0.6.")))
                }
                (f.textarea("result_schema", "Result schema (optional)", 3, Some("A JSON Schema the delivery's meta.output must satisfy."), false))
                fieldset {
                    legend { "Follow-up task when this one completes (optional)" }
                    (f.textarea("next_text", "Its text", 2, Some("{{result}} becomes the delivered text."), false))
                    (f.input("next_bounty", "Its bounty, credits", "text", None))
                }
            }
            button type="submit" { "Post" }
        }
    };
    page("Post a task", viewer, &body)
}

/// The post form's fields shown without opening "More options".
const BASIC_POST_FIELDS: [&str; 8] = [
    "text",
    "title",
    "bounty",
    "skill",
    "capabilities",
    "require_review",
    "bidding",
    "private",
];

/// `GET /post`: the form, for a signed-in viewer; otherwise to the log-in page.
pub(super) async fn post_form(viewer: Viewer) -> Response {
    if viewer.identity.is_none() {
        return see_other("/login", None);
    }
    post_page(&viewer, Filled::default()).into_response()
}

/// The task a post form describes, as `POST /api/v1/tasks` takes it; a problem in a field
/// that must be a whole number.
fn task_of(sent: &Sent) -> Result<Map<String, Value>, Problem> {
    // Amounts checked here, so a mistyped one is refused beside its field; sent as typed.
    for name in [
        "bounty",
        "min_reputation",
        "min_auto_accept_rate",
        "escalation_rate",
        "escalation_cap",
        "next_bounty",
    ] {
        sent.amount(name)?;
    }
    let mut task = Map::new();
    task.insert("text".into(), sent.get("text").unwrap_or_default().into());
    // Amounts as typed: the API reads an exact decimal from a string where a number could
    // not carry it.
    task.insert("bounty".into(), sent.get("bounty").unwrap_or("0").into());
    for name in [
        "title",
        "skill",
        "topic",
        "assign_to",
        "contract",
        "min_reputation",
        "min_auto_accept_rate",
    ] {
        if let Some(value) = sent.get(name) {
            task.insert(name.into(), value.into());
        }
    }
    for name in [
        "expires_in",
        "claim_ttl",
        "max_turnaround_s",
        "min_auto_accept_accepted",
    ] {
        if let Some(value) = sent.whole::<u64>(name)? {
            task.insert(name.into(), value.into());
        }
    }
    let capabilities = sent.list("capabilities");
    if !capabilities.is_empty() {
        task.insert("required_capabilities".into(), capabilities.into());
    }
    let depends_on = sent.list("depends_on");
    if !depends_on.is_empty() {
        task.insert("depends_on".into(), depends_on.into());
    }
    for name in ["require_review", "bidding", "auto_accept", "recurring"] {
        task.insert(name.into(), sent.ticked(name).into());
    }
    if sent.ticked("private") {
        task.insert("delivery".into(), "private".into());
    }
    let rate = sent.get("escalation_rate");
    let hours = sent.whole::<u32>("escalation_interval_hours")?;
    let cap = sent.get("escalation_cap");
    if rate.is_some() || hours.is_some() || cap.is_some() {
        task.insert(
            "bounty_escalation".into(),
            json!({"rate": rate.unwrap_or("0"), "interval_hours": hours.unwrap_or(0), "cap": cap.unwrap_or("0")}),
        );
    }
    if let Some(schema) = sent.get("result_schema") {
        let schema: Value = serde_json::from_str(schema).map_err(|e| {
            Problem::in_field(
                StatusCode::BAD_REQUEST,
                "result_schema",
                format!("Not JSON: {e}."),
            )
        })?;
        task.insert("result_schema".into(), schema);
    }
    if let Some(text) = sent.get("next_text") {
        task.insert(
            "chain_next".into(),
            json!({"text": text, "bounty": sent.get("next_bounty").unwrap_or("0")}),
        );
    }
    Ok(task)
}

/// The form's names for the API's fields, where they differ.
const POST_FIELD_NAMES: [(&str, &str); 5] = [
    ("required_capabilities", "capabilities"),
    ("chain_next", "next_text"),
    ("bounty_escalation", "escalation_rate"),
    ("claim_ttl_secs", "claim_ttl"),
    ("expires_in_secs", "expires_in"),
];

/// `POST /post`: posts the task (as `POST /api/v1/tasks`) and shows it.
pub(super) async fn post<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    body: Bytes,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return see_other("/login", None);
    };
    let sent = Sent::parse(&body);
    let posted = match task_of(&sent) {
        Ok(task) => {
            crate::agora::tasks::post_task(State(app), caller, sent_key(&sent), ApiJson(task))
                .await
                .map_err(|e| Problem::of(&e).renamed(&POST_FIELD_NAMES))
        }
        Err(problem) => Err(problem),
    };
    match posted {
        Ok((_, axum::Json(task))) => see_other(&format!("/tasks/{}", task.id), None),
        Err(problem) => {
            let page = post_page(&viewer, Filled::again(&sent, Some(&problem)));
            (problem.status, page).into_response()
        }
    }
}

/// A form sending `action` with one required text (`text`), in a text area of `rows` rows
/// labelled `label`, drawn as `filled`.
fn text_form(filled: Filled<'_>, action: &str, label: &str, rows: u8, button: &str) -> Markup {
    let mine = filled.sent.is_some_and(|s| s.get("action") == Some(action));
    let filled = if mine { filled } else { Filled::default() };
    html! {
        form method="post" {
            (once())
            input type="hidden" name="action" value=(action);
            (filled.textarea(action, label, rows, None, true))
            button type="submit" { (button) }
        }
    }
}

/// The actions `viewer` may take on `task`, as forms; the last one sent drawn as `filled`.
pub(super) fn actions(task: &TaskView, viewer: &Viewer, filled: Filled<'_>) -> Markup {
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
            form.inline method="post" { (once()) input type="hidden" name="action" value=(action); button type="submit" { (label) } }
        }
    };
    html! {
        section.actions aria-labelledby="actions-heading" {
            h2 #actions-heading { "What you can do" }
            (filled.summary())
            @match (mine, task.status.as_str()) {
                (true, "open") => { (button("cancel", "Cancel the task (refunds the bounty)")) }
                (true, "delivered") => {
                    form method="post" {
                        (once())
                        input type="hidden" name="action" value="accept";
                        p.field {
                            label for="rating" { "Rating (optional)" }
                            select id="rating" name="rating" {
                                option value="" { "none" }
                                @for r in (1..=5).rev() { option value=(r) { (r) " of 5" } }
                            }
                        }
                        button type="submit" { "Accept and pay" }
                    }
                    form method="post" {
                        (once())
                        input type="hidden" name="action" value="reject";
                        p.field {
                            label for="category" { "Why not" }
                            select id="category" name="category" {
                                @for c in ["quality", "format", "wrong_interpretation", "too_slow", "incomplete", "other"] {
                                    option value=(c) { (c.replace('_', " ")) }
                                }
                            }
                        }
                        (filled.textarea("feedback", "Feedback for the worker", 3, Some("The worker sees this and may deliver again."), false))
                        button type="submit" { "Reject" }
                    }
                }
                (true, _) => { p { "Waiting for the work." } }
                (false, "open") if !task.bidding => { (button("claim", "Claim this task")) }
                (false, "claimed") if claimant => {
                    form method="post" enctype="multipart/form-data"
                        action={ "/tasks/" (task.id) "/deliver?idempotency_key=" (crate::crypto::random_hex(16).unwrap_or_default()) } {
                        (filled.textarea("text", "Your result", 6, None, false))
                        p.field {
                            label for="file" { "A file with it (optional)" }
                            input id="file" name="file" type="file" aria-describedby="file-help";
                            small id="file-help" { "Stored with the delivery and linked, never shown inline." }
                        }
                        button type="submit" { "Deliver" }
                    }
                    (button("extend", "Extend my claim"))
                }
                (false, "claimed") if queued => { (button("leave_queue", "Leave the queue")) }
                (false, "claimed") => { (button("queue", "Join the queue")) }
                _ => { p { "Nothing to do here now." } }
            }
            @if task.bidding && !mine && task.status == "open" {
                form method="post" {
                    (once())
                    input type="hidden" name="action" value="bid";
                    (filled.input("offered_price", "Your price, credits", "text", None))
                    (filled.textarea("pitch", "Why you", 2, None, false))
                    button type="submit" { "Bid" }
                }
            }
            @if mine && task.status == "open" && !task.bids.is_empty() {
                @for bid in &task.bids {
                    form.inline method="post" {
                        (once())
                        input type="hidden" name="action" value="award";
                        input type="hidden" name="bid_id" value=(bid.id);
                        button type="submit" { "Award to " (bid.agent.get(..10).unwrap_or_default()) " at " (super::pages::credits(&bid.offered_price)) }
                    }
                }
            }
            @if !mine && task.status == "open" && task.claimed_by.is_none() {
                (text_form(filled, "question", "Ask the poster before claiming", 2, "Ask"))
            } @else {
                (text_form(filled, "message", "Message on this task", 2, "Send"))
            }
        }
    }
}

/// `POST /tasks/{id}`: the action the form names, through the skill endpoint's dispatch;
/// back to the task, or the task with the refusal beside the field that caused it.
pub(super) async fn act<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return see_other("/login", None);
    };
    let sent = Sent::parse(&body);
    let action = sent.get("action").unwrap_or_default();
    let text = |name: &str| sent.raw(name).unwrap_or_default().to_owned();
    let mut call = json!({ "action": action, "task_id": id });
    // The API's names of the form's fields.
    let mut names: Vec<(&str, &str)> = Vec::new();
    match action {
        // Without a file: the same as the deliver form's text alone.
        "deliver" => call["text"] = text("text").into(),
        "reject" => {
            call["category"] = sent.get("category").unwrap_or("other").into();
            call["text"] = text("feedback").into();
            names.push(("text", "feedback"));
        }
        "accept" => {
            if let Some(rating) = sent.get("rating").and_then(|r| r.parse::<u8>().ok()) {
                call["rating"] = rating.into();
            }
        }
        "message" | "question" => {
            call["action"] = "message".into();
            call["text"] = text(action).into();
            // A question before claiming is public: everyone considering the task reads it.
            call["pre_claim"] = (action == "question").into();
            names.push(("text", action));
        }
        "bid" => {
            call["text"] = text("pitch").into();
            // As typed: an exact decimal the API reads from a string.
            if let Err(problem) = sent.amount("offered_price") {
                return super::pages::render_task(app, &viewer, id, Some((&sent, problem))).await;
            }
            call["offered_price"] = sent.get("offered_price").unwrap_or("0").into();
            names.push(("text", "pitch"));
        }
        "award" => call["bid_id"] = sent.get("bid_id").unwrap_or_default().into(),
        "claim" | "queue" | "leave_queue" | "cancel" | "extend" => {}
        _ => {
            let problem = Problem::new(StatusCode::BAD_REQUEST, "That is not an action on a task.");
            return super::pages::render_task(app, &viewer, id, Some((&sent, problem))).await;
        }
    }
    let Value::Object(call) = call else {
        unreachable!("built as an object")
    };
    let result = crate::agora::skill::skill(
        State(app.clone()),
        Some(caller),
        sent_key(&sent),
        ApiJson(call),
    )
    .await;
    let refused = match result {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(Problem::answered(&response)),
        Err(e) => Some(Problem::of(&e)),
    };
    match refused {
        None => see_other(&format!("/tasks/{id}"), None),
        Some(problem) => {
            let problem = problem.renamed(&names);
            super::pages::render_task(app, &viewer, id, Some((&sent, problem))).await
        }
    }
}

/// `POST /tasks/{id}/deliver`: the claimant's result, with a file if one is attached
/// (`multipart/form-data`, as `POST /api/v1/tasks/{id}/deliver` takes it).
pub(super) async fn deliver<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return see_other("/login", None);
    };
    // The form's idempotency key rides in its action's query: the body is the file's.
    let query = Sent::parse(&Bytes::from(
        request.uri().query().unwrap_or_default().to_owned(),
    ));
    let delivered = crate::agora::artifacts::deliver(
        State(app.clone()),
        caller,
        sent_key(&query),
        Path(id.clone()),
        request,
    )
    .await;
    match delivered {
        Ok(_) => see_other(&format!("/tasks/{id}"), None),
        Err(e) => {
            let sent = Sent::default();
            super::pages::render_task(app, &viewer, id, Some((&sent, Problem::of(&e)))).await
        }
    }
}
