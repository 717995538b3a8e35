//! Model-based test: the engine against a small, independent reference model of the task
//! lifecycle (post, claim, queue, deliver, accept, reject, cancel, claim expiry, review TTL,
//! task expiry), checked after every transition: result codes, every task's state, claimant
//! and queue, every balance and escrow, the treasury, and the reputation counters.
//!
//! The transitions are the testkit's shared [`Op`]s, applied by its [`Runner`] as fuzzing
//! and the differential check apply them. The model names its actors and tasks through the
//! ops' own encoding: a task index `8 * t` picks the `t`-th task posted, an actor index
//! `4 * a` the `a`-th actor where an op usually means someone specific. A wait is followed
//! by a sweep, which reaches every task because the model posts at most [`TASKS_MAX`].

use marketplace_core::testkit::{Fixture, Op, Runner, TaskKind};
use marketplace_core::*;
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use rust_decimal::Decimal;

const ACTORS: usize = 5;
const CLAIM_TTL: i64 = 100;
const REVIEW_TTL: i64 = 1_000;
const LIFETIME: i64 = 10_000;
const QUEUE_MAX: usize = 3;
/// The most tasks a run posts: what one sweep of 16 reaches.
const TASKS_MAX: usize = 16;

/// Grant 100, no credit, 10% fee, no quality gate: every delivery waits for review.
fn policy() -> Policy {
    Policy {
        claim_ttl_default_secs: CLAIM_TTL as u64,
        review_ttl_secs: REVIEW_TTL as u64,
        task_lifetime_default_secs: LIFETIME as u64,
        queue_max: QUEUE_MAX,
        auto_accept_min_accepted: u64::MAX,
        ..Policy::agentmarket()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Open,
    Claimed,
    Delivered,
    Completed,
    Cancelled,
    Expired,
}

#[derive(Debug, Clone)]
struct MTask {
    poster: usize,
    bounty: Decimal,
    status: St,
    /// Holder of the current claim (kept while delivered, like the engine's claim record).
    claim: Option<usize>,
    claim_expires: i64,
    queue: Vec<usize>,
    review_deadline: i64,
    expires_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Counters {
    claims: u64,
    ghosts: u64,
    delivered: u64,
    accepted: u64,
    rejected: u64,
    total: u64,
}

#[derive(Debug, Clone)]
struct Model {
    now: i64,
    balance: Vec<Decimal>,
    escrowed: Vec<Decimal>,
    treasury: Decimal,
    counters: Vec<Counters>,
    tasks: Vec<MTask>,
    /// The result the last transition must have had.
    expect: Result<(), &'static str>,
}

/// The `t`-th task posted, in an op's task index.
fn task_op(t: usize) -> u8 {
    u8::try_from(t * 8).expect("at most 32 tasks")
}

/// The `a`-th actor, in the index of an op that usually means someone specific.
fn someone_op(a: usize) -> u8 {
    u8::try_from(a * 4).expect("few actors")
}

/// The task an op's index names (see [`task_op`]).
fn task_of(index: u8) -> usize {
    assert_eq!(index % 8, 0, "the model names tasks by position");
    usize::from(index / 8)
}

/// The actor an op's "usually" index names (see [`someone_op`]).
fn someone_of(index: u8) -> usize {
    assert_eq!(index % 4, 0, "the model names the actor");
    usize::from(index / 4)
}

impl Model {
    fn grant_claim(&mut self, t: usize, agent: usize) {
        let now = self.now;
        let task = &mut self.tasks[t];
        task.status = St::Claimed;
        task.claim = Some(agent);
        task.claim_expires = now + CLAIM_TTL;
        self.counters[agent].claims += 1;
    }

    fn hand_on(&mut self, t: usize) {
        if self.tasks[t].queue.is_empty() {
            self.tasks[t].status = St::Open;
            self.tasks[t].claim = None;
        } else {
            let head = self.tasks[t].queue.remove(0);
            self.grant_claim(t, head);
        }
    }

    fn settle(&mut self, t: usize) {
        let task = &mut self.tasks[t];
        let (poster, bounty, agent) = (
            task.poster,
            task.bounty,
            task.claim.expect("delivered by someone"),
        );
        task.status = St::Completed;
        task.queue.clear();
        let fee = (bounty * Decimal::new(10, 2)).round_dp(6);
        self.balance[poster] -= bounty;
        self.escrowed[poster] -= bounty;
        self.balance[agent] += bounty - fee;
        self.treasury += fee;
        self.counters[agent].accepted += 1;
    }

    fn refund(&mut self, t: usize, to: St) {
        let task = &mut self.tasks[t];
        task.status = to;
        task.claim = None;
        task.queue.clear();
        self.escrowed[task.poster] -= task.bounty;
    }

    /// Every deadline passed by `now`, as the sweep applies them.
    fn deadlines(&mut self) {
        for t in 0..self.tasks.len() {
            loop {
                let task = &self.tasks[t];
                match task.status {
                    St::Claimed if task.claim_expires <= self.now => {
                        let ghost = task.claim.expect("claimed");
                        self.counters[ghost].ghosts += 1;
                        self.hand_on(t);
                    }
                    St::Delivered if task.review_deadline <= self.now => self.settle(t),
                    St::Open if task.expires_at <= self.now => self.refund(t, St::Expired),
                    _ => break,
                }
            }
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), &'static str> {
        match *op {
            Op::Wait { secs } => {
                self.now += Op::wait_secs(secs);
                self.deadlines();
                Ok(())
            }
            Op::Post { poster, bounty, .. } => {
                let poster = usize::from(poster);
                let bounty = Decimal::from(bounty);
                if self.balance[poster] - self.escrowed[poster] < bounty {
                    return Err("insufficient_funds");
                }
                self.escrowed[poster] += bounty;
                self.counters[poster].total += 1;
                self.tasks.push(MTask {
                    poster,
                    bounty,
                    status: St::Open,
                    claim: None,
                    claim_expires: 0,
                    queue: Vec::new(),
                    review_deadline: 0,
                    expires_at: self.now + LIFETIME,
                });
                Ok(())
            }
            Op::Claim { agent, task } => {
                let (agent, t) = (usize::from(agent), task_of(task));
                let task = &self.tasks[t];
                if task.poster == agent {
                    return Err("own_task");
                }
                match task.status {
                    St::Open => {}
                    St::Claimed if task.claim == Some(agent) => return Err("already_claimant"),
                    St::Claimed => return Err("already_claimed"),
                    _ => return Err("wrong_state"),
                }
                self.grant_claim(t, agent);
                Ok(())
            }
            Op::Join { agent, task } => {
                let (agent, t) = (usize::from(agent), task_of(task));
                let task = &mut self.tasks[t];
                if task.poster == agent {
                    return Err("own_task");
                }
                if !matches!(task.status, St::Claimed | St::Delivered) {
                    return Err("wrong_state");
                }
                if task.claim == Some(agent) {
                    return Err("already_claimant");
                }
                if task.queue.contains(&agent) {
                    return Err("already_queued");
                }
                if task.queue.len() >= QUEUE_MAX {
                    return Err("queue_full");
                }
                task.queue.push(agent);
                Ok(())
            }
            Op::Leave { agent, task } => {
                let (agent, t) = (someone_of(agent), task_of(task));
                let queue = &mut self.tasks[t].queue;
                let before = queue.len();
                queue.retain(|a| *a != agent);
                if queue.len() == before {
                    Err("not_queued")
                } else {
                    Ok(())
                }
            }
            Op::Deliver { agent, task } => {
                let (agent, t) = (someone_of(agent), task_of(task));
                let now = self.now;
                let task = &mut self.tasks[t];
                match (task.status, task.claim) {
                    (St::Claimed, Some(c)) if c == agent => {}
                    (St::Claimed, _) => return Err("not_claimant"),
                    _ => return Err("wrong_state"),
                }
                task.status = St::Delivered;
                task.review_deadline = now + REVIEW_TTL;
                self.counters[agent].delivered += 1;
                Ok(())
            }
            Op::Accept { who, task, .. } => {
                let (who, t) = (someone_of(who), task_of(task));
                let task = &self.tasks[t];
                if task.poster != who {
                    return Err("not_poster");
                }
                if task.status != St::Delivered {
                    return Err("wrong_state");
                }
                self.settle(t);
                Ok(())
            }
            Op::Reject { who, task } => {
                let (who, t) = (someone_of(who), task_of(task));
                let task = &self.tasks[t];
                if task.poster != who {
                    return Err("not_poster");
                }
                if task.status != St::Delivered {
                    return Err("wrong_state");
                }
                let agent = task.claim.expect("delivered by someone");
                self.counters[agent].rejected += 1;
                self.hand_on(t);
                Ok(())
            }
            Op::Cancel { who, task } => {
                let (who, t) = (someone_of(who), task_of(task));
                let task = &self.tasks[t];
                if task.poster != who {
                    return Err("not_poster");
                }
                if !matches!(task.status, St::Open | St::Claimed) {
                    return Err("wrong_state");
                }
                self.refund(t, St::Cancelled);
                Ok(())
            }
            _ => unreachable!("the model makes no {op:?}"),
        }
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model {
            now: 0,
            balance: vec![Decimal::from(100); ACTORS],
            escrowed: vec![Decimal::ZERO; ACTORS],
            treasury: Decimal::from(-100 * ACTORS as i64),
            counters: vec![Counters::default(); ACTORS],
            tasks: Vec::new(),
            expect: Ok(()),
        })
        .boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let actor = || (0..ACTORS).prop_map(|a| u8::try_from(a).expect("few actors"));
        let someone = || (0..ACTORS).prop_map(someone_op);
        let post = (actor(), 0u8..60).prop_map(|(poster, bounty)| Op::Post {
            poster,
            bounty,
            kind: TaskKind::Plain,
        });
        // Up to two minutes (claims last 100 s), 8 to 128 minutes (reviews last 1,000 s),
        // or past a task's lifetime (10,080 s).
        let wait = prop_oneof![1u16..1000, (0u16..16).prop_map(|m| m * 8), Just(168)]
            .prop_map(|secs| Op::Wait { secs });
        if state.tasks.is_empty() {
            return prop_oneof![post, wait].boxed();
        }
        let post_weight = if state.tasks.len() < TASKS_MAX { 2 } else { 0 };
        let task = || (0..state.tasks.len()).prop_map(task_op);
        prop_oneof![
            post_weight => post,
            2 => wait,
            3 => (actor(), task()).prop_map(|(agent, task)| Op::Claim { agent, task }),
            2 => (actor(), task()).prop_map(|(agent, task)| Op::Join { agent, task }),
            1 => (someone(), task()).prop_map(|(agent, task)| Op::Leave { agent, task }),
            3 => (someone(), task()).prop_map(|(agent, task)| Op::Deliver { agent, task }),
            2 => (someone(), task())
                .prop_map(|(who, task)| Op::Accept { who, task, rating: 0 }),
            2 => (someone(), task()).prop_map(|(who, task)| Op::Reject { who, task }),
            1 => (someone(), task()).prop_map(|(who, task)| Op::Cancel { who, task }),
        ]
        .boxed()
    }

    fn preconditions(state: &Model, op: &Op) -> bool {
        match *op {
            Op::Post { .. } => state.tasks.len() < TASKS_MAX,
            Op::Wait { .. } => true,
            Op::Claim { task, .. }
            | Op::Join { task, .. }
            | Op::Leave { task, .. }
            | Op::Deliver { task, .. }
            | Op::Accept { task, .. }
            | Op::Reject { task, .. }
            | Op::Cancel { task, .. } => task_of(task) < state.tasks.len(),
            _ => false,
        }
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        state.expect = state.step(op);
        state
    }
}

struct Sut {
    runtime: tokio::runtime::Runtime,
    runner: Runner<MemoryStore>,
}

struct EngineTest;

impl StateMachineTest for EngineTest {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let fx = Fixture::with_policy(MemoryStore::new(), policy());
        fx.clock
            .set(chrono::DateTime::from_timestamp(0, 0).expect("epoch"));
        let runner = runtime.block_on(Runner::new(fx, ACTORS));
        Sut { runtime, runner }
    }

    fn apply(mut sut: Sut, model: &Model, op: Op) -> Sut {
        let result = sut.runtime.block_on(async {
            let result = sut.runner.apply(&op).await;
            if matches!(op, Op::Wait { .. }) {
                // Every deadline the wait passed, as the model applies them.
                sut.runner.apply(&Op::Sweep { limit: 15 }).await?;
            }
            result
        });
        let got = result.map_err(|e| e.code());
        assert_eq!(got, model.expect, "{op:?}");
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        sut.runtime.block_on(async {
            let runner = &sut.runner;
            let m = &runner.fx.market;
            assert_eq!(runner.tasks.len(), model.tasks.len());
            for (id, mt) in runner.tasks.iter().zip(&model.tasks) {
                let t = m.store().task(*id).await.unwrap().unwrap();
                let status = match t.status {
                    TaskStatus::Open => St::Open,
                    TaskStatus::Claimed => St::Claimed,
                    TaskStatus::Delivered => St::Delivered,
                    TaskStatus::Completed => St::Completed,
                    TaskStatus::Cancelled => St::Cancelled,
                    TaskStatus::Expired => St::Expired,
                };
                assert_eq!(status, mt.status, "task {id}");
                let index = |a: &IdentityId| runner.actors.iter().position(|x| x == a).unwrap();
                assert_eq!(
                    t.claimant().map(index),
                    (mt.status == St::Claimed).then_some(mt.claim).flatten()
                );
                assert_eq!(
                    t.queue.iter().map(|e| index(&e.agent)).collect::<Vec<_>>(),
                    mt.queue
                );
                assert_eq!(t.bounty, mt.bounty);
            }
            for (i, id) in runner.actors.iter().enumerate() {
                let b = m.balance(id).await.unwrap();
                assert_eq!(
                    (b.balance, b.escrowed),
                    (model.balance[i], model.escrowed[i]),
                    "actor {i}"
                );
                let r = m.reputation(id).await.unwrap().counters;
                let got = Counters {
                    claims: r.claims,
                    ghosts: r.ghosts,
                    delivered: r.delivered,
                    accepted: r.accepted,
                    rejected: r.rejected,
                    total: r.total,
                };
                assert_eq!(got, model.counters[i], "actor {i} reputation");
            }
            assert_eq!(m.treasury().await.unwrap(), model.treasury);
            runner.fx.assert_invariants().await;
        });
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_reference_model(sequential 1..80 => EngineTest);
}
