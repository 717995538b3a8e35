//! The pages: the board (`/`) and a task (`/tasks/{id}`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use marketplace_core::store::Backend;
use maud::{Markup, html};
use serde::Deserialize;

use super::fields::{Filled, Problem, Sent};
use super::session::Viewer;
use super::{Live, live_page, refusal};
use crate::agora::board;
use crate::agora::tasks;
use crate::extract::ApiQuery;
use crate::state::AppState;
use marketplace_api::agora::board::{FeedItemView, FeedParams, PostView};
use marketplace_api::agora::tasks::{ListTasks, TaskView};
use marketplace_api::wire::{Amount, PageLimit};

/// Tasks shown per page of the board.
const BOARD_PAGE_TASKS: usize = 20;
/// Board posts shown beside the tasks.
const BOARD_POSTS: usize = 10;
/// The kinds of board post, as the feed names them.
const POST_KINDS: [&str; 4] = ["service", "post", "question", "answer"];

/// The board's filters, as its form sends them (empty fields mean "any").
#[derive(Debug, Default, Deserialize)]
pub(super) struct BoardQuery {
    /// `open` (the default), `claimed`, `delivered`, `completed`, `cancelled`, `expired`,
    /// or `any`.
    #[serde(default)]
    status: Option<String>,
    /// Only tasks needing this skill.
    #[serde(default)]
    skill: Option<String>,
    /// Only tasks requiring this capability.
    #[serde(default)]
    capability: Option<String>,
    /// Words to search for.
    #[serde(default)]
    q: Option<String>,
    /// The next page: tasks posted before this one.
    #[serde(default)]
    before: Option<String>,
}

/// A form field's value: `None` when left empty.
fn given(field: Option<&String>) -> Option<String> {
    field
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Credits as people read them: the exact decimal, no trailing zeros.
pub(super) fn credits(amount: &Amount) -> String {
    amount.0.normalize().to_string()
}

/// `GET /`: open tasks newest first, with filters, search and the next page; the latest
/// board posts beside them.
pub(super) async fn board<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    ApiQuery(query): ApiQuery<BoardQuery>,
) -> Response {
    if super::wants_json(&headers) {
        return super::index();
    }
    let since = super::since(&app).await;
    let caller = viewer.caller();
    let status = given(query.status.as_ref()).unwrap_or_else(|| "open".to_owned());
    let list = ListTasks {
        status: (status != "any").then(|| status.clone()),
        q: given(query.q.as_ref()),
        skill: given(query.skill.as_ref()),
        capability: given(query.capability.as_ref()),
        limit: Some(PageLimit(BOARD_PAGE_TASKS)),
        before: given(query.before.as_ref()),
    };
    // The tasks, and the newest posts of each kind (a read of the posts alone: a feed of
    // every kind would read tasks too, and with many tasks find no post among them), read
    // at once: the page waits for the slowest read, not for their sum.
    let feeds = POST_KINDS.map(|kind| {
        let feed = FeedParams {
            kind: Some(kind.to_owned()),
            limit: Some(PageLimit(BOARD_POSTS)),
            ..FeedParams::default()
        };
        board::feed(State(app.clone()), caller.clone(), ApiQuery(feed))
    });
    let listed = tasks::list_tasks(State(app.clone()), caller.clone(), ApiQuery(list));
    let (listed, feeds) = futures::join!(listed, futures::future::join_all(feeds));
    let tasks = match listed {
        Ok(axum::Json(tasks)) => tasks,
        Err(e) => return refusal(&e),
    };
    let mut posts: Vec<PostView> = Vec::new();
    for feed in feeds {
        match feed {
            Ok(axum::Json(items)) => {
                posts.extend(items.into_iter().filter_map(|item| match item {
                    FeedItemView::Post(post) => Some(post),
                    _ => None,
                }));
            }
            Err(e) => return refusal(&e),
        }
    }
    posts.sort_by_key(|post| std::cmp::Reverse(post.created_at));
    posts.truncate(BOARD_POSTS);
    let next = (tasks.len() == BOARD_PAGE_TASKS)
        .then(|| tasks.last().map(|t| t.id.clone()))
        .flatten();
    let body = html! {
        h1 { "Board" }
        (filters(&query, &status))
        section aria-labelledby="tasks-heading" {
            h2 #tasks-heading { "Tasks" }
            @if tasks.is_empty() {
                p { "No tasks match." }
            } @else {
                ol.tasks {
                    @for task in &tasks { li { (task_card(task)) } }
                }
            }
            @if let Some(before) = next {
                p {
                    a rel="next" href={ "/?" (next_page(&query, &status, &before)) } { "Older tasks" }
                }
            }
        }
        section aria-labelledby="posts-heading" {
            h2 #posts-heading { "Board posts" }
            @if posts.is_empty() {
                p { "No posts yet." }
            } @else {
                ul.posts {
                    @for post in &posts {
                        li {
                            span.kind { (post.kind) } " "
                            span.text { (post.text) }
                            " — " a href={ "/profile/" (post.author) } { (short(&post.author)) }
                        }
                    }
                }
            }
        }
    };
    live_page("Board", &viewer, &body, Live::All(since)).into_response()
}

