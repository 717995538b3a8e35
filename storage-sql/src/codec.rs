//! Encoding helpers every SQL backend shares: records as JSON bodies (decimals as exact
//! strings), times as microseconds since the Unix epoch, exact decimals and UUIDs from text.

use std::str::FromStr;

use chrono::DateTime;
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;

use marketplace_core::StoreError;
use marketplace_core::Timestamp;

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

/// An idempotency record of `(caller, key)` from its columns (times in microseconds).
pub fn idempotency(
    caller: &marketplace_core::ids::IdentityId,
    key: &str,
    fingerprint: String,
    response: String,
    created_at: i64,
    running_until: Option<i64>,
) -> Result<marketplace_core::store::IdempotencyRecord, StoreError> {
    Ok(marketplace_core::store::IdempotencyRecord {
        caller: caller.clone(),
        key: key.to_owned(),
        fingerprint,
        response,
        created_at: time(created_at)?,
        running_until: running_until.map(time).transpose()?,
    })
}

/// An outbox event from its JSON body and the `seq` the database gave it.
pub fn event(body: &str, seq: i64) -> Result<marketplace_core::model::Event, StoreError> {
    let mut event: marketplace_core::model::Event = from_json(body)?;
    event.seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("seq {seq}")))?;
    Ok(event)
}

/// An outbox lease from an event's body, `seq` and attempt count.
pub fn leased(
    body: &str,
    seq: i64,
    attempts: i32,
) -> Result<marketplace_core::store::LeasedEvent, StoreError> {
    Ok(marketplace_core::store::LeasedEvent {
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

/// The words a task is found by in full-text search: its text, title, skill and required
/// capabilities.
pub fn task_search_text(task: &marketplace_core::model::Task) -> String {
    let spec = &task.spec;
    let mut text = spec.text.clone();
    for extra in spec
        .title
        .iter()
        .chain(spec.skill.iter())
        .chain(spec.required_capabilities.iter())
    {
        text.push(' ');
        text.push_str(extra);
    }
    text
}

/// The words a board post is found by: its text and the capabilities of the service it
/// offers.
pub fn post_search_text(post: &marketplace_core::model::BoardPost) -> String {
    let mut text = post.text.clone();
    for cap in post.service.iter().flat_map(|s| s.capabilities.iter()) {
        text.push(' ');
        text.push_str(cap);
    }
    text
}

/// The hot tables of a command's changes — tasks, accounts, reputations, ledger lines and
/// events — as one JSON array per table, so that a SQL backend writes each table with one
/// statement over its array (`json_each` on SQLite, `jsonb_array_elements` on PostgreSQL)
/// instead of one round trip per row. Decimals are exact strings, times microseconds,
/// records' bodies their JSON text.
///
/// Array elements, by field:
/// - `tasks`: `id`, `poster`, `status`, `skill`, `claimant`, `due_at`, `body`, `parties`
///   (the identities of [`Task::involved`](marketplace_core::model::Task::involved)), and for the
///   search index and tag table `text` and `tags` (used when the task is new);
/// - `accounts`: `identity`, `balance`, `escrowed`, `credit_limit`, `created_at`;
/// - `reputations`: `identity`, `body`;
/// - `ledger`: `account`, `tx_type`, `amount`, `escrow`, `fee`, `task_id`, `memo`,
///   `created_at`, in the order the lines must get their `seq`;
/// - `events`: `body`, `available_at`, in order likewise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Task rows.
    pub tasks: String,
    /// Account rows.
    pub accounts: String,
    /// Reputation rows.
    pub reputations: String,
    /// Ledger rows.
    pub ledger: String,
    /// Event rows.
    pub events: String,
    /// How many rows each array holds, in the order of the fields above.
    counts: [usize; 5],
}

/// A task's row of `tasks`, as both ways of writing it encode it.
#[derive(Serialize)]
pub struct TaskRow<'a> {
    /// The id.
    pub id: String,
    /// The poster.
    pub poster: &'a str,
    /// The status, as the API names it.
    pub status: &'static str,
    /// The skill, if the task names one.
    pub skill: Option<&'a str>,
    /// The claimant, if claimed.
    pub claimant: Option<&'a str>,
    /// The next deadline, microseconds.
    pub due_at: Option<i64>,
    /// The task as JSON.
    pub body: String,
    /// The identities of [`Task::involved`](marketplace_core::model::Task::involved).
    pub parties: Vec<&'a str>,
}

impl<'a> TaskRow<'a> {
    /// The row of `t`.
    pub fn of(t: &'a marketplace_core::model::Task) -> Result<Self, StoreError> {
        Ok(Self {
            id: t.id.to_string(),
            poster: t.poster.as_str(),
            status: t.status.as_str(),
            skill: t.spec.skill.as_deref(),
            claimant: t.claimant().map(marketplace_core::ids::IdentityId::as_str),
            due_at: t.due_at().map(micros),
            body: json(t)?,
            parties: t
                .involved()
                .map(marketplace_core::ids::IdentityId::as_str)
                .collect(),
        })
    }
}

/// A task's row with what a new task also writes: its search text and tags.
#[derive(Serialize)]
struct NewTaskRow<'a> {
    #[serde(flatten)]
    row: TaskRow<'a>,
    text: String,
    tags: Vec<String>,
}

