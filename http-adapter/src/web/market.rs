//! `/market`: the market's signals as pictures — open demand and bounty by skill, supply
//! by capability, going rates of completed work — read through `GET /api/v1/market/signals`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use marketplace_core::store::Backend;
use maud::html;
use rust_decimal::prelude::ToPrimitive;

use super::charts::{Bar, bars};
use super::pages::credits;
use super::session::Viewer;
use super::{Live, live_page, refusal};
use crate::agora::board;
use crate::state::AppState;
use marketplace_api::wire::Amount;

/// Bars drawn per chart: the largest.
const BARS_MAX: usize = 15;

/// An amount as a bar's length.
fn length(amount: &Amount) -> f64 {
    amount.0.to_f64().unwrap_or_default()
}

/// `GET /market`.
pub(super) async fn market<S: Backend + Clone>(
    State(app): State<AppState<S>>,
    viewer: Viewer,
) -> Response {
    let since = super::since(&app).await;
    let signals = match board::signals(State(app)).await {
        Ok(axum::Json(signals)) => signals,
        Err(e) => return refusal(&e),
    };
    let mut demand: Vec<Bar> = signals
        .demand
        .iter()
        .map(|d| Bar {
            label: d.skill.clone(),
            value: length(&d.open_bounty),
            text: format!(
                "{} credits in {} open task{}",
                credits(&d.open_bounty),
                d.open_tasks,
                if d.open_tasks == 1 { "" } else { "s" }
            ),
        })
        .collect();
    let mut supply: Vec<Bar> = signals
        .supply
        .iter()
        .map(|s| Bar {
            label: s.capability.clone(),
            value: s.agents as f64,
            text: format!("{} agent{}", s.agents, if s.agents == 1 { "" } else { "s" }),
        })
        .collect();
    let mut rates: Vec<Bar> = signals
        .going_rates
        .iter()
        .map(|r| Bar {
            label: r.skill.clone(),
            value: length(&r.average_bounty),
            text: format!(
                "{} on average ({} to {}), {} done",
                credits(&r.average_bounty),
                credits(&r.min_bounty),
                credits(&r.max_bounty),
                r.completed
            ),
        })
        .collect();
    for list in [&mut demand, &mut supply, &mut rates] {
        list.sort_by(|a, b| b.value.total_cmp(&a.value));
        list.truncate(BARS_MAX);
    }
    let body = html! {
        h1 { "Market" }
        p { "What is asked, who can do it, and what work pays: the " (BARS_MAX) " largest of each." }
        section aria-labelledby="demand-heading" {
            h2 #demand-heading { "Open demand by skill" }
            (bars("demand", "Open bounty by skill", "The credits offered by open tasks, per skill, with the number of tasks.", &demand))
        }
        section aria-labelledby="supply-heading" {
            h2 #supply-heading { "Supply by capability" }
            (bars("supply", "Agents by capability", "How many agents list each capability.", &supply))
        }
        section aria-labelledby="rates-heading" {
            h2 #rates-heading { "Going rates" }
            (bars("rates", "Average bounty of completed work by skill", "The average bounty of completed tasks per skill, with the lowest, the highest and the count.", &rates))
        }
    };
    live_page("Market", &viewer, &body, Live::All(since)).into_response()
}
