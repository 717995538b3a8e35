//! Money and page sizes on the wire are [`marketplace_api::wire`]'s; this module adds what
//! only the server reads.

use marketplace_core::Error;

pub use marketplace_api::wire::{Amount, PageLimit, amount, event_data};

/// A path segment naming a task, as the engine's id; a malformed id names no task.
pub fn task_id(text: &str) -> Result<marketplace_core::TaskId, Error> {
    text.parse().map_err(|_| Error::TaskNotFound)
}
