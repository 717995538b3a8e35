//! Arbitrary command sequences from several actors, with an advancing clock, into the
//! in-memory engine: after every step every invariant of DESIGN.md §3 holds, and a refused
//! command changed nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketplace_core::Policy;
use marketplace_core::testkit::{ops_from_bytes, run_checked};

fuzz_target!(|data: &[u8]| {
    let Some((&preset, rest)) = data.split_first() else {
        return;
    };
    let policy = if preset % 2 == 0 {
        Policy::agora()
    } else {
        Policy::agentmarket()
    };
    marketplace_fuzz::block_on(run_checked(&ops_from_bytes(rest), policy));
});
