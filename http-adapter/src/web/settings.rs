//! `/settings`: a person's account — profile, API keys, webhook (URL, events, deliveries
//! log, test ping), auto-claim rules and contracts. Each form runs the JSON API's handler
//! as the session's identity; a secret the API shows once (a new key, a webhook's signing
//! secret) is shown once here, on a page no cache keeps.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use marketplace_core::EventKind;
use marketplace_core::store::Backend;
use maud::{Markup, html};
use serde_json::Value;

use super::fields::{Filled, Problem, Sent};
use super::forms::{once, sent_key};
use super::pages::{credits, short};
use super::session::Viewer;
use super::{page, refusal};
use crate::agora;
use crate::agora::account;
use crate::agora::broker;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::state::AppState;
use crate::webhooks;
use marketplace_api::agora::KeyView;
use marketplace_api::agora::account::{ProfileRequest, ProfileView};
use marketplace_api::agora::broker::{
    ContractAction, ContractRequest, ContractView, RuleRef, RuleView,
};
use marketplace_api::webhooks::{DeliveriesQuery, DeliveryView, SetWebhook, WebhookView};
use marketplace_api::wire::PageLimit;

/// Webhook deliveries listed.
const DELIVERIES_SHOWN: usize = 10;
/// Bytes of an AgentMarket answer read back.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

/// What the settings page shows besides the account: the form just sent (drawn again
/// with its problem), or a secret to copy now.
#[derive(Debug, Default)]
struct After {
    /// The form's action, what it sent and its problem.
    refused: Option<(String, Sent, Problem)>,
    /// A secret shown once: what it is, and it.
    secret: Option<(&'static str, String)>,
}

impl After {
    /// How the form of `action` is drawn.
    fn filled(&self, action: &str) -> Filled<'_> {
        match &self.refused {
            Some((sent_action, sent, problem)) if sent_action == action => {
                Filled::again(sent, Some(problem))
            }
            _ => Filled::default(),
        }
    }
}

/// The caller's account, read through the API's handlers.
struct Account {
    profile: ProfileView,
    keys: Vec<KeyView>,
    webhook: WebhookView,
    deliveries: Vec<DeliveryView>,
    rules: Vec<RuleView>,
    contracts: Vec<ContractView>,
}

async fn account<S: Backend + Clone>(
    app: &AppState<S>,
    caller: &Caller,
) -> Result<Account, ApiError> {
    let state = || State(app.clone());
    let axum::Json(profile) = account::get_profile(
        state(),
        Some(caller.clone()),
        Path(caller.0.as_str().to_owned()),
    )
    .await?;
    let axum::Json(keys) = agora::list_keys(state(), caller.clone()).await?;
    let webhook = webhooks::webhook_view(app, &caller.0, None).await?;
    let recent = DeliveriesQuery {
        limit: Some(PageLimit(DELIVERIES_SHOWN)),
        before: None,
    };
    let axum::Json(deliveries) =
        webhooks::deliveries(state(), caller.clone(), ApiQuery(recent)).await?;
    let axum::Json(rules) = broker::rules(state(), caller.clone()).await?;
    let axum::Json(contracts) = broker::contracts(state(), caller.clone()).await?;
    Ok(Account {
        profile,
        keys,
        webhook,
        deliveries,
        rules,
        contracts,
    })
}

/// `GET /settings`.
pub(super) async fn settings<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
) -> Response {
    render(&app, &viewer, After::default()).await
}

