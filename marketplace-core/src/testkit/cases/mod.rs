//! The conformance cases, by area. Each takes a [`Harness`](super::Harness) and panics on
//! failure.

pub mod batches;
pub mod claims;
pub mod credentials;
pub mod deliveries;
pub mod differential;
pub mod lifecycle;
pub mod market;
pub mod outbox;
pub mod races;
pub mod timers;

use super::{Fixture, Harness};

/// A fixture on a fresh store of `h`.
pub(crate) async fn fixture<H: Harness>(h: &H) -> Fixture<H::Store> {
    let (store, guard) = h.store().await;
    Fixture::new(store).with_guard(guard)
}

/// Asserts that `result` failed with the error `code`.
#[track_caller]
pub(crate) fn assert_code<T: std::fmt::Debug>(result: Result<T, crate::Error>, code: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), code, "expected {code}, got {e}"),
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
    }
}
