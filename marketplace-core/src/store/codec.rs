//! Encoding helpers every SQL backend shares: records as JSON bodies (decimals as exact
//! strings), times as microseconds since the Unix epoch, exact decimals and UUIDs from text.

use std::str::FromStr;

use chrono::DateTime;
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use crate::time::Timestamp;

/// A record as its JSON body.
pub fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(format!("encode: {e}")))
}

/// A record from its JSON body.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("decode: {e}")))
}

/// A time as microseconds since the Unix epoch (exact: times are kept to the microsecond).
pub fn micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

/// A time from microseconds since the Unix epoch.
pub fn time(micros: i64) -> Result<Timestamp, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("time {micros}")))
}

/// An outbox event from its JSON body and the `seq` the database gave it.
pub fn event(body: &str, seq: i64) -> Result<crate::model::Event, StoreError> {
    let mut event: crate::model::Event = from_json(body)?;
    event.seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("seq {seq}")))?;
    Ok(event)
}

/// An outbox lease from an event's body, `seq` and attempt count.
pub fn leased(body: &str, seq: i64, attempts: i32) -> Result<super::LeasedEvent, StoreError> {
    Ok(super::LeasedEvent {
        event: event(body, seq)?,
        attempt: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt(format!("attempts {attempts}")))?,
    })
}

/// An exact decimal from its text.
pub fn decimal(text: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str_exact(text)
        .or_else(|_| Decimal::from_str(text))
        .map_err(|e| StoreError::Corrupt(format!("decimal {text:?}: {e}")))
}

/// A UUID from its text.
pub fn uuid(text: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("uuid {text:?}: {e}")))
}

/// The words of a search query: alphanumeric runs, lowercased.
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
