//! Task rules: post, claim, extend, queue, deliver, accept, reject, cancel, bid, award,
//! message, settlement, promotion and the broker — one file per phase of a task's life,
//! each adding the rules of its phase to [`Work`](super::Work).

mod bidding;
mod broker;
mod claims;
mod ending;
mod posting;
mod review;
