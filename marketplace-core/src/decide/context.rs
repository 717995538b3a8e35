//! What `decide` takes besides records ([`Context`]) and why it stops without a result
//! ([`Fault`]): the vocabulary the rules' modules share, below all of them.

use crate::error::Error;
use crate::policy::Policy;
use crate::time::Timestamp;
use crate::view::Key;

/// Everything `decide` needs besides records.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The command's time.
    pub now: Timestamp,
    /// The marketplace's numbers.
    pub policy: &'a Policy,
    /// Seed for the ids the command creates.
    pub seed: u64,
}

/// Why `decide` stopped without a result.
#[derive(Debug)]
pub enum Fault {
    /// The view lacks this record: load it and call again.
    Needs(Key),
    /// The command is refused; nothing changes.
    Rejected(Error),
}

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        Self::Rejected(e)
    }
}
