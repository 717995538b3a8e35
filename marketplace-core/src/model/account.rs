use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{IdentityId, TaskId};
use crate::time::Timestamp;

/// An identity's money. `balance` may go below zero down to `-credit_limit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Whose account.
    pub identity: IdentityId,
    /// Credits owned: grants and earnings minus settled spending. May be negative.
    pub balance: Decimal,
    /// Credits held for this identity's unsettled bounties.
    pub escrowed: Decimal,
    /// How far below zero the balance may go. Recalculated after every accept and reject.
    pub credit_limit: Decimal,
    /// When the identity registered.
    pub created_at: Timestamp,
}

impl Account {
    /// What the identity can spend now: `balance - escrowed + credit_limit`.
    pub fn available(&self) -> Decimal {
        self.balance - self.escrowed + self.credit_limit
    }
}

/// Whose ledger line: an identity, or the platform treasury (which is no row of its own; its
/// balance is the sum of its ledger lines, so no settlement ever updates a shared row).
///
/// Serialized as the identity hash, or `"treasury"`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AccountRef {
    /// The platform treasury: receives fees, funds signup grants; may be negative.
    Treasury,
    /// An identity's account.
    Identity(IdentityId),
}

impl TryFrom<String> for AccountRef {
    type Error = crate::error::Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text == "treasury" {
            Ok(Self::Treasury)
        } else {
            IdentityId::try_from(text).map(Self::Identity)
        }
    }
}

impl From<AccountRef> for String {
    fn from(account: AccountRef) -> String {
        match account {
            AccountRef::Treasury => "treasury".to_owned(),
            AccountRef::Identity(id) => id.into(),
        }
    }
}

impl fmt::Debug for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Treasury => f.write_str("Treasury"),
            Self::Identity(id) => fmt::Debug::fmt(id, f),
        }
    }
}

/// What a ledger line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxType {
    /// Signup credits from the treasury (and the treasury's matching debit).
    Grant,
    /// A bounty held on posting.
    Escrow,
    /// A settled bounty: the poster's debit, and the deliverer's credit net of the fee.
    Release,
    /// The treasury's cut of a settlement.
    Fee,
    /// A held bounty returned on cancel or expiry.
    Refund,
    /// A change to a held bounty: escalation steps, awarded bids.
    Adjust,
}

impl TxType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Escrow => "escrow",
            Self::Release => "release",
            Self::Fee => "fee",
            Self::Refund => "refund",
            Self::Adjust => "adjust",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "grant" => Self::Grant,
            "escrow" => Self::Escrow,
            "release" => Self::Release,
            "fee" => Self::Fee,
            "refund" => Self::Refund,
            "adjust" => Self::Adjust,
            _ => return None,
        })
    }
}

/// One append-only ledger line. For every account, `balance` is the sum of its `amount`s and
/// `escrowed` the sum of its `escrow`s; the treasury's balance is the sum of its `amount`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger, assigned by the store on write (0 before that).
    pub seq: u64,
    /// Whose line.
    pub account: AccountRef,
    /// What happened.
    pub tx_type: TxType,
    /// Change to the account's balance.
    pub amount: Decimal,
    /// Change to the account's escrowed credits.
    pub escrow: Decimal,
    /// The fee withheld from this line (on the deliverer's release line).
    pub fee: Decimal,
    /// The task concerned, if any.
    pub task_id: Option<TaskId>,
    /// A short human-readable note.
    pub memo: std::borrow::Cow<'static, str>,
    /// When.
    pub created_at: Timestamp,
}
