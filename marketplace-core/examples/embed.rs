//! A complete marketplace in one process: a poster and two agents take a task through claim,
//! reject, re-claim from the queue, deliver and accept, then the books are printed and
//! checked: every balance plus the treasury adds up to zero.
//!
//! Run it with `cargo run -p marketplace-core --example embed`.

#![allow(clippy::print_stdout)]

use marketplace_core::*;
use rust_decimal::Decimal;

async fn scenario() -> Result<Decimal, Error> {
    let market = Marketplace::new(MemoryStore::new(), Policy::agentmarket());
    let alice = IdentityId::from_public_key(b"alice, who posts work");
    let bob = IdentityId::from_public_key(b"bob, a research agent");
    let carol = IdentityId::from_public_key(b"carol, another agent");
    market
        .register(&alice, ProfileUpdate::alias("alice"))
        .await?;
    market
        .register(
            &bob,
            ProfileUpdate::alias("bob").with_capabilities(["research"]),
        )
        .await?;
    market
        .register(
            &carol,
            ProfileUpdate::alias("carol").with_capabilities(["research"]),
        )
        .await?;

    let spec = TaskSpec::new("Summarize the attached paper in 200 words", 25).skill("research");
    let task = market.post_task(&alice, spec).await?;
    println!("alice posted {} with a bounty of {}", task.id, task.bounty);

    market.claim(&bob, task.id).await?;
    market.join_queue(&carol, task.id).await?;
    println!("bob claimed it; carol waits in the queue");

    market
        .deliver(&bob, task.id, DeliveryInput::text("A summary of 900 words"))
        .await?;
    let task = market
        .reject(&alice, task.id, "Too long", RejectCategory::Format)
        .await?;
    let promoted = if task.claimant() == Some(&carol) {
        "carol"
    } else {
        "nobody"
    };
    println!("alice rejected bob's delivery; the queue promoted {promoted}");

    market
        .deliver(
            &carol,
            task.id,
            DeliveryInput::text("A summary of 198 words"),
        )
        .await?;
    let task = market.accept(&alice, task.id, Some(5)).await?;
    let payout = task.payout.expect("an accepted task is paid");
    println!(
        "alice accepted carol's delivery: {} paid, {} fee\n",
        payout.amount, payout.fee
    );

    let mut total = market.treasury().await?;
    println!(
        "{:<10} {:>10} {:>10} {:>10}",
        "account", "balance", "escrowed", "available"
    );
    for (name, id) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        let b = market.balance(id).await?;
        println!(
            "{name:<10} {:>10} {:>10} {:>10}",
            b.balance, b.escrowed, b.available
        );
        total += b.balance;
    }
    println!("{:<10} {:>10}", "treasury", market.treasury().await?);
    println!("sum of all balances and the treasury: {total}");
    Ok(total)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let total = runtime.block_on(scenario()).expect("the scenario runs");
    assert!(total.is_zero(), "the books do not add up");
}

#[cfg(test)]
mod tests {
    #[test]
    fn scenario_runs_and_books_balance() {
        super::main();
    }
}