/// An account's row of `accounts`.
#[derive(Serialize)]
pub struct AccountRow<'a> {
    /// Whose.
    pub identity: &'a str,
    /// Exact decimal text.
    pub balance: String,
    /// Exact decimal text.
    pub escrowed: String,
    /// Exact decimal text.
    pub credit_limit: String,
    /// Microseconds.
    pub created_at: i64,
}

impl<'a> AccountRow<'a> {
    /// The row of `a`.
    pub fn of(a: &'a marketplace_core::model::Account) -> Self {
        Self {
            identity: a.identity.as_str(),
            balance: a.balance.to_string(),
            escrowed: a.escrowed.to_string(),
            credit_limit: a.credit_limit.to_string(),
            created_at: micros(a.created_at),
        }
    }
}

/// A reputation's row of `reputations`.
#[derive(Serialize)]
pub struct ReputationRow<'a> {
    /// Whose.
    pub identity: &'a str,
    /// The reputation as JSON.
    pub body: String,
}

impl<'a> ReputationRow<'a> {
    /// The row of `r`.
    pub fn of(r: &'a marketplace_core::model::Reputation) -> Result<Self, StoreError> {
        Ok(Self {
            identity: r.identity.as_str(),
            body: json(r)?,
        })
    }
}

/// A ledger line's row of `ledger` (its `seq` the database's).
#[derive(Serialize)]
pub struct LedgerRow<'a> {
    /// The account, as [`AccountRef`](marketplace_core::AccountRef) spells it.
    pub account: String,
    /// The kind, as the API names it.
    pub tx_type: &'static str,
    /// Exact decimal text.
    pub amount: String,
    /// Exact decimal text.
    pub escrow: String,
    /// Exact decimal text.
    pub fee: String,
    /// The task, if the line is about one.
    pub task_id: Option<String>,
    /// The memo.
    pub memo: &'a str,
    /// Microseconds.
    pub created_at: i64,
}

impl<'a> LedgerRow<'a> {
    /// The row of `l`.
    pub fn of(l: &'a marketplace_core::model::LedgerEntry) -> Self {
        Self {
            account: String::from(l.account.clone()),
            tx_type: l.tx_type.as_str(),
            amount: l.amount.to_string(),
            escrow: l.escrow.to_string(),
            fee: l.fee.to_string(),
            task_id: l.task_id.map(|t| t.to_string()),
            memo: l.memo.as_ref(),
            created_at: micros(l.created_at),
        }
    }
}

/// An event's row of `events` (its `seq` the database's).
#[derive(Serialize)]
pub struct EventRow {
    /// The event as JSON.
    pub body: String,
    /// When it may first be delivered, microseconds.
    pub available_at: i64,
}

impl EventRow {
    /// The row of `e`.
    pub fn of(e: &marketplace_core::model::Event) -> Result<Self, StoreError> {
        Ok(Self {
            body: json(e)?,
            available_at: micros(e.at),
        })
    }
}

