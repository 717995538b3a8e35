//! The `marketplace-server` binary as a user runs it: a real process on a real port, its
//! SQLite default file, its subcommands and its shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use marketplace_core::{Marketplace, Policy, ProfileUpdate, TaskSpec};
use storage_sqlite::{SqliteOptions, SqliteStore};

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marketplace-server"));
    for var in [
        "DATABASE_URL",
        "MARKETPLACE_LISTEN",
        "MARKETPLACE_PRESET",
        "MARKETPLACE_BLOB_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// A running server and the address it printed.
struct Running {
    child: Child,
    address: SocketAddr,
}

impl Running {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = server()
            .current_dir(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start marketplace-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let address = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self { child, address }
    }

    /// `GET path`: the status code and body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("receive");
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn terminate(mut self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "exit after SIGTERM: {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still running 15 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn serves_on_the_default_sqlite_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path(), &[]);
    let (status, body) = running.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(running.get("/no-such-route").0, 404);
    assert!(
        dir.path().join("marketplace.db").is_file(),
        "created on first start"
    );
    assert!(dir.path().join("marketplace-blobs").is_dir());
    running.terminate();
}

#[test]
fn migrate_creates_the_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = server()
        .current_dir(dir.path())
        .args(["migrate", "--database-url", "sqlite://fresh.db"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrated sqlite://fresh.db"));
    assert!(dir.path().join("fresh.db").is_file());
}

#[test]
fn each_subcommand_shows_and_takes_only_its_own_flags() {
    let help = |args: &[&str]| {
        let output = server().args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    for args in [&["--help"][..], &["serve", "--help"]] {
        let text = help(args);
        for flag in [
            "--listen",
            "--database-url",
            "--blob-grace-secs",
            "--max-connections",
        ] {
            assert!(text.contains(flag), "{args:?} lacks {flag}:\n{text}");
        }
    }
    for subcommand in ["audit", "migrate"] {
        let text = help(&[subcommand, "--help"]);
        assert!(text.contains("--database-url"), "{text}");
        for flag in ["--listen", "--secret", "--preset", "--rate-limit-ip"] {
            assert!(
                !text.contains(flag),
                "{subcommand} --help shows {flag}:\n{text}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let output = server()
            .current_dir(dir.path())
            .args([subcommand, "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{subcommand}: {output:?}");
    }
}

#[test]
fn unknown_flags_and_presets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["--preset", "cheap"][..], &["--no-such-flag"][..]] {
        let output = server()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    }
    assert!(
        !dir.path().join("marketplace.db").exists(),
        "nothing created"
    );
}

#[test]
fn memory_serves_an_ephemeral_market_and_unknown_schemes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path(), &["--database-url", "memory://"]);
    let (status, body) = running.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let (status, body) = running.get("/api/v1/tasks");
    assert_eq!((status, body.as_str()), (200, "[]"));
    running.terminate();
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "marketplace-blobs")
        .collect();
    assert!(
        written.is_empty(),
        "memory:// writes no database: {written:?}"
    );

    for url in [
        "mysql://root@127.0.0.1/test",
        "sqlte://typo.db",
        "memory://named",
    ] {
        let output = server()
            .current_dir(dir.path())
            .args(["--database-url", url])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{url}: {output:?}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            said.contains("unknown database URL scheme"),
            "{url}: {said}"
        );
    }
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "marketplace-blobs")
        .collect();
    assert!(written.is_empty(), "nothing created: {written:?}");
}

fn audit(db: &Path) -> (bool, String) {
    let url = format!("sqlite://{}", db.display());
    let output = server()
        .args(["audit", "--database-url", &url])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn audit_checks_every_invariant_and_fails_on_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audited.db");
    let options = SqliteOptions::file(&db);
    {
        let store = SqliteStore::open(options.clone()).await.unwrap();
        let market = Marketplace::new(store.clone(), Policy::agora());
        let alice = marketplace_core::IdentityId::from_public_key(b"alice");
        market
            .register(&alice, ProfileUpdate::alias("alice"))
            .await
            .unwrap();
        market
            .post_task(&alice, TaskSpec::new("audit me", 10))
            .await
            .unwrap();
        store.close().await;
    }
    let (clean, report) = audit(&db);
    assert!(clean, "{report}");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 7, "one line per check:\n{report}");
    assert!(lines.iter().all(|l| l.starts_with("ok ")), "{report}");

    // Money appears from nowhere: the audit must notice and fail.
    let pool = sqlx::SqlitePool::connect_with(options.connect_options())
        .await
        .unwrap();
    sqlx::query("UPDATE accounts SET balance = '1000000'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (clean, report) = audit(&db);
    assert!(!clean, "a violation must fail the audit:\n{report}");
    assert!(report.lines().any(|l| l.starts_with("FAIL ")), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_postgres_when_the_url_says_so() {
    if !storage_postgres::testkit::postgres_ready() {
        return;
    }
    let (_scratch, url) = storage_postgres::testkit::ScratchDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let running = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || Running::start(&dir, &["--database-url", &url, "--preset", "agentmarket"])
    })
    .await
    .unwrap();
    let running = tokio::task::spawn_blocking(move || {
        let (status, body) = running.get("/healthz");
        assert_eq!(status, 200, "{body}");
        running
    })
    .await
    .unwrap();
    assert!(
        !dir.path().join("marketplace.db").exists(),
        "no SQLite file"
    );
    tokio::task::spawn_blocking(move || running.terminate())
        .await
        .unwrap();
}
