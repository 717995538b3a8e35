//! One operation vocabulary for random testing: property tests, the differential check and
//! fuzzing all drive the engine with [`Op`]s through a [`Runner`].

use arbitrary::{Arbitrary, Unstructured};
use rust_decimal::Decimal;

use super::Fixture;
use crate::command::{Command, Outcome};
use crate::error::Error;
use crate::ids::{BidId, IdentityId, TaskId};
use crate::model::{
    Account, DeliveryInput, Escalation, Event, LedgerEntry, RejectCategory, Reputation, Task,
    TaskSpec, TaskStatus,
};
use crate::store::{Store, TaskQuery};

/// The options a randomly posted task gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum TaskKind {
    /// Defaults: review by the poster unless the gate passes.
    Plain,
    /// `auto_accept: true`.
    AutoAccept,
    /// `require_review: true`.
    Review,
    /// `bidding: true`.
    Bidding,
    /// Escalates by 1 every hour up to bounty + 5.
    Escalating,
    /// `max_turnaround_s: 120`, `claim_ttl: 60`.
    Turnaround,
    /// `recurring: true`, with review.
    Recurring,
    /// Expires after 10 minutes.
    ShortLived,
}

/// One step of a random run. Indices pick among the runner's actors, tasks and bids modulo
/// their count, so every byte string is a valid run.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Op {
    /// Post a task with a bounty of 0-63 credits.
    Post {
        /// Poster index.
        poster: u8,
        /// Bounty.
        bounty: u8,
        /// Options.
        kind: TaskKind,
    },
    /// Claim a task.
    Claim {
        /// Actor index.
        agent: u8,
        /// Task index.
        task: u8,
    },
    /// Extend a claim (usually the claimant's).
    Extend {
        /// Actor index; 0 mod 4 picks a random actor, else the claimant.
        agent: u8,
        /// Task index.
        task: u8,
    },
    /// Join a queue.
    Join {
        /// Actor index.
        agent: u8,
        /// Task index.
        task: u8,
    },
    /// Leave a queue.
    Leave {
        /// Actor index.
        agent: u8,
        /// Task index.
        task: u8,
    },
    /// Deliver (usually as the claimant).
    Deliver {
        /// Actor index; 0 mod 4 picks a random actor, else the claimant.
        agent: u8,
        /// Task index.
        task: u8,
    },
    /// Accept (usually as the poster).
    Accept {
        /// Actor index; 0 mod 4 picks a random actor, else the poster.
        who: u8,
        /// Task index.
        task: u8,
        /// Rating 0-7 (only 1-5 are valid).
        rating: u8,
    },
    /// Reject (usually as the poster).
    Reject {
        /// Actor index; 0 mod 4 picks a random actor, else the poster.
        who: u8,
        /// Task index.
        task: u8,
    },
    /// Cancel (usually as the poster).
    Cancel {
        /// Actor index; 0 mod 4 picks a random actor, else the poster.
        who: u8,
        /// Task index.
        task: u8,
    },
    /// Bid 0-63 credits.
    Bid {
        /// Actor index.
        agent: u8,
        /// Task index.
        task: u8,
        /// Offered price.
        price: u8,
    },
    /// Award a bid (usually as the poster).
    Award {
        /// Actor index; 0 mod 4 picks a random actor, else the poster.
        who: u8,
        /// Task index.
        task: u8,
        /// Bid index among the task's bids.
        bid: u8,
    },
    /// Post a task whose `chain_next` (half the bounty) quotes the result.
    Chain {
        /// Poster index.
        poster: u8,
        /// Bounty.
        bounty: u8,
    },
    /// Create an auto-claim rule for the `work` skill every random task carries.
    Rule {
        /// Owner index.
        agent: u8,
        /// Smallest bounty the rule claims.
        min_bounty: u8,
    },
    /// Delete the owner's first rule (or a rule that does not exist).
    Unrule {
        /// Owner index.
        agent: u8,
    },
    /// Propose a two-task contract.
    Propose {
        /// Poster index.
        poster: u8,
        /// Agent index.
        agent: u8,
        /// Price per task.
        price: u8,
    },
    /// Accept (usually as the agent) or cancel one of the known contracts.
    Contract {
        /// Actor index; 0 mod 4 picks a random actor, else the contract's agent.
        who: u8,
        /// Contract index.
        contract: u8,
        /// Cancel instead of accepting.
        cancel: bool,
    },
    /// Post under one of the known contracts (usually as its poster).
    ContractTask {
        /// Actor index; 0 mod 4 picks a random actor, else the contract's poster.
        who: u8,
        /// Contract index.
        contract: u8,
    },
    /// A task message.
    Message {
        /// Actor index.
        agent: u8,
        /// Task index.
        task: u8,
        /// A public question.
        pre_claim: bool,
    },
    /// Let time pass: mostly under two minutes (claims last five), one time in eight up to
    /// 45 days (lifetimes, review TTLs, decay).
    Wait {
        /// `n % 120` seconds, or `n` minutes when `n % 8 == 0`.
        secs: u16,
    },
    /// Run the deadline sweep.
    Sweep {
        /// Most tasks to advance.
        limit: u8,
    },
}