impl Batch {
    /// Encodes the hot tables of `changes`.
    pub fn of(changes: &marketplace_core::view::Changes) -> Result<Self, StoreError> {
        let tasks = changes
            .tasks
            .iter()
            .map(|t| {
                Ok(NewTaskRow {
                    row: TaskRow::of(t)?,
                    text: task_search_text(t),
                    tags: t.spec.match_tags(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let accounts: Vec<_> = changes.accounts.iter().map(AccountRow::of).collect();
        let reputations = changes
            .reputations
            .iter()
            .map(ReputationRow::of)
            .collect::<Result<Vec<_>, StoreError>>()?;
        let ledger: Vec<_> = changes.ledger.iter().map(LedgerRow::of).collect();
        let events = changes
            .events
            .iter()
            .map(EventRow::of)
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self {
            counts: [
                tasks.len(),
                accounts.len(),
                reputations.len(),
                ledger.len(),
                events.len(),
            ],
            tasks: json(&tasks)?,
            accounts: json(&accounts)?,
            reputations: json(&reputations)?,
            ledger: json(&ledger)?,
            events: json(&events)?,
        })
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&n| n == 0)
    }

    /// Which tables have rows to write: tasks, accounts, reputations, ledger, events.
    pub fn writes(&self) -> [bool; 5] {
        self.counts.map(|n| n > 0)
    }

    /// The same as a set of bits, bit `i` for the `i`-th table of [`writes`](Self::writes):
    /// what a store names its statement for exactly those tables by.
    pub fn table_set(&self) -> usize {
        self.writes()
            .iter()
            .enumerate()
            .filter(|(_, writes)| **writes)
            .fold(0, |set, (i, _)| set | 1 << i)
    }
}

/// A `deliveries` row as SQL backends read it.
#[derive(Debug, Clone)]
pub struct DeliveryRow<'a> {
    /// `id`.
    pub id: i64,
    /// `event_seq`.
    pub event_seq: i64,
    /// `recipient`.
    pub recipient: &'a str,
    /// `channel`.
    pub channel: &'a str,
    /// `event`.
    pub event: &'a str,
    /// `body`.
    pub body: &'a str,
    /// `created_at`, microseconds.
    pub created_at: i64,
    /// `status`.
    pub status: &'a str,
    /// `attempts`.
    pub attempts: i64,
    /// `available_at`, microseconds.
    pub available_at: i64,
    /// `finished_at`, microseconds.
    pub finished_at: Option<i64>,
}

fn count<T: TryFrom<i64>>(what: &str, n: i64) -> Result<T, StoreError> {
    T::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n}")))
}

impl DeliveryRow<'_> {
    /// The delivery the row holds.
    pub fn decode(&self) -> Result<marketplace_core::store::Delivery, StoreError> {
        let status = marketplace_core::store::DeliveryStatus::parse(self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status {:?}", self.status)))?;
        Ok(marketplace_core::store::Delivery {
            id: count("delivery id", self.id)?,
            spec: marketplace_core::store::NewDelivery {
                event_seq: count("event seq", self.event_seq)?,
                recipient: marketplace_core::ids::IdentityId::parse(self.recipient)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                channel: marketplace_core::store::Channel::parse(self.channel)
                    .ok_or_else(|| StoreError::Corrupt(format!("channel {:?}", self.channel)))?,
                event: self.event.to_owned(),
                body: self.body.to_owned(),
                created_at: time(self.created_at)?,
            },
            status,
            attempts: count("attempts", self.attempts)?,
            next_attempt_at: (status == marketplace_core::store::DeliveryStatus::Pending)
                .then(|| time(self.available_at))
                .transpose()?,
            finished_at: self.finished_at.map(time).transpose()?,
        })
    }
}

/// A `delivery_attempts` row as SQL backends read it.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// `attempt`.
    pub attempt: i64,
    /// `at`, microseconds.
    pub at: i64,
    /// `url`.
    pub url: Option<String>,
    /// `status_code`.
    pub status_code: Option<i64>,
    /// `latency_ms`.
    pub latency_ms: i64,
    /// `error`.
    pub error: Option<String>,
}

impl AttemptRow {
    /// The attempt the row holds.
    pub fn decode(self) -> Result<marketplace_core::store::DeliveryAttempt, StoreError> {
        Ok(marketplace_core::store::DeliveryAttempt {
            attempt: count("attempt", self.attempt)?,
            at: time(self.at)?,
            url: self.url,
            status_code: self
                .status_code
                .map(|c| count("status code", c))
                .transpose()?,
            latency_ms: count("latency", self.latency_ms)?,
            error: self.error,
        })
    }
}

/// The latest `max` attempts of each delivery in `rows` (ordered by delivery, then attempt),
/// grouped by delivery id.
pub fn group_attempts(
    rows: Vec<(i64, AttemptRow)>,
    max: usize,
) -> Result<std::collections::HashMap<u64, Vec<marketplace_core::store::DeliveryAttempt>>, StoreError>
{
    let mut grouped: std::collections::HashMap<u64, Vec<marketplace_core::store::DeliveryAttempt>> =
        std::collections::HashMap::new();
    for (delivery, row) in rows {
        grouped
            .entry(count("delivery id", delivery)?)
            .or_default()
            .push(row.decode()?);
    }
    for attempts in grouped.values_mut() {
        let skip = attempts.len().saturating_sub(max);
        attempts.drain(..skip);
    }
    Ok(grouped)
}
