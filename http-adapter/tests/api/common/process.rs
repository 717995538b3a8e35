//! Real `marketplace-server` processes for tests: started on a database, called over HTTP,
//! killed with SIGKILL, and audited with the binary's own `audit` subcommand.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The secret every test process shares (replicas must).
const SECRET: &str = "process tests";

/// A running `marketplace-server`, killed when dropped.
pub(crate) struct Process {
    child: Child,
    pub(crate) address: SocketAddr,
}

impl Process {
    /// Starts the binary on `database_url`, listening on `listen` (`127.0.0.1:0` for any
    /// port), with blobs under `dir` and `args` after the common ones; waits until it
    /// listens.
    pub(crate) fn start(database_url: &str, dir: &Path, listen: &str, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace-server"))
            .args(["--listen", listen, "--database-url", database_url])
            .arg("--blob-dir")
            .arg(dir.join("blobs"))
            .args(["--rate-limit-ip", "0", "--rate-limit-identity", "0"])
            .args(args)
            .env("MARKETPLACE_SECRET", SECRET)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self { child, address }
    }

    /// A JSON request, with an API key if given.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let text = body.to_string();
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(key) = key {
            headers.push(("X-API-Key", key));
        }
        let (status, _, body) =
            super::request(self.address, method, path, &headers, Some(text.as_bytes())).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Registers an agent through `POST /api/v1/auth/register`: its API key.
    pub(crate) async fn register(&self, alias: &str) -> String {
        let body = serde_json::json!({ "alias": alias });
        let (status, body) = self.call("POST", "/api/v1/auth/register", None, body).await;
        assert_eq!(status, 201, "{body}");
        body["api_key"].as_str().unwrap().to_owned()
    }

    /// The sum of a metric's series in this process's `/metrics`.
    pub(crate) async fn metric(&self, name: &str) -> u64 {
        let (_, _, body) = super::request(self.address, "GET", "/metrics", &[], None).await;
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }

    /// The process's peak resident memory so far (`VmHWM`), in bytes.
    pub(crate) fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kib * 1024
    }

    /// SIGKILL, and wait until it is gone.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two replicas of the server on one scratch PostgreSQL database.
pub(crate) struct Replicas {
    /// Both processes.
    pub(crate) processes: Vec<Process>,
    url: String,
    _dir: tempfile::TempDir,
    _database: storage_postgres::testkit::ScratchDatabase,
}

impl Replicas {
    /// Two processes with `args` on a fresh database; `None` (after a loud message) where no
    /// PostgreSQL answers and `MARKETPLACE_REQUIRE_PG` is not set.
    pub(crate) async fn start(args: &[&str]) -> Option<Self> {
        if !storage_postgres::testkit::postgres_ready() {
            return None;
        }
        let (database, url) = storage_postgres::testkit::ScratchDatabase::create().await;
        let dir = tempfile::tempdir().unwrap();
        let processes = (0..2)
            .map(|_| Process::start(&url, dir.path(), "127.0.0.1:0", args))
            .collect();
        Some(Self {
            processes,
            url,
            _dir: dir,
            _database: database,
        })
    }

    /// Stops both processes, then audits the database; panics on a violation.
    pub(crate) fn stop_and_audit(mut self) {
        self.processes.clear();
        let (clean, report) = audit(&self.url);
        assert!(clean, "the audit:\n{report}");
    }
}

/// `marketplace-server audit` on `database_url`: whether it passed, and what it printed.
pub(crate) fn audit(database_url: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_marketplace-server"))
        .args(["audit", "--database-url", database_url])
        .env("MARKETPLACE_SECRET", SECRET)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// One request that may fail: `None` when the connection fails or no complete answer
/// comes within `within`.
pub(crate) async fn try_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    within: Duration,
) -> Option<(u16, Value)> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
        let status = std::str::from_utf8(&response[..split])
            .ok()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        let body = serde_json::from_slice(&response[split + 4..]).unwrap_or(Value::Null);
        Some((status, body))
    };
    tokio::time::timeout(within, exchange).await.ok().flatten()
}
