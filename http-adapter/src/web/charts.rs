//! Charts drawn on the server as SVG, from the same templates as the pages: no chart
//! library, no script. Each is readable without colour: every bar carries its value as
//! text, two lines differ in dash and marker shape as well as colour and are labelled at
//! their ends, and every chart has a text title and description for screen readers.

// Drawing, not money: lengths and positions are floating point; amounts reach here only
// to be drawn, after the exact figures are written as text.
#![allow(clippy::float_arithmetic)]

use maud::{Markup, html};

/// Width of every chart, in SVG units (it scales to the page).
const WIDTH: f64 = 640.0;
/// Height of a bar's row.
const ROW: f64 = 26.0;
/// Width of the labels' column.
const LABELS: f64 = 170.0;
/// Room right of the longest bar for its value.
const VALUE_ROOM: f64 = 150.0;
/// Height of a line chart's plot.
const PLOT_HEIGHT: f64 = 220.0;
/// Margins of a line chart's plot: left (the y labels), right (the end labels), top,
/// bottom (the x labels).
const MARGINS: (f64, f64, f64, f64) = (70.0, 120.0, 12.0, 28.0);

/// One bar: its label, its length, and the text written beside it.
#[derive(Debug, Clone)]
pub(super) struct Bar {
    pub(super) label: String,
    pub(super) value: f64,
    pub(super) text: String,
}

/// A horizontal bar chart titled `title`, described by `description`; `id` names it on
/// the page.
pub(super) fn bars(id: &str, title: &str, description: &str, bars: &[Bar]) -> Markup {
    let most = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let room = WIDTH - LABELS - VALUE_ROOM;
    let height = ROW * bars.len().max(1) as f64 + 4.0;
    html! {
        figure.chart {
            @if bars.is_empty() {
                figcaption { (title) }
                p { "Nothing to draw yet." }
            } @else {
                svg viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
                    aria-labelledby={ (id) "-title " (id) "-desc" } xmlns="http://www.w3.org/2000/svg" {
                    title id={ (id) "-title" } { (title) }
                    desc id={ (id) "-desc" } { (description) }
                    @for (i, bar) in bars.iter().enumerate() {
                        @let y = ROW * i as f64 + 2.0;
                        @let length = if most > 0.0 { (bar.value / most * room).max(1.0) } else { 1.0 };
                        text x=(LABELS - 8.0) y=(y + ROW * 0.65) text-anchor="end" { (clip(&bar.label, 24)) }
                        rect.bar x=(LABELS) y=(y + 3.0) width=(round(length)) height=(ROW - 8.0) {
                            title { (bar.label) ": " (bar.text) }
                        }
                        text x=(round(LABELS + length + 6.0)) y=(y + ROW * 0.65) { (bar.text) }
                    }
                    line.axis x1=(LABELS) y1="0" x2=(LABELS) y2=(height) {}
                }
                figcaption { (title) }
            }
        }
    }
}

/// One line of a line chart: its name and its points (seconds since the epoch, value).
#[derive(Debug, Clone)]
pub(super) struct Series {
    pub(super) name: String,
    pub(super) points: Vec<(i64, f64)>,
}

/// A line chart of up to two series (the second dashed, with square markers), titled
/// `title`, described by `description`, values in `unit`.
pub(super) fn lines(
    id: &str,
    title: &str,
    description: &str,
    unit: &str,
    series: &[Series],
) -> Markup {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let Some(first) = points().map(|p| p.0).min() else {
        return html! { figure.chart { figcaption { (title) } p { "Nothing to draw yet." } } };
    };
    let last = points().map(|p| p.0).max().unwrap_or(first);
    let low = points().map(|p| p.1).fold(0.0_f64, f64::min);
    let high = points().map(|p| p.1).fold(0.0_f64, f64::max);
    let (left, right, top, bottom) = MARGINS;
    let plot_width = WIDTH - left - right;
    let height = top + PLOT_HEIGHT + bottom;
    let x = |t: i64| {
        let span = (last - first).max(1) as f64;
        round(left + (t - first) as f64 / span * plot_width)
    };
    let y = |v: f64| {
        let span = if high > low { high - low } else { 1.0 };
        round(top + (high - v) / span * PLOT_HEIGHT)
    };
    let date = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
                aria-labelledby={ (id) "-title " (id) "-desc" } xmlns="http://www.w3.org/2000/svg" {
                title id={ (id) "-title" } { (title) }
                desc id={ (id) "-desc" } { (description) }
                line.axis x1=(left) y1=(top) x2=(left) y2=(top + PLOT_HEIGHT) {}
                line.axis x1=(left) y1=(y(0.0)) x2=(left + plot_width) y2=(y(0.0)) {}
                text x=(left - 6.0) y=(y(high) + 4.0) text-anchor="end" { (number(high)) " " (unit) }
                @if low < 0.0 {
                    text x=(left - 6.0) y=(y(low) + 4.0) text-anchor="end" { (number(low)) " " (unit) }
                }
                @if high > 0.0 && low < 0.0 {
                    text x=(left - 6.0) y=(y(0.0) + 4.0) text-anchor="end" { "0" }
                }
                text x=(left) y=(height - 6.0) { (date(first)) }
                @if last > first {
                    text x=(left + plot_width) y=(height - 6.0) text-anchor="end" { (date(last)) }
                }
                @for (i, s) in series.iter().enumerate() {
                    @let alt = i % 2 == 1;
                    @let path = s.points.iter().map(|&(t, v)| format!("{},{}", x(t), y(v))).collect::<Vec<_>>().join(" ");
                    polyline.line.alt[alt] points=(path) {}
                    @for &(t, v) in &s.points {
                        @if alt {
                            rect.point x=(x(t) - 3.0) y=(y(v) - 3.0) width="6" height="6" { title { (s.name) " " (date(t)) ": " (number(v)) } }
                        } @else {
                            circle.point cx=(x(t)) cy=(y(v)) r="3" { title { (s.name) " " (date(t)) ": " (number(v)) } }
                        }
                    }
                    @if let Some(&(t, v)) = s.points.last() {
                        text x=(x(t) + 8.0) y=(y(v) + 4.0 + if alt { 14.0 } else { 0.0 }) {
                            (s.name) ": " (number(v))
                        }
                    }
                }
            }
            figcaption {
                (title) ". "
                @for (i, s) in series.iter().enumerate() {
                    @if i % 2 == 1 { "Dashed line with squares: " } @else { "Solid line with circles: " }
                    (s.name) ". "
                }
            }
        }
    }
}

/// `value` with at most two decimals, no trailing zeros.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `value` to a tenth of a unit, enough for a drawing.
fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// `text` cut to `chars` characters, with an ellipsis when cut.
fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars - 1).collect();
    cut.push('…');
    cut
}
