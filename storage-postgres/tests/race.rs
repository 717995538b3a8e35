//! Replicas racing on one database: several independent connection pools (one per
//! "replica", each with its own random id source, as separate processes would have) claim,
//! queue, deliver, accept, reject and cancel the same tasks at once. Afterwards every
//! invariant is checked from the database: each task claimed by one agent at a time, paid
//! at most once, money conserved, escrow equal to held bounties.

#![allow(clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use marketplace_core::audit::audit;
use marketplace_core::testkit::{dec, test_policy};
use marketplace_core::*;
use storage_postgres::PgStore;
use storage_postgres::testkit::{ScratchDatabase, postgres_ready};

const REPLICAS: usize = 4;
const WORKERS_PER_REPLICA: usize = 4;
const AGENTS: usize = 12;
const TASKS: usize = 120;
const COMMANDS_PER_WORKER: usize = 60;

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    refused: AtomicU64,
    storage: AtomicU64,
}

/// One "replica": its own connection pool, the shared (standing) clock, random ids.
async fn open_replica(url: &str, clock: &Arc<dyn Clock>) -> Marketplace<PgStore> {
    let store = PgStore::connect(url, 4).await.unwrap();
    Marketplace::new(store, test_policy()).with_clock(clock.clone())
}

fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_racing_on_one_database_keep_every_invariant() {
    if !postgres_ready() {
        return;
    }
    let (_scratch, url) = ScratchDatabase::create().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at_unix(1_767_225_600));
    let setup = open_replica(&url, &clock).await;
    let agents: Vec<IdentityId> = (0..AGENTS)
        .map(|i| IdentityId::from_public_key(format!("racer {i}").as_bytes()))
        .collect();
    for (i, a) in agents.iter().enumerate() {
        setup
            .register(a, ProfileUpdate::alias(format!("racer-{i}")))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let mut spec = TaskSpec::new(format!("contested {i}"), dec("7.5"));
        spec.require_review = i % 2 == 0;
        tasks.push(setup.post_task(&agents[i % AGENTS], spec).await.unwrap().id);
    }
    let tasks = Arc::new(tasks);
    let agents = Arc::new(agents);
    let tally = Arc::new(Tally::default());

    let mut handles = Vec::new();
    for replica in 0..REPLICAS {
        let market = open_replica(&url, &clock).await;
        for worker in 0..WORKERS_PER_REPLICA {
            let (market, tasks, agents, tally) =
                (market.clone(), tasks.clone(), agents.clone(), tally.clone());
            handles.push(tokio::spawn(async move {
                let mut rng = (replica * 1000 + worker) as u64 + 1;
                for _ in 0..COMMANDS_PER_WORKER {
                    let task = tasks[(next(&mut rng) % tasks.len() as u64) as usize];
                    let actor = &agents[(next(&mut rng) % agents.len() as u64) as usize];
                    let current = market.store().task(task).await.unwrap().unwrap();
                    // Mostly act as whoever can act, so the races are about real effects.
                    let (who, command) = match next(&mut rng) % 10 {
                        0..=2 => (actor.clone(), Command::Claim { task, note: None }),
                        3 => (actor.clone(), Command::JoinQueue { task }),
                        4..=6 => (
                            current
                                .claim
                                .as_ref()
                                .map_or(actor.clone(), |c| c.agent.clone()),
                            Command::Deliver {
                                task,
                                delivery: DeliveryInput::text("done"),
                            },
                        ),
                        7 => (
                            current.poster.clone(),
                            Command::Accept {
                                task,
                                rating: Some(4),
                            },
                        ),
                        8 => (
                            current.poster.clone(),
                            Command::Reject {
                                task,
                                text: "again".into(),
                                category: RejectCategory::Quality,
                            },
                        ),
                        _ => (current.poster.clone(), Command::Cancel { task }),
                    };
                    tally.sent.fetch_add(1, Ordering::Relaxed);
                    match market.execute(&who, command).await {
                        Ok(_) => tally.ok.fetch_add(1, Ordering::Relaxed),
                        Err(Error::Storage(e)) => {
                            eprintln!("storage error: {e}");
                            tally.storage.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(_) => tally.refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
    }
    for h in handles {
        h.await.unwrap();
    }

    let report = audit(setup.store(), setup.policy().queue_max)
        .await
        .unwrap();
    let violations: u64 = report.checks.iter().map(|c| c.violations).sum();
    eprintln!(
        "race: {REPLICAS} replicas x {WORKERS_PER_REPLICA} workers, {} commands sent, {} took effect, {} refused, {} storage errors, {violations} violations",
        tally.sent.load(Ordering::Relaxed),
        tally.ok.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        tally.storage.load(Ordering::Relaxed),
    );
    assert!(
        report.is_clean(),
        "invariants violated:\n{}",
        report.violations().join("\n")
    );
    assert_eq!(
        tally.storage.load(Ordering::Relaxed),
        0,
        "lost races must be retried, not surfaced"
    );
    assert!(
        tally.ok.load(Ordering::Relaxed) > (REPLICAS * WORKERS_PER_REPLICA) as u64,
        "the races must take effect"
    );
    setup.store().close().await;
}

const DISPATCHERS_PER_REPLICA: usize = 4;
const POSTS_BEFORE: usize = 150;
const POSTS_DURING: usize = 100;

/// Replicas dispatching one outbox: dispatchers on independent pools lease, "send" and
/// complete events while new ones are being written. No lease runs out (the clock stands
/// still), so an event sent twice can only come from two leases at once: there must be
/// none, and none may be left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_the_outbox_without_sending_twice() {
    if !postgres_ready() {
        return;
    }
    let (_scratch, url) = ScratchDatabase::create().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at_unix(1_767_225_600));
    let setup = open_replica(&url, &clock).await;
    let poster = IdentityId::from_public_key(b"outbox poster");
    setup
        .register(&poster, ProfileUpdate::alias("poster"))
        .await
        .unwrap();
    for i in 0..POSTS_BEFORE {
        setup
            .post_task(&poster, TaskSpec::new(format!("before {i}"), dec("0.1")))
            .await
            .unwrap();
    }
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (market, poster, writing) = (setup.clone(), poster.clone(), writing.clone());
        tokio::spawn(async move {
            for i in 0..POSTS_DURING {
                market
                    .post_task(&poster, TaskSpec::new(format!("during {i}"), dec("0.1")))
                    .await
                    .unwrap();
            }
            writing.store(false, Ordering::SeqCst);
        })
    };

    let sent = Arc::new(std::sync::Mutex::new(
        std::collections::BTreeMap::<u64, u32>::new(),
    ));
    let mut handles = Vec::new();
    for _ in 0..REPLICAS {
        let market = open_replica(&url, &clock).await;
        for _ in 0..DISPATCHERS_PER_REPLICA {
            let (market, sent, writing) = (market.clone(), sent.clone(), writing.clone());
            handles.push(tokio::spawn(async move {
                loop {
                    let still_writing = writing.load(Ordering::SeqCst);
                    let leased = market.lease_events(60, 8).await.unwrap();
                    if leased.is_empty() && !still_writing {
                        break;
                    }
                    for l in leased {
                        *sent.lock().unwrap().entry(l.event.seq).or_default() += 1;
                        assert!(market.complete_event(&l).await.unwrap(), "lease kept");
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
    }
    writer.await.unwrap();
    for h in handles {
        h.await.unwrap();
    }

    let mut written = Vec::new();
    loop {
        let after = written.last().copied().unwrap_or(0);
        let page = setup.events(after, 200).await.unwrap();
        if page.is_empty() {
            break;
        }
        written.extend(page.iter().map(|e| e.seq));
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let twice = sent.values().filter(|&&n| n > 1).count();
    let missing = written.iter().filter(|s| !sent.contains_key(s)).count();
    eprintln!(
        "outbox: {REPLICAS} replicas x {DISPATCHERS_PER_REPLICA} dispatchers, {} events written, {} sent, {twice} sent twice, {missing} left behind",
        written.len(),
        sent.len(),
    );
    assert!(written.len() > POSTS_BEFORE + POSTS_DURING);
    assert_eq!(twice, 0, "an event went to two dispatchers at once");
    assert_eq!(missing, 0, "every event is dispatched");
    assert!(setup.lease_events(60, 200).await.unwrap().is_empty());
    setup.store().close().await;
}

/// A claim locks its claimant, not its task's poster: while another transaction holds the
/// poster's account, a claim goes through, and a cancel (which refunds the poster) waits.
#[tokio::test]
async fn claims_do_not_wait_for_their_poster() {
    use sqlx::{Connection, Executor};
    if !postgres_ready() {
        return;
    }
    let (_database, url) = ScratchDatabase::create().await;
    let market = Marketplace::new(PgStore::connect(&url, 4).await.unwrap(), test_policy());
    let poster = IdentityId::from_public_key(b"busy poster");
    let worker = IdentityId::from_public_key(b"worker");
    for (id, alias) in [(&poster, "poster"), (&worker, "worker")] {
        market
            .register(id, ProfileUpdate::alias(alias))
            .await
            .unwrap();
    }
    let task = market
        .post_task(&poster, TaskSpec::new("t", 1))
        .await
        .unwrap();
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT 1 FROM accounts WHERE identity = $1 FOR UPDATE")
        .bind(poster.as_str())
        .execute(&mut holder)
        .await
        .unwrap();

    let claimed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        market.claim(&worker, task.id),
    )
    .await
    .expect("the claim does not wait for the poster's row")
    .unwrap();
    assert_eq!(claimed.claimant(), Some(&worker));
    let cancel = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        market.cancel(&poster, task.id),
    )
    .await;
    assert!(
        cancel.is_err(),
        "a cancel refunds the poster: it waits for the row"
    );

    holder.execute("ROLLBACK").await.unwrap();
    let cancelled = market.cancel(&poster, task.id).await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
}
