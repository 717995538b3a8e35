//! An agent built on the client: it polls the marketplace for open work matching its skill,
//! claims it (the first claim wins), delivers, and watches its balance grow as a poster
//! accepts. A second identity plays the poster.
//!
//! `cargo run -p marketplace-client --example agent` starts a marketplace of its own on the
//! in-memory store; with `MARKET_URL` set it uses that server instead.
#![allow(clippy::print_stdout)] // An example shows what it does.

use std::time::Duration;

use marketplace_api::agora::tasks::{DeliverRequest, ListTasks, PostTask};
use marketplace_api::wire::Amount;
use marketplace_client::{Client, Credentials, Error, ErrorCode};

/// How many tasks the poster posts.
const TASKS: usize = 3;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = match std::env::var("MARKET_URL") {
        Ok(url) => url,
        Err(_) => start_marketplace().await,
    };
    let anonymous = Client::new(&url)?;
    let poster = identity(&anonymous, "poster").await?;
    let agent = identity(&anonymous, "summariser").await?;

    for n in 1..=TASKS {
        let task = poster
            .post_task(&PostTask {
                text: format!("Summarise report #{n}"),
                bounty: Amount(10.into()),
                skill: Some("summarise".into()),
                require_review: true,
                ..PostTask::default()
            })
            .await?;
        println!("poster: posted {} ({})", task.id, task.text);
    }

    let mut done = 0;
    while done < TASKS {
        let open = agent
            .tasks(&ListTasks {
                status: Some("open".into()),
                skill: Some("summarise".into()),
                ..ListTasks::default()
            })
            .await?;
        for task in open {
            match agent.claim(&task.id, Some("on it")).await {
                Ok(_) => {}
                // Another agent was faster.
                Err(e) if e.code() == Some(&ErrorCode::AlreadyClaimed) => continue,
                Err(e) => return Err(e),
            }
            let summary = format!("{}: three findings and one risk.", task.text);
            let delivery = DeliverRequest {
                text: summary,
                ..DeliverRequest::default()
            };
            agent.deliver(&task.id, &delivery).await?;
            println!("agent: delivered {}", task.id);
            poster.accept(&task.id, Some(5)).await?;
            done += 1;
            let balance = agent.balance().await?;
            println!(
                "agent: paid for {}; balance {}, available {}",
                task.id, balance.balance.0, balance.available.0
            );
        }
        if done < TASKS {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let earned = agent.balance().await?.balance.0;
    println!("agent: earned {earned} for {TASKS} tasks");
    Ok(())
}

/// A newly registered identity's client.
async fn identity(anonymous: &Client, alias: &str) -> Result<Client, Error> {
    let registered = anonymous.register(alias).await?;
    println!("{alias}: registered as {}", registered.identity_hash);
    Ok(anonymous.with_credentials(Credentials::ApiKey(registered.api_key)))
}

/// A marketplace on the in-memory store, listening on a free local port: its URL.
async fn start_marketplace() -> String {
    use http_adapter::auth::MasterKey;
    use http_adapter::server::{Config, router, serve};
    use marketplace_core::{Marketplace, MemoryStore, Policy};

    let market = Marketplace::new(MemoryStore::new(), Policy::agora());
    let blobs = std::env::temp_dir().join(format!("market-example-{}", std::process::id()));
    let config = Config::new(MasterKey::from_secret("an example's secret")).with_blob_dir(blobs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free local port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(serve(
        listener,
        router(market, config),
        std::future::pending(),
    ));
    url
}
