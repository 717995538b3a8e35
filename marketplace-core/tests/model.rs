//! Model-based test: the engine against a small, independent reference model of the task
//! lifecycle (post, claim, queue, deliver, accept, reject, cancel, claim expiry, review TTL,
//! task expiry), checked after every transition: result codes, every task's state, claimant
//! and queue, every balance and escrow, the treasury, and the reputation counters.

use marketplace_core::testkit::Fixture;
use marketplace_core::*;
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use rust_decimal::Decimal;

const ACTORS: usize = 5;
const CLAIM_TTL: i64 = 100;
const REVIEW_TTL: i64 = 1_000;
const LIFETIME: i64 = 10_000;
const QUEUE_MAX: usize = 3;

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

#[derive(Debug, Clone)]
enum Tr {
    Post { poster: usize, bounty: u32 },
    Claim { agent: usize, task: usize },
    Join { agent: usize, task: usize },
    Leave { agent: usize, task: usize },
    Deliver { agent: usize, task: usize },
    Accept { who: usize, task: usize },
    Reject { who: usize, task: usize },
    Cancel { who: usize, task: usize },
    Wait { secs: i64 },
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

    fn step(&mut self, tr: &Tr) -> Result<(), &'static str> {
        match *tr {
            Tr::Wait { secs } => {
                self.now += secs;
                self.deadlines();
                Ok(())
            }
            Tr::Post { poster, bounty } => {
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
            Tr::Claim { agent, task: t } => {
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
            Tr::Join { agent, task: t } => {
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
            Tr::Leave { agent, task: t } => {
                let queue = &mut self.tasks[t].queue;
                let before = queue.len();
                queue.retain(|a| *a != agent);
                if queue.len() == before {
                    Err("not_queued")
                } else {
                    Ok(())
                }
            }
            Tr::Deliver { agent, task: t } => {
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
            Tr::Accept { who, task: t } => {
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
            Tr::Reject { who, task: t } => {
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
            Tr::Cancel { who, task: t } => {
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
        }
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Tr;

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

    fn transitions(state: &Model) -> BoxedStrategy<Tr> {
        let a = 0..ACTORS;
        let post = (a.clone(), 0u32..60).prop_map(|(poster, bounty)| Tr::Post { poster, bounty });
        let wait =
            prop_oneof![0i64..150, 0i64..1500, Just(LIFETIME)].prop_map(|secs| Tr::Wait { secs });
        if state.tasks.is_empty() {
            return prop_oneof![post, wait].boxed();
        }
        let t = 0..state.tasks.len();
        prop_oneof![
            2 => post,
            2 => wait,
            3 => (a.clone(), t.clone()).prop_map(|(agent, task)| Tr::Claim { agent, task }),
            2 => (a.clone(), t.clone()).prop_map(|(agent, task)| Tr::Join { agent, task }),
            1 => (a.clone(), t.clone()).prop_map(|(agent, task)| Tr::Leave { agent, task }),
            3 => (a.clone(), t.clone()).prop_map(|(agent, task)| Tr::Deliver { agent, task }),
            2 => (a.clone(), t.clone()).prop_map(|(who, task)| Tr::Accept { who, task }),
            2 => (a.clone(), t.clone()).prop_map(|(who, task)| Tr::Reject { who, task }),
            1 => (a, t).prop_map(|(who, task)| Tr::Cancel { who, task }),
        ]
        .boxed()
    }

    fn preconditions(state: &Model, tr: &Tr) -> bool {
        match *tr {
            Tr::Post { .. } | Tr::Wait { .. } => true,
            Tr::Claim { task, .. }
            | Tr::Join { task, .. }
            | Tr::Leave { task, .. }
            | Tr::Deliver { task, .. }
            | Tr::Accept { task, .. }
            | Tr::Reject { task, .. }
            | Tr::Cancel { task, .. } => task < state.tasks.len(),
        }
    }

    fn apply(mut state: Model, tr: &Tr) -> Model {
        state.expect = state.step(tr);
        state
    }
}

struct Sut {
    runtime: tokio::runtime::Runtime,
    fx: Fixture<MemoryStore>,
    actors: Vec<IdentityId>,
    tasks: Vec<TaskId>,
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
        let actors = runtime.block_on(async {
            let mut ids = Vec::new();
            for i in 0..ACTORS {
                ids.push(fx.agent(&format!("model-{i}")).await);
            }
            ids
        });
        Sut {
            runtime,
            fx,
            actors,
            tasks: Vec::new(),
        }
    }

    fn apply(mut sut: Sut, model: &Model, tr: Tr) -> Sut {
        let m = &sut.fx.market;
        let who = |i: usize| &sut.actors[i];
        let task = |i: usize| sut.tasks[i];
        let result: Result<Option<TaskId>, Error> = sut.runtime.block_on(async {
            match tr {
                Tr::Wait { secs } => {
                    sut.fx.advance(secs);
                    m.sweep(10_000).await.map(|_| None)
                }
                Tr::Post { poster, bounty } => m
                    .post_task(who(poster), TaskSpec::new("work", bounty))
                    .await
                    .map(|t| Some(t.id)),
                Tr::Claim { agent, task: t } => m.claim(who(agent), task(t)).await.map(|_| None),
                Tr::Join { agent, task: t } => {
                    m.join_queue(who(agent), task(t)).await.map(|_| None)
                }
                Tr::Leave { agent, task: t } => {
                    m.leave_queue(who(agent), task(t)).await.map(|_| None)
                }
                Tr::Deliver { agent, task: t } => m
                    .deliver(who(agent), task(t), DeliveryInput::text("r"))
                    .await
                    .map(|_| None),
                Tr::Accept { who: w, task: t } => {
                    m.accept(who(w), task(t), None).await.map(|_| None)
                }
                Tr::Reject { who: w, task: t } => m
                    .reject(who(w), task(t), "no", RejectCategory::Quality)
                    .await
                    .map(|_| None),
                Tr::Cancel { who: w, task: t } => m.cancel(who(w), task(t)).await.map(|_| None),
            }
        });
        let got = result.as_ref().map(drop).map_err(Error::code);
        assert_eq!(got, model.expect, "{tr:?}");
        if let Ok(Some(id)) = result {
            sut.tasks.push(id);
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        sut.runtime.block_on(async {
            let m = &sut.fx.market;
            assert_eq!(sut.tasks.len(), model.tasks.len());
            for (id, mt) in sut.tasks.iter().zip(&model.tasks) {
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
                let index = |a: &IdentityId| sut.actors.iter().position(|x| x == a).unwrap();
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
            for (i, id) in sut.actors.iter().enumerate() {
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
            sut.fx.assert_invariants().await;
        });
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_reference_model(sequential 1..80 => EngineTest);
}
