//! The differential check: the store under test and the in-memory store, fed the same random
//! operations, must agree on every result and on the whole observable state.

use super::fixture;
use crate::testkit::{Harness, MemoryHarness, Runner, ops_from_seed, snapshot};

/// Operations per run.
const OPS: usize = 300;
/// Seeds run (each a fresh pair of stores).
const SEEDS: [u64; 3] = [1, 0xC0FFEE, 0x5EED_0003];

/// Random operation sequences give identical results and state on both stores.
pub async fn random_sequences_match_reference<H: Harness>(h: &H) {
    for seed in SEEDS {
        let mut subject = Runner::new(fixture(h).await, 6).await;
        let mut reference = Runner::new(fixture(&MemoryHarness).await, 6).await;
        for (step, op) in ops_from_seed(seed, OPS).iter().enumerate() {
            let got = subject.apply(op).await.map_err(|e| e.code());
            let want = reference.apply(op).await.map_err(|e| e.code());
            assert_eq!(got, want, "seed {seed:#x} step {step}: {op:?}");
            if step % 50 == 49 {
                let (a, b) = (
                    snapshot(subject.fx.market.store()).await,
                    snapshot(reference.fx.market.store()).await,
                );
                assert!(a == b, "seed {seed:#x}: state diverged by step {step}");
            }
        }
        assert_eq!(
            snapshot(subject.fx.market.store()).await,
            snapshot(reference.fx.market.store()).await
        );
        subject.fx.assert_invariants().await;
    }
}
