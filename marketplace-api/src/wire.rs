//! Money on the wire. Clients send amounts as JSON numbers (`"bounty": 10`) or strings
//! (`"10.5"`); the marketplace answers with JSON numbers.
//!
//! Amounts are exact decimals with at most six places. A JSON number is read through its
//! shortest decimal form, so `0.1` is exactly one tenth; an amount is written as a number
//! when that number reads back as exactly the same amount — every amount of up to 15
//! significant digits, far beyond any bounty or balance in practice — and as a decimal
//! string otherwise, so no answer is ever rounded.

use std::str::FromStr;

use marketplace_core::limits::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// An amount of credits on the wire: read from a JSON number or string, written by
/// [`amount`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount(pub Decimal);

impl From<Decimal> for Amount {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        amount(self.0).serialize(serializer)
    }
}

impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                utoipa::openapi::schema::Type::Number,
                utoipa::openapi::schema::Type::String,
            ]))
            .description(Some(
                "Credits: an exact decimal with at most six places; a JSON number, or a \
                 decimal string where a number could not carry it exactly",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Amount {}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let parsed = match &value {
            // JSON's own grammar is strict; its exponent form is how small amounts travel
            // (the marketplace itself writes 0.000001 as `1e-6`).
            Value::Number(n) => {
                let text = n.to_string();
                Decimal::from_str_exact(&text)
                    .or_else(|_| Decimal::from_scientific(&text))
                    .or_else(|_| Decimal::from_str(&text))
                    .ok()
            }
            Value::String(s) => plain_decimal(s),
            _ => return Err(serde::de::Error::custom("an amount must be a number")),
        };
        parsed.map(Self).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{value} is not an amount: digits, optionally a point and more digits"
            ))
        })
    }
}

/// A decimal written plainly: an optional `-`, digits, and optionally a point followed by
/// digits. Nothing else — no sign `+`, no bare point, no blank, no exponent.
fn plain_decimal(text: &str) -> Option<Decimal> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

/// An amount as the marketplace answers it: a JSON number when exact, else a string.
pub fn amount(value: Decimal) -> Value {
    let normalized = value.normalize();
    if normalized.scale() == 0
        && let Some(integer) = normalized.to_i64()
    {
        return Value::Number(integer.into());
    }
    if let Some(float) = normalized.to_f64()
        && let Some(number) = serde_json::Number::from_f64(float)
        && Decimal::from_str_exact(&number.to_string())
            .or_else(|_| Decimal::from_scientific(&number.to_string()))
            .is_ok_and(|back| back == normalized)
    {
        return Value::Number(number);
    }
    Value::String(normalized.to_string())
}

/// A page size as a caller asks for it (`limit`): 1 to [`PAGE_LIMIT_MAX`]. Anything else
/// is refused with 400, not silently changed; no `limit` means the default page,
/// [`PAGE_LIMIT_DEFAULT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(pub usize);

impl PageLimit {
    /// The size to ask the engine for: 0 (its default) when the caller named none.
    pub fn or_default(limit: Option<Self>) -> usize {
        limit.map_or(0, |l| l.0)
    }
}

impl Serialize for PageLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PageLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let requested = usize::deserialize(deserializer)?;
        if (1..=PAGE_LIMIT_MAX).contains(&requested) {
            Ok(Self(requested))
        } else {
            Err(serde::de::Error::custom(format!(
                "limit must be 1 to {PAGE_LIMIT_MAX}, not {requested}"
            )))
        }
    }
}

impl utoipa::PartialSchema for PageLimit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(1))
            .maximum(Some(PAGE_LIMIT_MAX as f64))
            .description(Some(format!(
                "Page size: 1 to {PAGE_LIMIT_MAX} (default {PAGE_LIMIT_DEFAULT})"
            )))
            .into()
    }
}

impl utoipa::ToSchema for PageLimit {}

/// An event's data as webhooks and the live stream carry it: as the event stored it, with every amount a JSON
/// number (the marketplace's amounts on the wire, see [`amount`]).
pub fn event_data(data: &marketplace_core::EventData) -> serde_json::Value {
    let amounts: &[&str] = match data {
        marketplace_core::EventData::Bounty { .. } => &["bounty"],
        marketplace_core::EventData::Settled { .. } => &["amount", "fee"],
        marketplace_core::EventData::Refunded { .. } => &["refund"],
        marketplace_core::EventData::Bid { .. } => &["offered_price"],
        _ => &[],
    };
    let mut value = serde_json::to_value(data).unwrap_or_default();
    for name in amounts {
        if let Some(field) = value.get_mut(*name)
            && let Some(value) = field.as_str().and_then(|s| s.parse().ok())
        {
            *field = amount(value);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_exactly() {
        for (text, json) in [
            ("10", "10"),
            ("22.5", "22.5"),
            ("0.1", "0.1"),
            ("0.000001", "1e-6"),
            ("123456789.123456", "123456789.123456"),
            ("1000000000000.000001", "\"1000000000000.000001\""),
        ] {
            let value = Decimal::from_str_exact(text).unwrap();
            assert_eq!(amount(value).to_string(), json, "{text}");
            let back: Amount = serde_json::from_str(json).unwrap();
            assert_eq!(back.0, value, "{json}");
        }
        for (text, value) in [
            ("\"5\"", "5"),
            ("\"-5\"", "-5"),
            ("\"0.25\"", "0.25"),
            ("5e0", "5"),
        ] {
            let back: Amount = serde_json::from_str(text).unwrap();
            assert_eq!(back.0, Decimal::from_str_exact(value).unwrap(), "{text}");
        }
        for bad in [
            "true",
            "\"ten\"",
            "null",
            "[1]",
            "\"+5\"",
            "\"5.\"",
            "\".5\"",
            "\" 5 \"",
            "\"5e0\"",
            "\"\"",
            "\"-\"",
            "\"1.2.3\"",
            "\"0x10\"",
            "\"5 \"",
        ] {
            assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad}");
        }
    }
}
