//! A person's own pages: my work (`/me`), the wallet (`/wallet`), and anyone's public
//! profile with reputation (`/profile/{hash}`). Each reads through the JSON API's handlers.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use marketplace_core::store::Backend;
use maud::html;
use serde::Deserialize;

use rust_decimal::prelude::ToPrimitive;

use super::charts::{self, Series};
use super::pages::{credits, short, task_card};
use super::session::Viewer;
use super::{Live, live_page, page, refusal};
use crate::agora::account;
use crate::agora::tasks::open_work;
use crate::auth::Caller;
use crate::extract::ApiQuery;
use crate::state::AppState;
use marketplace_api::agora::account::{TransactionView, TransactionsQuery};
use marketplace_api::wire::{Amount, PageLimit};

/// Ledger lines shown per page of the wallet.
const WALLET_PAGE_LINES: usize = 25;

/// `GET /me`: the tasks I hold a claim on, my tasks waiting for my review, and what I
/// posted that is still open.
pub(super) async fn me<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
) -> Response {
    let Some(identity) = viewer.identity.clone() else {
        return Redirect::to("/login").into_response();
    };
    let since = super::since(&app).await;
    let work = match open_work(&app, &identity).await {
        Ok(work) => work,
        Err(e) => return refusal(&e),
    };
    let lists = [
        (
            "claimed",
            "Claimed by me: deliver before the lease lapses",
            &work.claimed,
        ),
        (
            "review",
            "Delivered to me: waiting for my review",
            &work.to_review,
        ),
        ("posted", "Posted by me and still open", &work.posted),
        (
            "queued",
            "Queued for: I claim next if the claim lapses",
            &work.queued,
        ),
        (
            "delivered",
            "Delivered by me: waiting for the poster's review",
            &work.delivered,
        ),
    ];
    let body = html! {
        h1 { "My work" }
        @for (id, heading, tasks) in lists {
            section aria-labelledby={ (id) "-heading" } {
                h2 id={ (id) "-heading" } { (heading) }
                @if tasks.is_empty() { p { "None." } }
                @else { ol.tasks { @for task in tasks.iter() { li { (task_card(task)) } } } }
            }
        }
    };
    live_page("My work", &viewer, &body, Live::All(since)).into_response()
}

/// Ledger lines the wallet's history chart draws: the latest.
const HISTORY_LINES: usize = marketplace_core::limits::PAGE_LIMIT_MAX;

/// The balance after each of `lines` (newest first, as the ledger lists them), worked back
/// from today's `balance`, and the earnings (payments received) summed over them; oldest
/// first.
fn history(balance: &Amount, lines: &[TransactionView]) -> [Series; 2] {
    let mut after = balance.0;
    let mut balances = Vec::with_capacity(lines.len() + 1);
    for line in lines {
        balances.push((
            line.created_at.timestamp(),
            after.to_f64().unwrap_or_default(),
        ));
        after -= line.amount.0;
    }
    if let Some(oldest) = lines.last() {
        balances.push((
            oldest.created_at.timestamp(),
            after.to_f64().unwrap_or_default(),
        ));
    }
    balances.reverse();
    let mut earned = rust_decimal::Decimal::ZERO;
    let earnings = lines
        .iter()
        .rev()
        .map(|line| {
            if line.tx_type == "release" && line.amount.0 > rust_decimal::Decimal::ZERO {
                earned += line.amount.0;
            }
            (
                line.created_at.timestamp(),
                earned.to_f64().unwrap_or_default(),
            )
        })
        .collect();
    [
        Series {
            name: "Balance".to_owned(),
            points: balances,
        },
        Series {
            name: "Earned".to_owned(),
            points: earnings,
        },
    ]
}

/// `GET /wallet` query: the ledger page after `before`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WalletQuery {
    /// Ledger lines before this `seq`.
    #[serde(default)]
    before: Option<u64>,
}

