//! Form fields as people meet them: each with its label and help, the value sent last
//! kept when a form comes back refused, and the refusal shown beside the field that caused
//! it (and, with a link to that field, above the form).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::{sentence, sentence_for};
use crate::error::ApiError;
use marketplace_api::error::ErrorDetail;
use marketplace_api::wire::Amount;

/// A form's fields (`application/x-www-form-urlencoded`): each name's values in order.
#[derive(Debug, Default)]
pub(super) struct Sent(BTreeMap<String, Vec<String>>);

impl Sent {
    /// The fields of a form body.
    pub(super) fn parse(body: &Bytes) -> Self {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            fields
                .entry(name.into_owned())
                .or_default()
                .push(value.into_owned());
        }
        Self(fields)
    }

    /// Fields holding these values, as if sent: a form drawn with what is stored.
    pub(super) fn from_pairs(pairs: &[(&str, String)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), vec![value.clone()]))
                .collect(),
        )
    }

    /// A field's last value as sent (untrimmed), if it was sent.
    pub(super) fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.last()).map(String::as_str)
    }

    /// A field's trimmed value, `None` when missing or empty.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every non-empty value sent under `name` (checkboxes sharing a name).
    pub(super) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .into_iter()
            .flatten()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether a checkbox was ticked.
    pub(super) fn ticked(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// An amount of credits a field holds, if any, as the API reads it (exactly, from the
    /// text); a problem beside the field when it is none.
    pub(super) fn amount(&self, name: &str) -> Result<Option<Amount>, Problem> {
        self.get(name)
            .map(|v| {
                serde_json::from_value::<Amount>(serde_json::Value::String(v.to_owned())).map_err(
                    |_| {
                        Problem::in_field(
                            StatusCode::BAD_REQUEST,
                            name,
                            "Must be an amount of credits, e.g. 12.5.",
                        )
                    },
                )
            })
            .transpose()
    }

    /// A whole number a field holds, if any; a problem beside the field when it is none.
    pub(super) fn whole<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Problem> {
        self.get(name)
            .map(|v| {
                v.parse::<T>().map_err(|_| {
                    Problem::in_field(StatusCode::BAD_REQUEST, name, "Must be a whole number.")
                })
            })
            .transpose()
    }

    /// A comma-separated field as a list.
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A refusal as a page shows it: the status, the sentence, and the form field it
/// concerns when the API named one.
#[derive(Debug, Clone)]
pub(super) struct Problem {
    /// The API's status.
    pub(super) status: StatusCode,
    /// What a person reads.
    pub(super) sentence: String,
    /// The field, as the form names it.
    pub(super) field: Option<String>,
}

impl Problem {
    /// A problem in no field.
    pub(super) fn new(status: StatusCode, sentence: impl Into<String>) -> Self {
        Self {
            status,
            sentence: sentence.into(),
            field: None,
        }
    }

    /// The problem in field `field`.
    pub(super) fn in_field(status: StatusCode, field: &str, sentence: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(status, sentence)
        }
    }

    /// An API refusal.
    pub(super) fn of(error: &ApiError) -> Self {
        match error {
            ApiError::Engine(marketplace_core::Error::InvalidInput { field, reason }) => {
                Self::in_field(error.status(), field, as_sentence(reason))
            }
            _ => Self::new(error.status(), sentence(error)),
        }
    }

    /// The refusal an API answer carries (a handler that renders its own errors).
    pub(super) fn answered(response: &Response) -> Self {
        let status = response.status();
        let Some(detail) = response.extensions().get::<ErrorDetail>() else {
            return Self::new(status, "The marketplace refused.");
        };
        let field = (detail.code == "invalid_input")
            .then(|| detail.message.strip_prefix("invalid "))
            .flatten()
            .and_then(|rest| rest.split_once(": "));
        match field {
            Some((field, reason)) => Self::in_field(status, field, as_sentence(reason)),
            None => Self::new(status, sentence_for(&detail.code, &detail.message)),
        }
    }

    /// The same problem, its field renamed from the API's name to the form's (`from`,
    /// `to` pairs).
    pub(super) fn renamed(mut self, names: &[(&str, &str)]) -> Self {
        if let Some(field) = &self.field
            && let Some((_, to)) = names.iter().find(|(from, _)| from == field)
        {
            self.field = Some((*to).to_owned());
        }
        self
    }
}

