//! Arbitrary command sequences from several actors, with an advancing clock, into the
//! in-memory engine: after every step every invariant of DESIGN.md §3 holds, and a refused
//! command changed nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketplace_core::audit::audit;
use marketplace_core::testkit::{Fixture, Runner, ops_from_bytes, snapshot};
use marketplace_core::{MemoryStore, Policy};

fuzz_target!(|data: &[u8]| {
    let Some((&preset, rest)) = data.split_first() else {
        return;
    };
    let policy = if preset % 2 == 0 {
        Policy::agora()
    } else {
        Policy::agentmarket()
    };
    let ops = ops_from_bytes(rest);
    marketplace_fuzz::block_on(async move {
        let mut runner = Runner::new(Fixture::with_policy(MemoryStore::new(), policy), 5).await;
        for (step, op) in ops.iter().enumerate() {
            let before = snapshot(runner.fx.market.store()).await;
            if let Err(e) = runner.apply(op).await {
                let after = snapshot(runner.fx.market.store()).await;
                assert!(
                    after == before,
                    "step {step}: refused {op:?} ({e}) changed state"
                );
            }
            let report = audit(
                runner.fx.market.store(),
                runner.fx.market.policy().queue_max,
            )
            .await
            .expect("audit reads the store");
            assert!(
                report.is_clean(),
                "step {step} after {op:?}:\n{}",
                report.violations().join("\n")
            );
        }
    });
});
