//! `docs/API.md`, the request reference a new user reads instead of the OpenAPI JSON: every
//! operation with its parameters and request fields, rendered from the served document. The
//! committed page must be what the document renders today;
//! `UPDATE_API_REFERENCE=1 cargo test -p http-adapter --test api reference` writes it anew.

use std::fmt::Write as _;

use crate::common::TestServer;
use marketplace_core::Policy;
use serde_json::Value;

const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md");

/// A schema with its `$ref`s (or a `oneOf` of one and `null`, for an optional body)
/// followed into `components.schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = schema["oneOf"]
        .as_array()
        .filter(|all| all.len() == 2 && all.iter().any(|s| s["type"] == "null"))
        .and_then(|all| all.iter().find(|s| s["type"] != "null"))
        .unwrap_or(schema);
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// A field's type in a few words.
fn type_of(doc: &Value, schema: &Value) -> String {
    let schema = resolve(doc, schema);
    match &schema["type"] {
        Value::String(t) if t == "array" => format!("array of {}", type_of(doc, &schema["items"])),
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ if schema["properties"].is_object() => "object".to_owned(),
        _ => "any".to_owned(),
    }
}

/// A schema's fields, following `$ref` and `allOf`: name, schema, and whether required.
fn fields_of<'a>(doc: &'a Value, schema: &'a Value) -> Vec<(&'a str, &'a Value, bool)> {
    let schema = resolve(doc, schema);
    let mut all = Vec::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        all.extend(fields_of(doc, part));
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, field) in schema["properties"].as_object().into_iter().flatten() {
        all.push((name.as_str(), field, required.contains(&name.as_str())));
    }
    all
}

/// A body that takes one of several forms, told apart by a field with one fixed value
/// (the skill call's `action`): a row per form.
fn render_forms(page: &mut String, doc: &Value, media: &str, forms: &[Value]) {
    let mut rows = Vec::new();
    let mut tag = "";
    for form in forms {
        let fields = fields_of(doc, form);
        let Some((name, value)) = fields.iter().find_map(|(name, f, _)| {
            Some((
                *name,
                f["enum"].as_array().filter(|v| v.len() == 1)?[0].as_str()?,
            ))
        }) else {
            continue;
        };
        tag = name;
        let others: Vec<String> = fields
            .iter()
            .filter(|(n, _, _)| *n != name)
            .map(|(n, f, required)| {
                let optional = if *required { "" } else { ", optional" };
                format!("`{n}` ({}{optional})", type_of(doc, f))
            })
            .collect();
        rows.push(format!(
            "| `{value}` | {} | {} |",
            others.join(", "),
            cell(form["description"].as_str().unwrap_or_default())
        ));
    }
    let _ = writeln!(page, "Body (`{media}`), one of these forms by `{tag}`:\n");
    let _ = writeln!(page, "| `{tag}` | fields | |\n|---|---|---|");
    for row in rows {
        let _ = writeln!(page, "{row}");
    }
    page.push('\n');
}

/// One line of a table cell: no line breaks, no pipes.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn render(doc: &Value) -> String {
    let mut page = String::from(
        "# Request reference\n\n\
         Every operation of both dialects, with its parameters and the fields of its request \
         body, generated from the OpenAPI document the server serves at \
         `/api/v1/openapi.json` (a test keeps this page current). Amounts are JSON numbers \
         or decimal strings; bodies are JSON (`Content-Type: application/json`).\n",
    );
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            let _ = write!(page, "\n## `{} {path}`\n\n", method.to_uppercase());
            if let Some(summary) = op["summary"].as_str() {
                let _ = writeln!(page, "{}\n", cell(summary));
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if !params.is_empty() {
                page.push_str("| parameter | in | required | |\n|---|---|---|---|\n");
                for p in &params {
                    let _ = writeln!(
                        page,
                        "| `{}` | {} | {} | {} |",
                        p["name"].as_str().unwrap_or_default(),
                        p["in"].as_str().unwrap_or_default(),
                        if p["required"] == true { "yes" } else { "no" },
                        cell(p["description"].as_str().unwrap_or_default())
                    );
                }
                page.push('\n');
            }
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            for (media, body) in content {
                let schema = resolve(doc, &body["schema"]);
                if let Some(forms) = schema["oneOf"].as_array() {
                    render_forms(&mut page, doc, media, forms);
                    continue;
                }
                let Some(fields) = schema["properties"].as_object() else {
                    let _ = writeln!(page, "Body: `{media}`.\n");
                    continue;
                };
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let _ = writeln!(page, "Body (`{media}`):\n");
                page.push_str("| field | type | required | |\n|---|---|---|---|\n");
                for (name, field) in fields {
                    let _ = writeln!(
                        page,
                        "| `{name}` | {} | {} | {} |",
                        type_of(doc, field),
                        if required.contains(&name.as_str()) {
                            "yes"
                        } else {
                            "no"
                        },
                        cell(field["description"].as_str().unwrap_or_default())
                    );
                }
                page.push('\n');
            }
        }
    }
    page
}

#[tokio::test]
async fn the_request_reference_is_current() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, doc) = server.json("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let page = render(&doc);
    if std::env::var_os("UPDATE_API_REFERENCE").is_some() {
        std::fs::write(PAGE, &page).unwrap();
    }
    let committed = std::fs::read_to_string(PAGE).unwrap_or_default();
    assert!(
        committed == page,
        "docs/API.md is out of date: run UPDATE_API_REFERENCE=1 cargo test -p http-adapter --test api reference"
    );
    // What a new user looks for.
    for needle in [
        "## `POST /api/v1/tasks/{id}/extend`",
        "| `secs` |",
        "| `contract` |",
        "| `leave_queue` | `task_id` (string) |",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
}
