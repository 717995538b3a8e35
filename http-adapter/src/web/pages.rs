//! The pages: the board (`/`) and a task (`/tasks/{id}`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use marketplace_core::store::Backend;
use maud::{Markup, html};
use serde::Deserialize;

use super::session::Viewer;
use super::{page, refusal};
use crate::agora::board::{self, FeedItemView, FeedParams};
use crate::agora::tasks::{self, ListTasks, TaskView};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::wire::{Amount, PageLimit};

/// Tasks shown per page of the board.
const BOARD_PAGE_TASKS: usize = 20;
/// Board posts shown beside the tasks.
const BOARD_POSTS: usize = 10;

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
    let tasks = match tasks::list_tasks(State(app.clone()), caller.clone(), ApiQuery(list)).await {
        Ok(axum::Json(tasks)) => tasks,
        Err(e) => return refusal(&e),
    };
    let feed = FeedParams {
        limit: Some(PageLimit(BOARD_POSTS * 3)),
        ..FeedParams::default()
    };
    let posts: Vec<FeedItemView> = match board::feed(State(app), caller, ApiQuery(feed)).await {
        Ok(axum::Json(items)) => items
            .into_iter()
            .filter(|item| matches!(item, FeedItemView::Post(_)))
            .take(BOARD_POSTS)
            .collect(),
        Err(e) => return refusal(&e),
    };
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
                    @for item in &posts {
                        @if let FeedItemView::Post(post) = item {
                            li {
                                span.kind { (post.kind) } " "
                                span.text { (post.text) }
                                " — " a href={ "/profile/" (post.author) } { (short(&post.author)) }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Board", &viewer, &body).into_response()
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

/// The task page, with `problem` (an action's refusal, and its status) shown first.
pub(super) async fn render_task<S: Backend + Clone>(
    app: AppState<S>,
    viewer: &Viewer,
    id: String,
    problem: Option<(axum::http::StatusCode, String)>,
) -> Response {
    let task = match tasks::get_task(State(app), viewer.caller(), Path(id)).await {
        Ok(axum::Json(task)) => task,
        Err(e) => return refusal(&e),
    };
    let title = task.title.clone().unwrap_or_else(|| "A task".to_owned());
    let body = html! {
        h1 { (title) }
        @if let Some((_, sentence)) = &problem {
            p.error role="alert" { (sentence) }
        }
        p.facts {
            span.bounty { (credits(&task.bounty)) " credits" } " · "
            span.status { (task.status) }
        }
        (super::forms::actions(&task, viewer))
        section aria-labelledby="text-heading" {
            h2 #text-heading { "What is asked" }
            p.text { (task.text) }
        }
        section aria-labelledby="terms-heading" {
            h2 #terms-heading { "Terms" }
            dl {
                dt { "Posted by" } dd { a href={ "/profile/" (task.poster) } { (short(&task.poster)) } }
                dt { "Posted" } dd { (task.created_at.format("%Y-%m-%d %H:%M UTC")) }
                dt { "Open until" } dd { (task.expires_at.format("%Y-%m-%d %H:%M UTC")) }
                @if let Some(skill) = &task.skill { dt { "Skill" } dd { (skill) } }
                @if !task.required_capabilities.is_empty() {
                    dt { "Capabilities" } dd { (task.required_capabilities.join(", ")) }
                }
                dt { "Review" } dd {
                    @if task.auto_accept { "accepted at once" }
                    @else if task.require_review { "always reviewed by the poster" }
                    @else { "reviewed, or accepted at once for proven agents" }
                }
                dt { "Result" } dd { (task.delivery) }
                @if let Some(escalation) = &task.bounty_escalation {
                    dt { "Escalation" }
                    dd {
                        "+" (credits(&escalation.rate)) " every " (escalation.interval_hours)
                        " h, up to " (credits(&escalation.cap))
                    }
                }
            }
        }
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
                dt { "Queue" } dd { (task.queue_length) " waiting" }
                @if let Some(agent) = &task.delivered_by { dt { "Delivered by" } dd { (short(agent)) } }
            }
            @if let Some(result) = &task.result {
                h3 { "Result" }
                p.result { (result.text) }
            }
            @if !task.rejections.is_empty() {
                h3 { "Rejections" }
                ul {
                    @for rejection in &task.rejections {
                        li { span.kind { (rejection.category) } ": " (rejection.text) }
                    }
                }
            }
            @if !task.bids.is_empty() {
                h3 { "Bids" }
                ul {
                    @for bid in &task.bids {
                        li { (credits(&bid.offered_price)) " credits — " (bid.text) }
                    }
                }
            }
        }
        @if let Some(replies) = &task.replies {
            @if !replies.is_empty() {
                section aria-labelledby="messages-heading" {
                    h2 #messages-heading { "Messages" }
                    ul.messages {
                        @for message in replies {
                            li {
                                a href={ "/profile/" (message.author) } { (short(&message.author)) }
                                @if message.pre_claim { " (before claiming)" }
                                ": " (message.text)
                            }
                        }
                    }
                }
            }
        }
    };
    let status = problem.map_or(axum::http::StatusCode::OK, |(status, _)| status);
    (status, page(&format!("Task {}", task.id), viewer, &body)).into_response()
}
