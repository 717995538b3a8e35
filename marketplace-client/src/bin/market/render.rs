//! Answers as people read them — a table for a list, `field: value` lines for one record —
//! or, with `--json`, exactly as the marketplace sent them.

use std::io::Write;

use comfy_table::presets::NOTHING;
use comfy_table::{Cell, Table};
use serde::Serialize;
use serde_json::Value;

/// The longest text shown in a table cell, characters.
const CELL_CHARS_MAX: usize = 48;

/// How answers are printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
}

/// The fields that name a record, in the order `--quiet` looks for them.
const ID_FIELDS: &[&str] = &["id", "rule_id", "prefix", "hash", "identity_hash"];

impl Output {
    /// One record: `field: value` lines (absent and empty fields left out).
    pub(crate) fn record<T: Serialize>(&self, answer: &T) -> std::io::Result<()> {
        let value = serde_json::to_value(answer).unwrap_or(Value::Null);
        let mut out = std::io::stdout().lock();
        if self.json {
            return writeln!(out, "{}", pretty(&value));
        }
        if self.quiet {
            let id = ID_FIELDS
                .iter()
                .find_map(|name| value.get(*name))
                .unwrap_or(&value);
            return writeln!(out, "{}", text(id));
        }
        match &value {
            Value::Object(fields) => {
                let width = fields.keys().map(String::len).max().unwrap_or(0);
                for (name, field) in fields {
                    if is_empty(field) {
                        continue;
                    }
                    writeln!(out, "{name:width$}  {}", text(field))?;
                }
                Ok(())
            }
            other => writeln!(out, "{}", text(other)),
        }
    }

    /// A list: a table of `columns` (a nested field as `a.b`).
    pub(crate) fn list<T: Serialize>(&self, rows: &[T], columns: &[&str]) -> std::io::Result<()> {
        let values: Vec<Value> = rows
            .iter()
            .map(|row| serde_json::to_value(row).unwrap_or(Value::Null))
            .collect();
        let mut out = std::io::stdout().lock();
        if self.json {
            return writeln!(out, "{}", pretty(&Value::Array(values)));
        }
        if self.quiet {
            for value in &values {
                let id = ID_FIELDS
                    .iter()
                    .find_map(|name| value.get(*name))
                    .unwrap_or(value);
                writeln!(out, "{}", text(id))?;
            }
            return Ok(());
        }
        if values.is_empty() {
            return writeln!(out, "(none)");
        }
        let mut table = Table::new();
        table.load_style(NOTHING);
        table.set_header(columns.iter().map(|c| Cell::new(c.to_uppercase())));
        for value in &values {
            table.add_row(columns.iter().map(|column| {
                let field = column
                    .split('.')
                    .try_fold(value, |v, part| v.get(part))
                    .unwrap_or(&Value::Null);
                Cell::new(shorten(&text(field)))
            }));
        }
        writeln!(out, "{table}")
    }

    /// A line for people; nothing with `--json` or `--quiet`.
    pub(crate) fn note(&self, line: &str) -> std::io::Result<()> {
        if self.json || self.quiet {
            return Ok(());
        }
        writeln!(std::io::stdout().lock(), "{line}")
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

/// A value as one line of text: strings bare, the rest as compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.replace(['\n', '\r'], " "),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= CELL_CHARS_MAX {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(CELL_CHARS_MAX - 1).collect();
    short.push('…');
    short
}
