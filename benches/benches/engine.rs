//! In-memory engine throughput: full lifecycles per second on one thread, the pure `decide`
//! step alone, and a raw baseline of the same number of lock-read-write transactions.

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use benches::{RawBaseline, claim_view, lifecycle, market, spec};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use marketplace_core::decide::{Context, decide};
use marketplace_core::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn lifecycles(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("memory");
    group.throughput(Throughput::Elements(1));
    group.bench_function("lifecycle", |b| {
        // A fresh marketplace per sample keeps memory bounded; set-up is not timed.
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (m, poster, worker) = market().await;
                let start = Instant::now();
                for _ in 0..iters {
                    lifecycle(&m, &poster, &worker).await;
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("touch_floor", |b| {
        // One command that loads a task and its poster and changes nothing: the engine's
        // fixed cost per command, for comparison with a lifecycle's four.
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (m, poster, _) = market().await;
                let task = m.post_task(&poster, spec()).await.expect("post");
                let start = Instant::now();
                for _ in 0..iters {
                    m.touch(task.id).await.expect("touch");
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("raw_baseline", |b| {
        let (task, account, line) = rt.block_on(async {
            let (m, poster, _) = market().await;
            let task = m.post_task(&poster, spec()).await.expect("post");
            let account = m
                .store()
                .account(&poster)
                .await
                .expect("account")
                .expect("exists");
            let line = m
                .transactions(&poster, None, None, 1)
                .await
                .expect("ledger")
                .remove(0);
            (task, account, line)
        });
        b.iter_custom(|iters| {
            rt.block_on(async {
                let raw = RawBaseline::default();
                let start = Instant::now();
                for _ in 0..iters {
                    raw.four_transactions(&task, &account, &line).await;
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

fn decide_step(c: &mut Criterion) {
    let rt = runtime();
    let (m, poster, worker) = rt.block_on(market());
    let task = rt.block_on(m.post_task(&poster, spec())).expect("post");
    let view = rt.block_on(claim_view(&m, task.id, &[&poster, &worker]));
    let policy = m.policy().clone();
    let command = Command::Claim {
        task: task.id,
        note: None,
    };
    let ctx = Context {
        now: m.now(),
        policy: &policy,
        seed: 7,
    };
    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));
    group.bench_function("claim", |b| {
        b.iter(|| {
            decide(std::hint::black_box(&view), Some(&worker), &command, &ctx).expect("decides")
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = lifecycles, decide_step
}
criterion_main!(benches);
