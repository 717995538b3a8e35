//! Property tests: random command sequences from several actors with a manual clock; after
//! every step every invariant of the marketplace holds, and a refused command changed nothing.

use marketplace_core::testkit::{
    Fixture, Runner, ops_from_bytes, ops_from_seed, run_checked, snapshot,
};
use marketplace_core::{ClaimVia, EventData, EventKind, MemoryStore, Policy};
use proptest::prelude::*;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Agora's numbers (credit, no grant): balances go negative within the credit limit.
    #[test]
    fn invariants_hold_agora(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        block_on(run_checked(&ops_from_bytes(&bytes), Policy::agora()));
    }

    /// AgentMarket's numbers (grant, no credit).
    #[test]
    fn invariants_hold_agentmarket(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        block_on(run_checked(&ops_from_bytes(&bytes), Policy::agentmarket()));
    }
}

/// The random runs are not vacuous: across a few seeds every ending happens, and most
/// commands succeed.
#[test]
fn random_runs_reach_every_ending() {
    block_on(async {
        let (mut completed, mut cancelled, mut expired, mut ok, mut refused) = (0, 0, 0, 0, 0);
        let (mut brokered, mut contracted, mut chained) = (0, 0, 0);
        for seed in 0..6 {
            let ops = ops_from_seed(seed, 400);
            let (o, r) = run_checked(&ops, Policy::agentmarket()).await;
            ok += o;
            refused += r;
            let mut runner = Runner::new(
                Fixture::with_policy(MemoryStore::new(), Policy::agentmarket()),
                5,
            )
            .await;
            for op in &ops {
                let _ = runner.apply(op).await;
            }
            let (c, x, e) = runner.finals().await;
            let snap = snapshot(runner.fx.market.store()).await;
            let via = |v: ClaimVia| {
                snap.events
                    .iter()
                    .filter(|e| {
                        e.kind == EventKind::TaskClaimed && e.data == EventData::Claim { via: v }
                    })
                    .count()
            };
            brokered += via(ClaimVia::Broker);
            contracted += via(ClaimVia::Contract);
            chained += snap
                .tasks
                .iter()
                .filter(|t| t.spec.text.starts_with("then: "))
                .count();
            completed += c;
            cancelled += x;
            expired += e;
        }
        assert!(
            completed > 10 && cancelled > 0 && expired > 0,
            "completed {completed}, cancelled {cancelled}, expired {expired}"
        );
        assert!(ok > refused / 4, "{ok} succeeded, {refused} refused");
        assert!(
            brokered > 0 && contracted > 0 && chained > 0,
            "broker {brokered}, contract {contracted}, chain {chained}"
        );
    });
}