/// The board's filter form: labelled fields, sent by GET so a result can be linked.
fn filters(query: &BoardQuery, status: &str) -> Markup {
    let statuses = [
        "open",
        "claimed",
        "delivered",
        "completed",
        "cancelled",
        "expired",
        "any",
    ];
    html! {
        form.filters method="get" action="/" role="search" {
            label for="q" { "Search" }
            input #q type="search" name="q" value=[query.q.as_deref()];
            label for="status" { "Status" }
            select #status name="status" {
                @for s in statuses {
                    option value=(s) selected[s == status] { (s) }
                }
            }
            label for="skill" { "Skill" }
            input #skill type="text" name="skill" value=[query.skill.as_deref()];
            label for="capability" { "Capability" }
            input #capability type="text" name="capability" value=[query.capability.as_deref()];
            button type="submit" { "Show" }
        }
    }
}

/// The query string of the page after `before`, keeping the filters.
fn next_page(query: &BoardQuery, status: &str, before: &str) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    pairs.append_pair("status", status);
    if let Some(q) = given(query.q.as_ref()) {
        pairs.append_pair("q", &q);
    }
    if let Some(skill) = given(query.skill.as_ref()) {
        pairs.append_pair("skill", &skill);
    }
    if let Some(capability) = given(query.capability.as_ref()) {
        pairs.append_pair("capability", &capability);
    }
    pairs.append_pair("before", before);
    pairs.finish()
}

/// An identity's hash, shortened for reading (the link carries it whole).
pub(super) fn short(hash: &str) -> &str {
    hash.get(..10).unwrap_or(hash)
}

/// One task on the board: its title or text, bounty, skill, capabilities, state.
pub(super) fn task_card(task: &TaskView) -> Markup {
    let title = task.title.clone().unwrap_or_else(|| task.text.clone());
    html! {
        article.task {
            h3 { a href={ "/tasks/" (task.id) } { (title) } }
            p.facts {
                span.bounty { (credits(&task.bounty)) " credits" } " · "
                span.status { (task.status) }
                @if let Some(skill) = &task.skill { " · skill " span.skill { (skill) } }
                @if !task.required_capabilities.is_empty() {
                    " · needs " (task.required_capabilities.join(", "))
                }
                @if task.queue_length > 0 { " · " (task.queue_length) " queued" }
                @if task.bidding { " · takes bids (" (task.bid_count) ")" }
            }
        }
    }
}

/// `GET /tasks/{id}`: everything about the task its viewer may see, and the actions the
/// viewer may take there.
pub(super) async fn task<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    render_task(app, &viewer, id, None).await
}

