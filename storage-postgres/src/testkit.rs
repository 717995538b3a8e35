//! Test support, behind the `testkit` feature: scratch databases on a test server, and the
//! conformance [`Harness`](marketplace_core::testkit::Harness) that gives every case a fresh
//! one.
//!
//! `DATABASE_URL` names the server (default `postgres://postgres@127.0.0.1:5432/test`).
//! Where none answers, [`postgres_ready`] says so loudly and tests skip — unless
//! `MARKETPLACE_REQUIRE_PG=1`, when it panics, so CI never passes without PostgreSQL.

#![allow(clippy::print_stderr)] // the skip message must be seen

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::PgStore;
use sqlx::{Connection, Executor, PgConnection};

/// The server tests use.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn with_database(url: &str, name: &str) -> String {
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    format!("{base}/{name}")
}

/// Whether the server answers. Without one, cases are skipped loudly, unless
/// `MARKETPLACE_REQUIRE_PG=1`: then this panics, so CI never passes without PostgreSQL.
pub fn postgres_ready() -> bool {
    let url = server_url();
    let host_port = url
        .split('@')
        .next_back()
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let host_port = if host_port.contains(':') {
        host_port
    } else {
        format!("{host_port}:5432")
    };
    let reachable = host_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    if !reachable {
        assert!(
            std::env::var("MARKETPLACE_REQUIRE_PG").as_deref() != Ok("1"),
            "MARKETPLACE_REQUIRE_PG=1 but no PostgreSQL server answers at {host_port}"
        );
        eprintln!(
            "\n*** SKIPPED: no PostgreSQL server at {host_port} (set DATABASE_URL, or MARKETPLACE_REQUIRE_PG=1 to fail) ***\n"
        );
    }
    reachable
}

/// A database created for one test, dropped when this is dropped.
pub struct ScratchDatabase {
    server: String,
    name: String,
}

impl ScratchDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> (Self, String) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "market_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let server = server_url();
        let mut admin = PgConnection::connect(&server)
            .await
            .expect("connect to the test server");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        let url = with_database(&server, &name);
        (Self { server, name }, url)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&server).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The conformance harness: a fresh database per case.
pub struct PgHarness;

impl marketplace_core::testkit::Harness for PgHarness {
    type Store = PgStore;
    type Guard = ScratchDatabase;

    async fn store(&self) -> (PgStore, ScratchDatabase) {
        let (scratch, url) = ScratchDatabase::create().await;
        let store = PgStore::connect(&url, 8)
            .await
            .expect("connect and migrate");
        (store, scratch)
    }
}
