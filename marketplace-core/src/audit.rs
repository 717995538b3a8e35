//! The invariants of the marketplace, checked against stored data.
//!
//! [`audit`] reads everything through the [`Store`] read side (accounts, tasks, ledger,
//! reputation) and recomputes each invariant independently of the engine:
//!
//! - money is conserved: the sum of all balances plus the treasury is zero;
//! - every account's balance and escrow equal the sums of its ledger lines;
//! - every account's escrow equals the bounties of its tasks still held;
//! - a claimed task has one live claim; a queue never exceeds the maximum, has nobody twice,
//!   and never holds the claimant;
//! - a task is paid at most once, a refunded task is never paid, a completed task is paid;
//! - every identity's count of open claims matches the tasks it holds.
//!
//! It reads in pages of [`PAGE`] and keeps per-account sums in memory: fine for tests and
//! for operators auditing a database of millions of rows.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::ids::{IdentityId, TaskId};
use crate::model::{AccountRef, TaskStatus, TxType};
use crate::store::{Store, StoreError, TaskQuery};

/// Page size of the audit's reads.
pub const PAGE: usize = 500;
/// Most violations reported per check (the count is always exact).
const EXAMPLES_MAX: usize = 20;

/// The result of one invariant check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// How many records were examined.
    pub examined: u64,
    /// How many violated it.
    pub violations: u64,
    /// The first few violations, described.
    pub examples: Vec<String>,
}

/// Every check of one audit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditReport {
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
}

impl AuditReport {
    /// Whether no check found a violation.
    pub fn is_clean(&self) -> bool {
        self.checks.iter().all(|c| c.violations == 0)
    }

    /// All violations, one per line, for test failures.
    pub fn violations(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.violations > 0)
            .flat_map(|c| c.examples.iter().map(move |e| format!("{}: {e}", c.name)))
            .collect()
    }
}

struct Tally {
    name: &'static str,
    examined: u64,
    violations: u64,
    examples: Vec<String>,
}

impl Tally {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            examined: 0,
            violations: 0,
            examples: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, describe: impl FnOnce() -> String) {
        self.examined += 1;
        if !ok {
            self.violations += 1;
            if self.examples.len() < EXAMPLES_MAX {
                self.examples.push(describe());
            }
        }
    }

    fn done(self) -> Check {
        Check {
            name: self.name,
            examined: self.examined,
            violations: self.violations,
            examples: self.examples,
        }
    }
}

#[derive(Default)]
struct TaskLines {
    fees: u32,
    refunds: u32,
}