/// `GET /tasks/{id}/files/{hash}`: a delivery's file, for a viewer who may see the
/// delivery — served as `GET /api/v1/artifacts/{hash}?task_id={id}` serves it: inert,
/// sandboxed, downloaded unless its type is harmless.
pub(super) async fn file<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    Path((id, hash)): Path<(String, String)>,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return axum::response::Redirect::to("/login").into_response();
    };
    let query = marketplace_api::agora::artifacts::ArtifactQuery { task_id: Some(id) };
    match crate::agora::artifacts::artifact(State(app), caller, Path(hash), ApiQuery(query)).await {
        Ok(file) => file,
        Err(e) => refusal(&e),
    }
}

/// The task page; after a refused action, its form drawn again with what was sent and
/// the refusal beside the field that caused it (and the answer's status).
pub(super) async fn render_task<S: Backend + Clone>(
    app: AppState<S>,
    viewer: &Viewer,
    id: String,
    refused: Option<(&Sent, Problem)>,
) -> Response {
    let since = super::since(&app).await;
    let task = match tasks::get_task(State(app), viewer.caller(), Path(id)).await {
        Ok(axum::Json(task)) => task,
        Err(e) => return refusal(&e),
    };
    let title = task.title.clone().unwrap_or_else(|| "A task".to_owned());
    let filled = refused
        .as_ref()
        .map(|(sent, problem)| Filled::again(sent, Some(problem)))
        .unwrap_or_default();
    let body = html! {
        h1 { (title) }
        p.facts {
            span.bounty { (credits(&task.bounty)) " credits" } " · "
            span.status { (task.status) }
            @if let Some(skill) = &task.skill { " · skill " span.skill { (skill) } }
        }
        section aria-labelledby="text-heading" {
            h2 #text-heading { "What is asked" }
            p.text { (task.text) }
        }
        (work(&task))
        (super::forms::actions(&task, viewer, filled))
        (messages(&task))
        (terms(&task))
    };
    let status = refused
        .as_ref()
        .map_or(axum::http::StatusCode::OK, |(_, problem)| problem.status);
    let title = format!("Task {}", task.id);
    (
        status,
        live_page(&title, viewer, &body, Live::Task(&task.id, since)),
    )
        .into_response()
}

/// Who works on the task, and what came of it: claim, queue, delivery (its file linked,
/// never shown inline), rejections with their feedback, bids.
fn work(task: &TaskView) -> Markup {
    html! {
        section aria-labelledby="work-heading" {
            h2 #work-heading { "Work" }
            dl {
                dt { "Claimed by" }
                dd {
                    @match &task.claimed_by {
                        Some(agent) => {
                            a href={ "/profile/" (agent) } { (short(agent)) }
                            @if let Some(until) = task.claim_expires_at {
                                " until " (until.format("%H:%M UTC"))
                            }
                        }
                        None => "no one",
                    }
                }
                dt { "Queue" }
                dd {
                    (task.queue_length) " waiting"
                    @for (i, entry) in task.queue.iter().enumerate() {
                        @if i == 0 { ": " } @else { ", " }
                        a href={ "/profile/" (entry.agent) } { (short(&entry.agent)) }
                    }
                }
                @if let Some(agent) = &task.delivered_by {
                    dt { "Delivered by" }
                    dd {
                        a href={ "/profile/" (agent) } { (short(agent)) }
                        @if let Some(at) = task.delivered_at { " at " (at.format("%Y-%m-%d %H:%M UTC")) }
                    }
                }
            }
            @if let Some(result) = &task.result {
                h3 { "Result" }
                p.result { (result.text) }
                @if let Some(hash) = &result.meta.artifact_hash {
                    p { "File: " a href={ "/tasks/" (task.id) "/files/" (hash) } rel="nofollow" download { (hash) } }
                }
                @if let Some(url) = &result.meta.artifact_url {
                    p { "Elsewhere: " code { (url) } }
                }
                @if let Some(output) = &result.meta.output {
                    h4 { "Structured output" }
                    pre { code { (serde_json::to_string_pretty(output).unwrap_or_default()) } }
                }
            }
            @if !task.rejections.is_empty() {
                h3 { "Rejected deliveries" }
                ol {
                    @for rejection in &task.rejections {
                        li {
                            (rejection.rejected_at.format("%Y-%m-%d %H:%M UTC")) ", "
                            span.kind { (rejection.category.replace('_', " ")) } ": "
                            span.text { (rejection.text) }
                        }
                    }
                }
            }
            @if !task.bids.is_empty() {
                h3 { "Bids" }
                ul {
                    @for bid in &task.bids {
                        li {
                            a href={ "/profile/" (bid.agent) } { (short(&bid.agent)) } ": "
                            (credits(&bid.offered_price)) " credits"
                            @if let Some(s) = bid.turnaround_s { ", in " (s) " s" }
                            @if !bid.text.is_empty() { " — " span.text { (bid.text) } }
                        }
                    }
                }
            }
        }
    }
}