/// `reason` as a sentence: capitalised, with a full stop.
fn as_sentence(reason: &str) -> String {
    let mut chars = reason.trim().chars();
    let mut text: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// How a form is drawn: the values sent last (kept, but never a password) and the problem
/// they met, shown beside its field.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Filled<'a> {
    /// What was sent.
    pub(super) sent: Option<&'a Sent>,
    /// What was wrong with it.
    pub(super) problem: Option<&'a Problem>,
}

impl<'a> Filled<'a> {
    /// A form drawn again after `problem`, with what was `sent`.
    pub(super) fn again(sent: &'a Sent, problem: Option<&'a Problem>) -> Self {
        Self {
            sent: Some(sent),
            problem,
        }
    }

    fn value(&self, name: &str) -> Option<&'a str> {
        self.sent.and_then(|s| s.raw(name))
    }

    fn error(&self, name: &str) -> Option<&'a str> {
        self.problem
            .filter(|p| p.field.as_deref() == Some(name))
            .map(|p| p.sentence.as_str())
    }

    /// The problem above the form: its sentence, and a link to its field.
    pub(super) fn summary(&self) -> Markup {
        html! {
            @if let Some(problem) = self.problem {
                div.error role="alert" {
                    p { (problem.sentence) }
                    @if let Some(field) = &problem.field {
                        p { a href={ "#" (field) } { "Go to the field" } }
                    }
                }
            }
        }
    }

    /// The label, the help and the error of field `name`, around `control`.
    fn around(&self, name: &str, label: &str, help: Option<&str>, control: &Markup) -> Markup {
        html! {
            p.field.invalid[self.error(name).is_some()] {
                label for=(name) { (label) }
                (control)
                @if let Some(help) = help { small id={ (name) "-help" } { (help) } }
                @if let Some(error) = self.error(name) {
                    strong.field-error id={ (name) "-error" } { (error) }
                }
            }
        }
    }

    /// The `aria-describedby` of field `name`: its help and its error.
    fn described(&self, name: &str, help: Option<&str>) -> Option<String> {
        let ids: Vec<String> = [
            help.map(|_| format!("{name}-help")),
            self.error(name).map(|_| format!("{name}-error")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }

    /// A labelled input of type `kind`.
    pub(super) fn input(&self, name: &str, label: &str, kind: &str, help: Option<&str>) -> Markup {
        let value = (kind != "password").then(|| self.value(name)).flatten();
        let control = html! {
            input id=(name) name=(name) type=(kind) value=[value]
                aria-invalid=[self.error(name).map(|_| "true")]
                aria-describedby=[self.described(name, help)];
        };
        self.around(name, label, help, &control)
    }

    /// A labelled text area of `rows` rows.
    pub(super) fn textarea(
        &self,
        name: &str,
        label: &str,
        rows: u8,
        help: Option<&str>,
        required: bool,
    ) -> Markup {
        let control = html! {
            textarea id=(name) name=(name) rows=(rows) required[required]
                aria-invalid=[self.error(name).map(|_| "true")]
                aria-describedby=[self.described(name, help)] {
                (self.value(name).unwrap_or_default())
            }
        };
        self.around(name, label, help, &control)
    }

    /// A labelled checkbox sending `true`.
    pub(super) fn checkbox(&self, name: &str, label: &str) -> Markup {
        let ticked = self.sent.is_some_and(|s| s.ticked(name));
        html! {
            p.field.check {
                input id=(name) name=(name) type="checkbox" value="true" checked[ticked];
                label for=(name) { (label) }
                @if let Some(error) = self.error(name) {
                    strong.field-error id={ (name) "-error" } { (error) }
                }
            }
        }
    }
}