impl Op {
    /// How long an [`Op::Wait`] of `secs` lets pass, in seconds: `secs` minutes when it is
    /// a multiple of 8, else `secs % 120` seconds.
    ///
    /// ```
    /// use marketplace_core::testkit::Op;
    /// assert_eq!(Op::wait_secs(7), 7);
    /// assert_eq!(Op::wait_secs(121), 1);
    /// assert_eq!(Op::wait_secs(8), 480);
    /// ```
    pub fn wait_secs(secs: u16) -> i64 {
        if secs.is_multiple_of(8) {
            i64::from(secs) * 60
        } else {
            i64::from(secs % 120)
        }
    }
}

/// Decodes a byte string into operations (at most 512).
pub fn ops_from_bytes(bytes: &[u8]) -> Vec<Op> {
    let mut u = Unstructured::new(bytes);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < 512 {
        match Op::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

/// `count` operations from a seed (SplitMix64 bytes): reproducible without a fuzzer.
pub fn ops_from_seed(seed: u64, count: usize) -> Vec<Op> {
    let mut state = seed;
    let mut bytes = Vec::with_capacity(count * 8);
    while bytes.len() < count * 8 {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    let mut ops = ops_from_bytes(&bytes);
    ops.truncate(count);
    ops
}

/// Everything observable in a store, for comparisons: equal snapshots mean equal state.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// All tasks, newest first.
    pub tasks: Vec<Task>,
    /// All accounts, by identity.
    pub accounts: Vec<Account>,
    /// The reputation of every account.
    pub reputations: Vec<Reputation>,
    /// The whole ledger.
    pub ledger: Vec<LedgerEntry>,
    /// The whole outbox.
    pub events: Vec<Event>,
}

/// Reads a [`Snapshot`] through the store's read side.
pub async fn snapshot<S: Store + ?Sized>(store: &S) -> Snapshot {
    let mut tasks = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .tasks(&TaskQuery {
                before,
                limit: 200,
                ..TaskQuery::default()
            })
            .await
            .expect("tasks");
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        tasks.extend(page);
    }
    let mut accounts: Vec<Account> = Vec::new();
    loop {
        let page = store
            .accounts(accounts.last().map(|a| &a.identity), 200)
            .await
            .expect("accounts");
        if page.is_empty() {
            break;
        }
        accounts.extend(page);
    }
    let mut reputations = Vec::new();
    for a in &accounts {
        reputations.extend(store.reputation(&a.identity).await.expect("reputation"));
    }
    let mut ledger: Vec<LedgerEntry> = Vec::new();
    loop {
        let page = store
            .ledger_since(ledger.last().map_or(0, |l| l.seq), 500)
            .await
            .expect("ledger");
        if page.is_empty() {
            break;
        }
        ledger.extend(page);
    }
    let mut events: Vec<Event> = Vec::new();
    loop {
        let page = store
            .events(events.last().map_or(0, |e| e.seq), 500)
            .await
            .expect("events");
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    Snapshot {
        tasks,
        accounts,
        reputations,
        ledger,
        events,
    }
}

/// Drives a marketplace with [`Op`]s.
pub struct Runner<S: Store> {
    /// The marketplace.
    pub fx: Fixture<S>,
    /// Registered actors.
    pub actors: Vec<IdentityId>,
    /// Tasks posted so far, in order.
    pub tasks: Vec<TaskId>,
    /// The subset of `tasks` not yet in a final state, as of the last op.
    live: Vec<TaskId>,
    /// Contracts proposed so far.
    contracts: Vec<crate::Contract>,
}

fn pick<T>(items: &[T], index: u8) -> Option<&T> {
    (!items.is_empty()).then(|| &items[usize::from(index) % items.len()])
}

impl<S: Store> Runner<S> {
    /// Registers `actors` identities on `fx`.
    pub async fn new(fx: Fixture<S>, actors: usize) -> Self {
        let mut ids = Vec::new();
        for i in 0..actors {
            ids.push(fx.agent(&format!("actor-{i}")).await);
        }
        Self {
            fx,
            actors: ids,
            tasks: Vec::new(),
            live: Vec::new(),
            contracts: Vec::new(),
        }
    }

    fn actor(&self, index: u8) -> IdentityId {
        self.actors[usize::from(index) % self.actors.len()].clone()
    }

    /// Seven times in eight a task still in play, else any task (to exercise refusals).
    async fn task(&self, index: u8) -> Option<Task> {
        let pool = if index.is_multiple_of(8) || self.live.is_empty() {
            &self.tasks
        } else {
            &self.live
        };
        let id = *pick(pool, index / 8)?;
        self.fx.market.store().task(id).await.expect("task")
    }

    /// The actor for an op that is usually someone specific (the poster or the claimant).
    fn usually(&self, who: u8, usual: Option<&IdentityId>) -> IdentityId {
        match usual {
            Some(id) if !who.is_multiple_of(4) => id.clone(),
            _ => self.actor(who / 4),
        }
    }

    /// The command an op stands for, with its actor, or `None` when it needs a task and
    /// there is none yet (or it is not a command: waits and sweeps).
    pub async fn command(&self, op: &Op) -> Option<(IdentityId, Command)> {
        Some(match *op {
            Op::Post {
                poster,
                bounty,
                kind,
            } => {
                let mut spec = TaskSpec::new(format!("task {kind:?}"), Decimal::from(bounty % 64))
                    .skill("work");
                match kind {
                    TaskKind::Plain => {}
                    TaskKind::AutoAccept => spec.auto_accept = true,
                    TaskKind::Review => spec.require_review = true,
                    TaskKind::Bidding => spec.bidding = true,
                    TaskKind::Escalating => {
                        spec.bounty_escalation = Some(Escalation {
                            rate: Decimal::ONE,
                            interval_hours: 1,
                            cap: spec.bounty + Decimal::from(5),
                        });
                    }
                    TaskKind::Turnaround => {
                        spec.max_turnaround_secs = Some(120);
                        spec.claim_ttl_secs = Some(60);
                    }
                    TaskKind::Recurring => {
                        spec.recurring = true;
                        spec.require_review = true;
                    }
                    TaskKind::ShortLived => spec.expires_in_secs = Some(600),
                }
                (self.actor(poster), Command::PostTask(spec.into()))
            }
            Op::Claim { agent, task } => {
                let t = self.task(task).await?;
                (
                    self.actor(agent),
                    Command::Claim {
                        task: t.id,
                        note: None,
                    },
                )
            }
            Op::Extend { agent, task } => {
                let t = self.task(task).await?;
                (
                    self.usually(agent, t.claim.as_ref().map(|c| &c.agent)),
                    Command::Extend {
                        task: t.id,
                        secs: None,
                    },
                )
            }
            Op::Join { agent, task } => {
                let t = self.task(task).await?;
                (self.actor(agent), Command::JoinQueue { task: t.id })
            }
            Op::Leave { agent, task } => {
                let t = self.task(task).await?;
                let usual = t.queue.first().map(|e| &e.agent);
                (
                    self.usually(agent, usual),
                    Command::LeaveQueue { task: t.id },
                )
            }
            Op::Deliver { agent, task } => {
                let t = self.task(task).await?;
                let actor = self.usually(agent, t.claim.as_ref().map(|c| &c.agent));
                (
                    actor,
                    Command::Deliver {
                        task: t.id,
                        delivery: DeliveryInput::text("result"),
                    },
                )
            }
            Op::Accept { who, task, rating } => {
                let t = self.task(task).await?;
                let rating = (rating % 8 != 0).then_some(rating % 8);
                (
                    self.usually(who, Some(&t.poster)),
                    Command::Accept { task: t.id, rating },
                )
            }
            Op::Reject { who, task } => {
                let t = self.task(task).await?;
                let command = Command::Reject {
                    task: t.id,
                    text: "not yet".into(),
                    category: RejectCategory::Quality,
                };
                (self.usually(who, Some(&t.poster)), command)
            }
            Op::Cancel { who, task } => {
                let t = self.task(task).await?;
                (
                    self.usually(who, Some(&t.poster)),
                    Command::Cancel { task: t.id },
                )
            }
            Op::Bid { agent, task, price } => {
                let t = self.task(task).await?;
                let command = Command::Bid {
                    task: t.id,
                    text: "pick me".into(),
                    offered_price: Decimal::from(price % 64),
                    turnaround_secs: Some(300),
                };
                (self.actor(agent), command)
            }
            Op::Award { who, task, bid } => {
                let t = self.task(task).await?;
                let bid = pick(&t.bids, bid).map_or(BidId(uuid::Uuid::nil()), |b| b.id);
                (
                    self.usually(who, Some(&t.poster)),
                    Command::Award { task: t.id, bid },
                )
            }
            Op::Chain { poster, bounty } => {
                let bounty = Decimal::from(bounty % 64);
                let mut spec = TaskSpec::new("first part", bounty).skill("work");
                spec.chain_next = Some(Box::new(
                    TaskSpec::new("then: {{result}}", bounty / Decimal::TWO).skill("work"),
                ));
                (self.actor(poster), Command::PostTask(spec.into()))
            }
            Op::Rule { agent, min_bounty } => {
                let spec = crate::RuleSpec {
                    capabilities: vec!["work".into()],
                    min_bounty: Decimal::from(min_bounty % 64),
                    max_concurrent: 2,
                    min_poster_rep: Decimal::ZERO,
                };
                (self.actor(agent), Command::CreateRule(spec))
            }
            Op::Unrule { agent } => {
                let owner = self.actor(agent);
                let rules = self.fx.market.rules(&owner).await.expect("rules");
                let rule = rules
                    .first()
                    .map_or(crate::RuleId(uuid::Uuid::nil()), |r| r.id);
                (owner, Command::DeleteRule { rule })
            }
            Op::Propose {
                poster,
                agent,
                price,
            } => {
                let spec = crate::ContractSpec {
                    agent: self.actor(agent),
                    capabilities: vec!["work".into()],
                    price_per_task: Decimal::from(price % 64),
                    max_tasks: 2,
                };
                (self.actor(poster), Command::ProposeContract(spec))
            }
            Op::Contract {
                who,
                contract,
                cancel,
            } => {
                let c = pick(&self.contracts, contract)?;
                let command = if cancel {
                    Command::CancelContract { contract: c.id }
                } else {
                    Command::AcceptContract { contract: c.id }
                };
                (self.usually(who, Some(&c.agent)), command)
            }
            Op::ContractTask { who, contract } => {
                let c = pick(&self.contracts, contract)?;
                let mut spec = TaskSpec::new("contract work", 0).skill("work");
                spec.contract = Some(c.id);
                (
                    self.usually(who, Some(&c.poster)),
                    Command::PostTask(spec.into()),
                )
            }
            Op::Message {
                agent,
                task,
                pre_claim,
            } => {
                let t = self.task(task).await?;
                let usual = t.claim.as_ref().map(|c| &c.agent).unwrap_or(&t.poster);
                let actor = if pre_claim {
                    self.actor(agent)
                } else {
                    self.usually(agent, Some(usual))
                };
                (
                    actor,
                    Command::Message {
                        task: t.id,
                        text: "status?".into(),
                        pre_claim,
                    },
                )
            }
            Op::Wait { .. } | Op::Sweep { .. } => return None,
        })
    }

    /// Applies one op. Waits and sweeps always succeed; commands return their result.
    pub async fn apply(&mut self, op: &Op) -> Result<(), Error> {
        match *op {
            Op::Wait { secs } => {
                self.fx.advance(Op::wait_secs(secs));
                Ok(())
            }
            Op::Sweep { limit } => {
                self.fx.market.sweep(usize::from(limit % 16) + 1).await?;
                self.refresh_tasks().await;
                Ok(())
            }
            _ => {
                let Some((actor, command)) = self.command(op).await else {
                    return Ok(());
                };
                let outcome = self.fx.market.execute(&actor, command).await?;
                if let Outcome::Contract(c) = &outcome
                    && !self.contracts.iter().any(|k| k.id == c.id)
                {
                    self.contracts.push(c.clone());
                }
                if let Outcome::Task(t) = &outcome
                    && !self.tasks.contains(&t.id)
                {
                    self.tasks.push(t.id);
                    self.live.push(t.id);
                }
                self.refresh_tasks().await;
                Ok(())
            }
        }
    }

    /// Adds follow-up tasks (recurring reposts, chains) to the pool and drops final tasks
    /// from the live set.
    async fn refresh_tasks(&mut self) {
        let store = self.fx.market.store();
        let newest = store
            .tasks(&TaskQuery {
                limit: 8,
                ..TaskQuery::default()
            })
            .await
            .expect("tasks");
        for t in newest.into_iter().rev() {
            if !self.tasks.contains(&t.id) {
                self.tasks.push(t.id);
                self.live.push(t.id);
            }
        }
        let mut live = Vec::with_capacity(self.live.len());
        for id in &self.live {
            let task = store.task(*id).await.expect("task");
            if task.is_some_and(|t| !t.status.is_final()) {
                live.push(*id);
            }
        }
        self.live = live;
    }

    /// How many tasks are in each final state (for reports).
    pub async fn finals(&self) -> (usize, usize, usize) {
        let snap = snapshot(self.fx.market.store()).await;
        let count = |s: TaskStatus| snap.tasks.iter().filter(|t| t.status == s).count();
        (
            count(TaskStatus::Completed),
            count(TaskStatus::Cancelled),
            count(TaskStatus::Expired),
        )
    }
}

/// Runs `ops` from five actors on a fresh in-memory marketplace under `policy`, checking
/// after every step that every invariant holds (the [`audit`](crate::audit::audit)) and
/// that a refused command changed nothing; panics with the step otherwise. Returns how many
/// commands were applied and how many refused. Property tests and fuzzing share it.
pub async fn run_checked(ops: &[Op], policy: crate::Policy) -> (usize, usize) {
    let store = crate::store::memory::MemoryStore::new();
    let mut runner = Runner::new(Fixture::with_policy(store, policy), 5).await;
    let (mut ok, mut refused) = (0, 0);
    for (step, op) in ops.iter().enumerate() {
        let before = snapshot(runner.fx.market.store()).await;
        match runner.apply(op).await {
            Ok(()) => ok += 1,
            Err(e) => {
                refused += 1;
                let after = snapshot(runner.fx.market.store()).await;
                assert!(
                    after == before,
                    "step {step}: refused {op:?} ({e}) changed state"
                );
            }
        }
        let report = crate::audit::audit(
            runner.fx.market.store(),
            runner.fx.market.policy().queue_max,
        )
        .await
        .expect("the audit reads the store");
        assert!(
            report.is_clean(),
            "step {step} after {op:?}:\n{}",
            report.violations().join("\n")
        );
    }
    (ok, refused)
}