/// Checks every invariant against `store`; `queue_max` is the policy's queue maximum.
pub async fn audit<S: Store + ?Sized>(
    store: &S,
    queue_max: usize,
) -> Result<AuditReport, StoreError> {
    // Ledger: sums per account, treasury, lines per task.
    let mut sums: HashMap<AccountRef, (Decimal, Decimal)> = HashMap::new();
    let mut per_task: HashMap<TaskId, TaskLines> = HashMap::new();
    let mut after = 0;
    loop {
        let lines = store.ledger_since(after, PAGE).await?;
        let Some(last) = lines.last() else { break };
        after = last.seq;
        for line in &lines {
            let sum = sums.entry(line.account.clone()).or_default();
            sum.0 += line.amount;
            sum.1 += line.escrow;
            if let Some(task) = line.task_id {
                let t = per_task.entry(task).or_default();
                match line.tx_type {
                    TxType::Fee => t.fees += 1,
                    TxType::Refund => t.refunds += 1,
                    _ => {}
                }
            }
        }
    }
    let treasury = sums
        .get(&AccountRef::Treasury)
        .map_or(Decimal::ZERO, |s| s.0);

    // Tasks: held bounties per poster, claims per claimant, per-task rules.
    let mut held: HashMap<IdentityId, Decimal> = HashMap::new();
    let mut claims: HashMap<IdentityId, u32> = HashMap::new();
    let mut claim_check = Tally::new("one live claim per claimed task");
    let mut queue_check = Tally::new("queue bounded, no duplicates, claimant not queued");
    let mut paid_check = Tally::new("paid at most once, never both paid and refunded");
    let mut before = None;
    loop {
        let query = TaskQuery {
            before,
            limit: PAGE,
            ..TaskQuery::default()
        };
        let tasks = store.tasks(&query).await?;
        let Some(last) = tasks.last() else { break };
        before = Some(last.id);
        for t in &tasks {
            if t.status.holds_escrow() {
                *held.entry(t.poster.clone()).or_default() += t.bounty;
            }
            let live = t.claimant().cloned();
            claim_check.check((t.status == TaskStatus::Claimed) == live.is_some(), || {
                format!(
                    "task {} is {} with claim {:?}",
                    t.id,
                    t.status,
                    t.claim.as_ref().map(|c| &c.agent)
                )
            });
            if let Some(agent) = &live {
                *claims.entry(agent.clone()).or_default() += 1;
            }
            let mut seen: Vec<&IdentityId> = t.queue.iter().map(|e| &e.agent).collect();
            seen.sort();
            let unique = seen.windows(2).all(|w| w[0] != w[1]);
            let claimant_queued = live.as_ref().is_some_and(|c| t.is_queued(c));
            queue_check.check(
                t.queue.len() <= queue_max && unique && !claimant_queued,
                || {
                    format!(
                        "task {} queue of {} (unique {unique}, claimant queued {claimant_queued})",
                        t.id,
                        t.queue.len()
                    )
                },
            );
            let lines = per_task.remove(&t.id).unwrap_or_default();
            let paid = t.payout.is_some();
            let consistent = lines.fees <= 1
                && !(lines.fees > 0 && lines.refunds > 0)
                && (t.status == TaskStatus::Completed) == paid
                && !(paid && matches!(t.status, TaskStatus::Cancelled | TaskStatus::Expired));
            paid_check.check(consistent, || {
                format!(
                    "task {} is {} with payout {paid}, {} fee and {} refund lines",
                    t.id, t.status, lines.fees, lines.refunds
                )
            });
        }
    }

    // Accounts.
    let mut conserved = Tally::new("money conserved (balances + treasury = 0)");
    let mut ledger_check = Tally::new("balance and escrow equal their ledger lines");
    let mut escrow_check = Tally::new("escrow equals bounties held");
    let mut open_claims = Tally::new("open claims match claimed tasks");
    let mut total = treasury;
    let mut after_id: Option<IdentityId> = None;
    loop {
        let accounts = store.accounts(after_id.as_ref(), PAGE).await?;
        let Some(last) = accounts.last() else { break };
        after_id = Some(last.identity.clone());
        for a in &accounts {
            total += a.balance;
            let (lb, le) = sums
                .get(&AccountRef::Identity(a.identity.clone()))
                .copied()
                .unwrap_or_default();
            ledger_check.check(lb == a.balance && le == a.escrowed, || {
                format!(
                    "{}: balance {} vs ledger {lb}, escrowed {} vs ledger {le}",
                    a.identity, a.balance, a.escrowed
                )
            });
            let h = held.remove(&a.identity).unwrap_or_default();
            escrow_check.check(h == a.escrowed, || {
                format!("{}: escrowed {} but holds {h}", a.identity, a.escrowed)
            });
            let counted = claims.remove(&a.identity).unwrap_or(0);
            let stored = store
                .reputation(&a.identity)
                .await?
                .map_or(0, |r| r.open_claims);
            open_claims.check(counted == stored, || {
                format!(
                    "{}: {stored} open claims recorded, {counted} held",
                    a.identity
                )
            });
        }
    }
    conserved.check(total.is_zero(), || format!("balances + treasury = {total}"));
    for (poster, h) in held {
        escrow_check.check(false, || format!("{poster}: no account but holds {h}"));
    }
    for (agent, n) in claims {
        open_claims.check(false, || {
            format!("{agent}: no account but holds {n} claims")
        });
    }

    Ok(AuditReport {
        checks: vec![
            conserved.done(),
            ledger_check.done(),
            escrow_check.done(),
            claim_check.done(),
            queue_check.done(),
            paid_check.done(),
            open_claims.done(),
        ],
    })
}