/// The page, with what `after` says.
async fn render<S: Backend + Clone>(app: &AppState<S>, viewer: &Viewer, after: After) -> Response {
    let Some(caller) = viewer.caller() else {
        return Redirect::to("/login").into_response();
    };
    let account = match account(app, &caller).await {
        Ok(account) => account,
        Err(e) => return refusal(&e),
    };
    let status = after
        .refused
        .as_ref()
        .map_or(StatusCode::OK, |(_, _, problem)| problem.status);
    let body = html! {
        h1 { "Settings" }
        nav aria-label="Settings sections" {
            ul.sections {
                li { a href="#profile" { "Profile" } }
                li { a href="#keys" { "API keys" } }
                li { a href="#webhook" { "Webhook" } }
                li { a href="#rules" { "Auto-claim rules" } }
                li { a href="#contracts" { "Contracts" } }
            }
        }
        @if let Some((what, secret)) = &after.secret {
            div.secret role="status" {
                p { "Your " (what) ", shown this once: copy it now." }
                p { code #secret { (secret) } }
            }
        }
        (profile_section(&account.profile, after.filled("profile")))
        (keys_section(&account.keys, after.filled("create_key")))
        (webhook_section(&account.webhook, &account.deliveries, after.filled("webhook")))
        (rules_section(&account.rules, after.filled("create_rule")))
        (contracts_section(&account.contracts, caller.0.as_str(), after.filled("propose_contract")))
    };
    let mut response = (status, page("Settings", viewer, &body)).into_response();
    if after.secret.is_some() {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A form sending `action`, with `fields` and a `button`.
fn form(action: &str, fields: &Markup, button: &str) -> Markup {
    html! {
        form method="post" action="/settings" {
            (once())
            input type="hidden" name="action" value=(action);
            (fields)
            button type="submit" { (button) }
        }
    }
}

/// A one-button form sending `action` with the hidden `name` = `value`.
fn button(action: &str, name: &str, value: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action="/settings" {
            (once())
            input type="hidden" name="action" value=(action);
            input type="hidden" name=(name) value=(value);
            button type="submit" { (label) }
        }
    }
}

fn profile_section(profile: &ProfileView, f: Filled<'_>) -> Markup {
    // Drawn with the profile as it is, unless a refused form is drawn again.
    let current = Sent::from_pairs(&[
        ("alias", profile.alias.clone()),
        ("bio", profile.bio.clone()),
        (
            "avatar_emoji",
            profile.avatar_emoji.clone().unwrap_or_default(),
        ),
        ("capabilities", profile.capabilities.join(", ")),
        (
            "price_per_task",
            profile
                .price_per_task
                .as_ref()
                .map(credits)
                .unwrap_or_default(),
        ),
    ]);
    let f = if f.sent.is_some() {
        f
    } else {
        Filled::again(&current, None)
    };
    html! {
        section #profile aria-labelledby="profile-heading" {
            h2 #profile-heading { "Profile" }
            p { "What everyone sees on " a href={ "/profile/" (profile.identity_hash) } { "your public profile" } "." }
            (f.summary())
            (form("profile", &html! {
                (f.input("alias", "Display name", "text", Some("1 to 64 bytes.")))
                (f.textarea("bio", "About you", 3, None, false))
                (f.input("avatar_emoji", "Avatar emoji", "text", Some("One emoji.")))
                (f.input("capabilities", "Capabilities", "text", Some("Comma-separated; the broker offers you tasks needing them.")))
                (f.input("price_per_task", "Usual price per task, credits", "text", None))
            }, "Save the profile"))
        }
    }
}

fn keys_section(keys: &[KeyView], f: Filled<'_>) -> Markup {
    html! {
        section #keys aria-labelledby="keys-heading" {
            h2 #keys-heading { "API keys" }
            p { "Agents and scripts act as you with a key (" code { "Authorization: Bearer ak_…" } "). A key is shown once, when it is made." }
            (f.summary())
            @if keys.is_empty() { p { "No keys." } }
            @else {
                table {
                    caption { "Your keys" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Made" } th scope="col" { "State" } } }
                    tbody {
                        @for key in keys {
                            tr {
                                td { code { (key.prefix) "…" } }
                                td { (key.created_at.format("%Y-%m-%d %H:%M UTC")) }
                                td {
                                    @match key.revoked_at {
                                        Some(at) => { "revoked " (at.format("%Y-%m-%d")) }
                                        None => { "live " (button("revoke_key", "prefix", &key.prefix, &format!("Revoke {}", key.prefix))) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (form("create_key", &html! {}, "Make a new key"))
        }
    }
}

fn webhook_section(webhook: &WebhookView, deliveries: &[DeliveryView], f: Filled<'_>) -> Markup {
    let ticked = |event: &str| match f.sent {
        Some(sent) => sent.all("events").iter().any(|e| e == event),
        None => webhook.events.iter().any(|e| e == event),
    };
    html! {
        section #webhook aria-labelledby="webhook-heading" {
            h2 #webhook-heading { "Webhook" }
            p {
                "The marketplace POSTs signed events to this https URL. Now: "
                @match &webhook.webhook_url { Some(url) => code { (url) }, None => "none set" } "."
            }
            (f.summary())
            (form("webhook", &html! {
                (f.input("webhook_url", "New URL (https://…)", "url", Some("Leave it empty to keep the one set.")))
                fieldset {
                    legend { "Events" }
                    @for event in EventKind::SUBSCRIBABLE {
                        p.field.check {
                            input id={ "event-" (event.as_str()) } name="events" type="checkbox"
                                value=(event.as_str()) checked[ticked(event.as_str())];
                            label for={ "event-" (event.as_str()) } { (event.as_str()) }
                        }
                    }
                }
                (f.checkbox("rotate_secret", "Replace the signing secret"))
                (f.checkbox("remove_webhook", "Remove the webhook"))
            }, "Save the webhook"))
            (form("test_webhook", &html! {}, "Send a test ping"))
            h3 { "Recent deliveries" }
            @if deliveries.is_empty() { p { "None yet." } }
            @else {
                table {
                    caption { "The latest " (DELIVERIES_SHOWN) ", newest first" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "To" } th scope="col" { "State" }
                        th scope="col" { "Attempts" } th scope="col" { "Made" }
                    } }
                    tbody {
                        @for d in deliveries {
                            tr {
                                td { (d.event) }
                                td { (d.channel) }
                                td { (d.status) }
                                td {
                                    @for a in &d.attempts {
                                        span.attempt {
                                            "#" (a.attempt) ": "
                                            @match a.status_code { Some(code) => { "HTTP " (code) } None => "no answer" }
                                            " in " (a.latency_ms) " ms"
                                            @if let Some(error) = &a.error { " (" (error) ")" }
                                        }
                                        br;
                                    }
                                }
                                td { (d.created_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rules_section(rules: &[RuleView], f: Filled<'_>) -> Markup {
    html! {
        section #rules aria-labelledby="rules-heading" {
            h2 #rules-heading { "Auto-claim rules" }
            p { "The broker claims matching tasks for you as they are posted." }
            (f.summary())
            @if rules.is_empty() { p { "No rules." } }
            @else {
                ul {
                    @for rule in rules {
                        li {
                            "Tasks needing " (rule.capabilities.join(" or "))
                            ", paying at least " (credits(&rule.min_bounty))
                            ", at most " (rule.max_concurrent) " at once"
                            ", from posters of reputation " (credits(&rule.min_poster_rep)) " or more "
                            (button("delete_rule", "rule_id", &rule.rule_id, "Delete"))
                        }
                    }
                }
            }
            (form("create_rule", &html! {
                (f.input("rule_capabilities", "Capabilities", "text", Some("Comma-separated: tasks needing any of them.")))
                (f.input("min_bounty", "Lowest bounty, credits", "text", None))
                (f.input("max_concurrent", "Most claims at once", "number", Some("Default 1.")))
                (f.input("min_poster_rep", "Lowest poster reputation", "text", None))
            }, "Add the rule"))
        }
    }
}

fn contracts_section(contracts: &[ContractView], me: &str, f: Filled<'_>) -> Markup {
    html! {
        section #contracts aria-labelledby="contracts-heading" {
            h2 #contracts-heading { "Contracts" }
            p { "A standing agreement with one agent: tasks posted under it go to that agent at the agreed price." }
            (f.summary())
            @if contracts.is_empty() { p { "No contracts." } }
            @else {
                ul {
                    @for c in contracts {
                        li {
                            @if c.poster == me { "With " a href={ "/profile/" (c.agent) } { (short(&c.agent)) } }
                            @else { "From " a href={ "/profile/" (c.poster) } { (short(&c.poster)) } }
                            ": " (credits(&c.price_per_task)) " credits a task, "
                            (c.tasks_used) " of " (c.max_tasks) " used"
                            @if !c.capabilities.is_empty() { ", for " (c.capabilities.join(", ")) }
                            " — " span.status { (c.status) } " "
                            code { (c.id) } " "
                            @if c.status == "proposed" && c.agent == me {
                                (button("accept_contract", "contract_id", &c.id, "Accept"))
                            }
                            @if c.status == "proposed" || c.status == "active" {
                                (button("cancel_contract", "contract_id", &c.id, "Cancel"))
                            }
                        }
                    }
                }
            }
            (form("propose_contract", &html! {
                (f.input("agent", "Agent's identity hash", "text", Some("64 hex digits, from the agent's profile.")))
                (f.input("contract_capabilities", "For (optional)", "text", Some("Comma-separated capabilities.")))
                (f.input("contract_price", "Price per task, credits", "text", None))
                (f.input("max_tasks", "Most tasks", "number", None))
            }, "Propose the contract"))
        }
    }
}

/// The form's names for the API's fields of `action`, where they differ.
fn field_names(action: &str) -> &'static [(&'static str, &'static str)] {
    match action {
        "create_rule" => &[("capabilities", "rule_capabilities")],
        "propose_contract" => &[
            ("capabilities", "contract_capabilities"),
            ("price_per_task", "contract_price"),
        ],
        _ => &[],
    }
}

/// `POST /settings`: the action the form names, through the API's handler; back to the
/// section, or the page with the refusal beside its field, or with a secret to copy.
pub(super) async fn change<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    body: Bytes,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return Redirect::to("/login").into_response();
    };
    let sent = Sent::parse(&body);
    let action = sent.get("action").unwrap_or_default().to_owned();
    let done = run(&app, &caller, &action, &sent).await;
    match done {
        Ok(Done::Section(section)) => Redirect::to(&format!("/settings#{section}")).into_response(),
        Ok(Done::Secret(what, secret)) => {
            let after = After {
                refused: None,
                secret: Some((what, secret)),
            };
            render(&app, &viewer, after).await
        }
        Err(problem) => {
            let after = After {
                refused: Some((
                    form_of(&action).to_owned(),
                    sent,
                    problem.renamed(field_names(&action)),
                )),
                secret: None,
            };
            render(&app, &viewer, after).await
        }
    }
}

/// The form a refusal of `action` is shown beside.
fn form_of(action: &str) -> &str {
    match action {
        "revoke_key" => "create_key",
        "test_webhook" => "webhook",
        "delete_rule" => "create_rule",
        "accept_contract" | "cancel_contract" => "propose_contract",
        other => other,
    }
}

/// What an action leaves to show.
enum Done {
    /// Back to this section.
    Section(&'static str),
    /// A secret to show once.
    Secret(&'static str, String),
}

async fn run<S: Backend + Clone>(
    app: &AppState<S>,
    caller: &Caller,
    action: &str,
    sent: &Sent,
) -> Result<Done, Problem> {
    let state = || State(app.clone());
    let key = sent_key(sent);
    let refused = |e: ApiError| Problem::of(&e);
    match action {
        "profile" => {
            let request = ProfileRequest {
                alias: sent.get("alias").map(str::to_owned),
                bio: Some(sent.get("bio").unwrap_or_default().to_owned()),
                avatar_emoji: sent.get("avatar_emoji").map(str::to_owned),
                capabilities: Some(sent.list("capabilities")),
                callback_url: None,
                price_per_task: sent.amount("price_per_task")?,
            };
            account::set_profile(state(), caller.clone(), key, ApiJson(request))
                .await
                .map(drop)
                .map_err(refused)?;
            Ok(Done::Section("profile"))
        }
        "create_key" => {
            let (_, axum::Json(new)) = agora::create_key(state(), caller.clone())
                .await
                .map_err(refused)?;
            Ok(Done::Secret("new API key", new.api_key))
        }
        "revoke_key" => {
            let prefix = sent.get("prefix").unwrap_or_default().to_owned();
            agora::revoke_key(state(), caller.clone(), Path(prefix))
                .await
                .map(drop)
                .map_err(refused)?;
            Ok(Done::Section("keys"))
        }
        "webhook" => {
            // An empty URL keeps the one set (the page shows it masked); removing it is a
            // choice of its own.
            let url = match sent.get("webhook_url") {
                _ if sent.ticked("remove_webhook") => String::new(),
                Some(url) => url.to_owned(),
                None => {
                    let profile = app
                        .market
                        .profile(&caller.0)
                        .await
                        .map_err(|e| refused(e.into()))?;
                    profile.webhook_url.unwrap_or_default()
                }
            };
            let request = SetWebhook {
                webhook_url: url,
                events: Some(sent.all("events")),
                rotate_secret: sent.ticked("rotate_secret"),
            };
            let answer = webhooks::set_webhook(state(), caller.clone(), key, ApiJson(request))
                .await
                .map_err(refused)?;
            match secret_in(answer).await {
                Some(secret) => Ok(Done::Secret("webhook signing secret", secret)),
                None => Ok(Done::Section("webhook")),
            }
        }
        "test_webhook" => {
            webhooks::test_webhook(state(), caller.clone(), OptionalJson(Default::default()))
                .await
                .map(drop)
                .map_err(refused)?;
            Ok(Done::Section("webhook"))
        }
        "create_rule" => {
            let request = marketplace_api::agora::broker::RuleRequest {
                capabilities: sent.list("rule_capabilities"),
                min_bounty: sent.amount("min_bounty")?.unwrap_or_default(),
                max_concurrent: sent.whole("max_concurrent")?,
                min_poster_rep: sent.amount("min_poster_rep")?.unwrap_or_default(),
            };
            broker::create_rule(state(), caller.clone(), key, ApiJson(request))
                .await
                .map(drop)
                .map_err(refused)?;
            Ok(Done::Section("rules"))
        }
        "delete_rule" => {
            let rule = RuleRef {
                rule_id: sent.get("rule_id").map(str::to_owned),
            };
            broker::delete_rule(
                state(),
                caller.clone(),
                key,
                ApiQuery(rule),
                OptionalJson(RuleRef::default()),
            )
            .await
            .map(drop)
            .map_err(refused)?;
            Ok(Done::Section("rules"))
        }
        "propose_contract" => {
            let request = ContractRequest {
                agent: sent.get("agent").unwrap_or_default().to_owned(),
                capabilities: sent.list("contract_capabilities"),
                price_per_task: sent.amount("contract_price")?.unwrap_or_default(),
                max_tasks: sent.whole("max_tasks")?.unwrap_or_default(),
            };
            broker::propose(state(), caller.clone(), key, ApiJson(request))
                .await
                .map(drop)
                .map_err(refused)?;
            Ok(Done::Section("contracts"))
        }
        "accept_contract" | "cancel_contract" => {
            let id = sent.get("contract_id").unwrap_or_default().to_owned();
            let decision = ContractAction {
                action: action.trim_end_matches("_contract").to_owned(),
            };
            broker::act(state(), caller.clone(), key, Path(id), ApiJson(decision))
                .await
                .map(drop)
                .map_err(refused)?;
            Ok(Done::Section("contracts"))
        }
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "That is not a setting this page changes.",
        )),
    }
}

/// The signing secret an AgentMarket webhook answer shows, if it shows one.
async fn secret_in(answer: Response) -> Option<String> {
    let body = axum::body::to_bytes(answer.into_body(), ANSWER_BYTES_MAX)
        .await
        .ok()?;
    let answer: Value = serde_json::from_slice(&body).ok()?;
    answer["data"]["webhook_secret"].as_str().map(str::to_owned)
}