/// `GET /wallet`: balance, credit, escrow, earnings, and the ledger, newest first.
pub(super) async fn wallet<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    ApiQuery(query): ApiQuery<WalletQuery>,
) -> Response {
    let Some(caller) = viewer.caller() else {
        return Redirect::to("/login").into_response();
    };
    let since = super::since(&app).await;
    let balance = match account::balance(State(app.clone()), caller.clone()).await {
        Ok(axum::Json(balance)) => balance,
        Err(e) => return refusal(&e),
    };
    let lines = TransactionsQuery {
        limit: Some(PageLimit(WALLET_PAGE_LINES)),
        tx_type: None,
        before: query.before,
    };
    let ledger =
        match account::transactions(State(app.clone()), caller.clone(), ApiQuery(lines)).await {
            Ok(axum::Json(lines)) => lines,
            Err(e) => return refusal(&e),
        };
    let next = (ledger.len() == WALLET_PAGE_LINES)
        .then(|| ledger.last().map(|line| line.seq))
        .flatten();
    // The history drawn: the latest lines, whatever page of the ledger is listed.
    let recent = TransactionsQuery {
        limit: Some(PageLimit(HISTORY_LINES)),
        tx_type: None,
        before: None,
    };
    let recent = match account::transactions(State(app), caller.clone(), ApiQuery(recent)).await {
        Ok(axum::Json(lines)) => lines,
        Err(e) => return refusal(&e),
    };
    let history = history(&balance.balance, &recent);
    let body = html! {
        h1 { "Wallet" }
        dl.figures {
            dt { "Balance" } dd { (credits(&balance.balance)) " credits" }
            dt { "Available to spend" } dd { (credits(&balance.available)) " credits" }
            dt { "Held in escrow" } dd { (credits(&balance.escrowed)) " credits" }
            dt { "Credit limit" } dd { (credits(&balance.credit_limit)) " credits" }
            dt { "Earned" } dd { (credits(&balance.total_earned)) " credits" }
            dt { "Spent" } dd { (credits(&balance.total_spent)) " credits" }
            dt { "Fees paid" } dd { (credits(&balance.total_fees)) " credits" }
        }
        section aria-labelledby="history-heading" {
            h2 #history-heading { "Over time" }
            (charts::lines(
                "history",
                "Balance and earnings",
                "Your balance after each of your latest transactions, and what you have earned in them, in credits.",
                "credits",
                &history,
            ))
        }
        section aria-labelledby="ledger-heading" {
            h2 #ledger-heading { "Transactions" }
            @if ledger.is_empty() { p { "None yet." } }
            @else {
                table {
                    caption { "Newest first; amounts in credits" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Balance change" } th scope="col" { "Escrow change" } th scope="col" { "Task" } } }
                    tbody {
                        @for line in &ledger {
                            tr {
                                td { (line.created_at.format("%Y-%m-%d %H:%M")) }
                                td { (line.tx_type) @if !line.memo.is_empty() { " — " (line.memo) } }
                                td.amount { (credits(&line.amount)) }
                                td.amount { (credits(&line.escrow)) }
                                td { @if let Some(task) = &line.task_id { a href={ "/tasks/" (task) } { (short(task)) } } }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = next {
                p { a rel="next" href={ "/wallet?before=" (before) } { "Older transactions" } }
            }
        }
    };
    live_page("Wallet", &viewer, &body, Live::All(since)).into_response()
}

/// `GET /profile/{hash}`: an identity's public profile and reputation.
pub(super) async fn profile<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
    Path(hash): Path<String>,
) -> Response {
    let caller: Option<Caller> = viewer.caller();
    let profile = match account::get_profile(State(app.clone()), caller, Path(hash.clone())).await {
        Ok(axum::Json(profile)) => profile,
        Err(e) => return refusal(&e),
    };
    let reputation = match account::reputation(State(app), Path(hash)).await {
        Ok(axum::Json(reputation)) => reputation,
        Err(e) => return refusal(&e),
    };
    let body = html! {
        h1 {
            @if let Some(emoji) = &profile.avatar_emoji { span aria-hidden="true" { (emoji) } " " }
            (profile.alias)
        }
        @if !profile.bio.is_empty() { p.text { (profile.bio) } }
        dl {
            dt { "Identity" } dd { code { (profile.identity_hash) } }
            @if !profile.capabilities.is_empty() {
                dt { "Capabilities" } dd { (profile.capabilities.join(", ")) }
            }
        }
        section aria-labelledby="reputation-heading" {
            h2 #reputation-heading { "Reputation" }
            dl {
                dt { "Score" } dd { (credits(&reputation.score)) }
                dt { "Decay" } dd { (credits(&reputation.decay)) }
                dt { "Accepted deliveries" } dd { (reputation.accepted) " of " (reputation.delivered) }
                dt { "Accept rate" } dd { (credits(&reputation.accept_rate)) }
                dt { "Average rating" }
                dd { @match &reputation.average_rating { Some(r) => { (credits(r)) " of 5" } None => "none yet" } }
                dt { "Claims" } dd { (reputation.claims) }
                dt { "Answers" } dd { (reputation.answers) }
            }
        }
    };
    page(&profile.alias, &viewer, &body).into_response()
}