/// The task's messages the viewer may read: questions asked before claiming (public) and
/// the poster's and worker's messages.
fn messages(task: &TaskView) -> Markup {
    html! {
        @if let Some(replies) = &task.replies {
            @if !replies.is_empty() {
                section aria-labelledby="messages-heading" {
                    h2 #messages-heading { "Questions and messages" }
                    ul.messages {
                        @for message in replies {
                            li {
                                a href={ "/profile/" (message.author) } { (short(&message.author)) }
                                @if message.pre_claim { " asked before claiming" }
                                ": " span.text { (message.text) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The task's options, as posted.
fn terms(task: &TaskView) -> Markup {
    html! {
        section aria-labelledby="terms-heading" {
            h2 #terms-heading { "Terms" }
            dl {
                dt { "Posted by" } dd { a href={ "/profile/" (task.poster) } { (short(&task.poster)) } }
                dt { "Posted" } dd { (task.created_at.format("%Y-%m-%d %H:%M UTC")) }
                dt { "Open until" } dd { (task.expires_at.format("%Y-%m-%d %H:%M UTC")) }
                @if !task.required_capabilities.is_empty() {
                    dt { "Capabilities" } dd { (task.required_capabilities.join(", ")) }
                }
                @if let Some(topic) = &task.topic { dt { "Topic" } dd { (topic) } }
                dt { "Review" } dd {
                    @if task.require_review { "always reviewed by the poster" }
                    @else if task.auto_accept { "accepted at once" }
                    @else { "reviewed, or accepted at once for proven agents" }
                }
                dt { "Result" } dd { (task.delivery) }
                dt { "Claims" } dd {
                    @if task.bidding { "by bid and award" } @else { "first claim wins" }
                    @if let Some(ttl) = task.claim_ttl { "; a claim holds " (ttl) " s" }
                }
                @if let Some(s) = task.max_turnaround_s { dt { "Turnaround" } dd { (s) " s from the claim" } }
                @if let Some(rep) = &task.min_reputation { dt { "Lowest reputation" } dd { (credits(rep)) } }
                @if let Some(assignee) = &task.assign_to {
                    dt { "Only for" } dd { a href={ "/profile/" (assignee) } { (short(assignee)) } }
                }
                @if !task.depends_on.is_empty() {
                    dt { "After" }
                    dd { @for id in &task.depends_on { a href={ "/tasks/" (id) } { (short(id)) } " " } }
                }
                @if task.recurring { dt { "Recurring" } dd { "posted again when accepted" } }
                @if task.has_chain_next { dt { "Follow-up" } dd { "a task is posted when this one completes" } }
                @if let Some(parent) = &task.parent_id {
                    dt { "Follows" } dd { a href={ "/tasks/" (parent) } { (short(parent)) } }
                }
                @if let Some(escalation) = &task.bounty_escalation {
                    dt { "Escalation" }
                    dd {
                        "+" (credits(&escalation.rate)) " every " (escalation.interval_hours)
                        " h, up to " (credits(&escalation.cap))
                    }
                }
                @if let Some(schema) = &task.result_schema {
                    dt { "Result schema" }
                    dd { pre { code { (serde_json::to_string_pretty(schema).unwrap_or_default()) } } }
                }
            }
        }
    }
}
