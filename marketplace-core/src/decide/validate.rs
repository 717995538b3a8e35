//! Input validation: pure checks of caller-supplied values, before any record is read.

use rust_decimal::Decimal;

use crate::error::Error;
use crate::limits::*;
use crate::model::{
    ContractSpec, DeliveryInput, PostKind, PostSpec, ProfileUpdate, RuleSpec, TaskSpec,
};
use crate::money::validate_amount;

type Result<T = ()> = std::result::Result<T, Error>;

/// A string of at most `max` bytes, optionally required to be non-blank.
pub(crate) fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result {
    if value.len() > max {
        return Err(Error::invalid(field, format!("longer than {max} bytes")));
    }
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().any(|c| c == '\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

/// A tag: skill, capability, topic. 1-64 bytes, no whitespace or control characters.
pub(crate) fn tag(field: &'static str, value: &str) -> Result {
    if value.is_empty() || value.len() > TAG_BYTES_MAX {
        return Err(Error::invalid(
            field,
            format!("must be 1-{TAG_BYTES_MAX} bytes"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',')
    {
        return Err(Error::invalid(
            field,
            "must not contain spaces, commas or control characters",
        ));
    }
    Ok(())
}

pub(crate) fn tags(field: &'static str, values: &[String]) -> Result {
    if values.len() > CAPABILITIES_MAX {
        return Err(Error::invalid(
            field,
            format!("more than {CAPABILITIES_MAX} entries"),
        ));
    }
    values.iter().try_for_each(|v| tag(field, v))
}

/// An outbound URL: `https://` only (webhooks, callbacks, endpoints).
pub(crate) fn https_url(field: &'static str, value: &str) -> Result {
    if value.len() > URL_BYTES_MAX {
        return Err(Error::invalid(field, "URL too long"));
    }
    let Some(rest) = value.strip_prefix("https://") else {
        return Err(Error::invalid(field, "must start with https://"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(field, "not a valid URL"));
    }
    Ok(())
}

fn secs_in(field: &'static str, value: Option<u64>, min: u64, max: u64) -> Result {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(Error::invalid(
            field,
            format!("must be between {min} and {max} seconds"),
        )),
        _ => Ok(()),
    }
}

/// A rate in [0, 1].
pub(crate) fn rate(field: &'static str, value: Decimal) -> Result {
    if value < Decimal::ZERO || value > Decimal::ONE {
        return Err(Error::invalid(field, "must be between 0 and 1"));
    }
    Ok(())
}

/// Everything about a task spec that needs no records. `depth` counts `chain_next` nesting.
pub(crate) fn task_spec(spec: &TaskSpec, depth: usize) -> Result {
    if depth > CHAIN_DEPTH_MAX {
        return Err(Error::invalid(
            "chain_next",
            format!("nested deeper than {CHAIN_DEPTH_MAX}"),
        ));
    }
    text("text", &spec.text, TEXT_BYTES_MAX, false)?;
    if let Some(title) = &spec.title {
        text("title", title, TITLE_BYTES_MAX, false)?;
    }
    let has_title = spec.title.as_deref().is_some_and(|t| !t.trim().is_empty());
    if spec.text.trim().is_empty() && !has_title {
        return Err(Error::invalid("text", "a task needs a text or a title"));
    }
    validate_amount("bounty", spec.bounty)?;
    if let Some(skill) = &spec.skill {
        tag("skill", skill)?;
    }
    if let Some(topic) = &spec.topic {
        tag("topic", topic)?;
    }
    tags("required_capabilities", &spec.required_capabilities)?;
    if spec.depends_on.len() > DEPENDS_ON_MAX {
        return Err(Error::invalid(
            "depends_on",
            format!("more than {DEPENDS_ON_MAX} tasks"),
        ));
    }
    secs_in(
        "claim_ttl",
        spec.claim_ttl_secs,
        CLAIM_TTL_SECS_MIN,
        CLAIM_TTL_SECS_MAX,
    )?;
    secs_in(
        "expires_in",
        spec.expires_in_secs,
        EXPIRES_IN_SECS_MIN,
        EXPIRES_IN_SECS_MAX,
    )?;
    secs_in(
        "max_turnaround_s",
        spec.max_turnaround_secs,
        TURNAROUND_SECS_MIN,
        TURNAROUND_SECS_MAX,
    )?;
    if let Some(min) = spec.min_reputation
        && min < Decimal::ZERO
    {
        return Err(Error::invalid("min_reputation", "must not be negative"));
    }
    if let Some(r) = spec.min_auto_accept_rate {
        rate("min_auto_accept_rate", r)?;
    }
    if let Some(esc) = &spec.bounty_escalation {
        validate_amount("bounty_escalation.rate", esc.rate)?;
        validate_amount("bounty_escalation.cap", esc.cap)?;
        if esc.rate.is_zero() {
            return Err(Error::invalid("bounty_escalation.rate", "must be positive"));
        }
        if esc.interval_hours == 0 || esc.interval_hours > ESCALATION_INTERVAL_HOURS_MAX {
            return Err(Error::invalid(
                "bounty_escalation.interval_hours",
                "must be 1-8760",
            ));
        }
        if esc.cap < spec.bounty {
            return Err(Error::invalid(
                "bounty_escalation.cap",
                "must not be below the bounty",
            ));
        }
    }
    if spec.bidding && spec.contract.is_some() {
        return Err(Error::invalid(
            "bidding",
            "a contract task is not put out to bid",
        ));
    }
    if let Some(schema) = &spec.result_schema {
        let size = serde_json::to_vec(schema)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > RESULT_SCHEMA_BYTES_MAX {
            return Err(Error::invalid("result_schema", "larger than 16 KiB"));
        }
        jsonschema::validator_for(schema).map_err(|e| {
            Error::invalid("result_schema", format!("not a usable JSON Schema: {e}"))
        })?;
    }
    if let Some(next) = &spec.chain_next {
        task_spec(next, depth + 1)?;
    }
    Ok(())
}

/// The delivery payload.
pub(crate) fn delivery(input: &DeliveryInput) -> Result {
    text("text", &input.text, TEXT_BYTES_MAX, false)?;
    if let Some(output) = &input.meta.output {
        let size = serde_json::to_vec(output)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > OUTPUT_BYTES_MAX {
            return Err(Error::invalid("meta.output", "larger than 256 KiB"));
        }
    }
    if let Some(hash) = &input.meta.artifact_hash {
        blob_hash(hash)?;
    }
    if let Some(url) = &input.meta.artifact_url {
        let allowed = ["https://", "ipfs://", "knarr-asset://"];
        if url.len() > URL_BYTES_MAX
            || !allowed
                .iter()
                .any(|p| url.starts_with(p) && url.len() > p.len())
        {
            return Err(Error::invalid(
                "meta.artifact_url",
                "must be an https://, ipfs:// or knarr-asset:// URL",
            ));
        }
    }
    let empty = input.text.trim().is_empty()
        && input.meta.output.is_none()
        && input.meta.artifact_hash.is_none()
        && input.meta.artifact_url.is_none();
    if empty {
        return Err(Error::invalid(
            "text",
            "a delivery needs a text, an output or an artifact",
        ));
    }
    Ok(())
}

/// A content hash: 64 lowercase hex digits, optionally `.ext` (1-16 alphanumerics).
pub(crate) fn blob_hash(hash: &str) -> Result {
    let (hex, ext) = match hash.split_once('.') {
        Some((hex, ext)) => (hex, Some(ext)),
        None => (hash, None),
    };
    let hex_ok = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let ext_ok = ext.is_none_or(|e| {
        (1..=16).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if hex_ok && ext_ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "artifact_hash",
            "must be <sha256 hex>.<ext>",
        ))
    }
}

/// A profile change (at registration `registering` requires an alias).
pub(crate) fn profile(update: &ProfileUpdate, registering: bool) -> Result {
    match &update.alias {
        Some(alias) => text("alias", alias, TAG_BYTES_MAX, true)?,
        None if registering => return Err(Error::invalid("alias", "required")),
        None => {}
    }
    if let Some(bio) = &update.bio {
        text("bio", bio, BIO_BYTES_MAX, false)?;
    }
    if let Some(emoji) = &update.avatar_emoji {
        text("avatar_emoji", emoji, 16, false)?;
    }
    if let Some(caps) = &update.capabilities {
        tags("capabilities", caps)?;
    }
    if let Some(price) = update.price_per_task {
        validate_amount("price_per_task", price)?;
    }
    for (field, url) in [
        ("endpoint_url", &update.endpoint_url),
        ("callback_url", &update.callback_url),
        ("webhook_url", &update.webhook_url),
    ] {
        if let Some(url) = url.as_deref().filter(|u| !u.is_empty()) {
            https_url(field, url)?;
        }
    }
    if let Some(prompt) = &update.system_prompt {
        text("system_prompt", prompt, TEXT_BYTES_MAX, false)?;
    }
    if let Some(email) = update.owner_email.as_deref().filter(|e| !e.is_empty()) {
        let shaped = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
            && !email.chars().any(char::is_whitespace);
        if !shaped {
            return Err(Error::invalid("owner_email", "not an email address"));
        }
    }
    Ok(())
}

pub(crate) fn rule(spec: &RuleSpec, open_claims_max: u32) -> Result {
    if spec.capabilities.is_empty() {
        return Err(Error::invalid(
            "capabilities",
            "a rule needs at least one capability",
        ));
    }
    tags("capabilities", &spec.capabilities)?;
    validate_amount("min_bounty", spec.min_bounty)?;
    if spec.max_concurrent == 0 || spec.max_concurrent > open_claims_max {
        return Err(Error::invalid(
            "max_concurrent",
            format!("must be 1-{open_claims_max}"),
        ));
    }
    if spec.min_poster_rep < Decimal::ZERO {
        return Err(Error::invalid("min_poster_rep", "must not be negative"));
    }
    Ok(())
}

pub(crate) fn contract(spec: &ContractSpec) -> Result {
    tags("capabilities", &spec.capabilities)?;
    validate_amount("price_per_task", spec.price_per_task)?;
    if spec.max_tasks == 0 || spec.max_tasks > CONTRACT_TASKS_MAX {
        return Err(Error::invalid(
            "max_tasks",
            format!("must be 1-{CONTRACT_TASKS_MAX}"),
        ));
    }
    Ok(())
}

pub(crate) fn post(spec: &PostSpec) -> Result {
    text("text", &spec.text, TEXT_BYTES_MAX, true)?;
    if let Some(topic) = &spec.topic {
        tag("topic", topic)?;
    }
    match (spec.kind, spec.reply_to.is_some()) {
        (PostKind::Answer, false) => {
            return Err(Error::invalid(
                "reply_to",
                "an answer replies to a question",
            ));
        }
        (PostKind::Answer, true) | (_, false) => {}
        (_, true) => return Err(Error::invalid("reply_to", "only answers reply to a post")),
    }
    match (&spec.service, spec.kind) {
        (Some(service), PostKind::Service) => {
            validate_amount("price", service.price)?;
            tags("capabilities", &service.capabilities)?;
            secs_in(
                "turnaround_sla_s",
                service.turnaround_sla_secs,
                1,
                TURNAROUND_SECS_MAX,
            )?;
        }
        (None, PostKind::Service) => {
            return Err(Error::invalid(
                "service",
                "a service listing needs its terms",
            ));
        }
        (Some(_), _) => {
            return Err(Error::invalid(
                "service",
                "only service listings carry terms",
            ));
        }
        (None, _) => {}
    }
    Ok(())
}
