//! The real `marketplace-server`, started as a child process for the load generators.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server started as a child process; killed when dropped.
#[derive(Debug)]
pub struct Server {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Server {
    /// Starts `program` with `args` and waits for the `listening on http://ADDRESS` line
    /// the servers print first.
    ///
    /// # Panics
    ///
    /// When the program does not start or prints no address first.
    pub fn start(program: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let address = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Self { child, address }
    }

    /// A figure of the process's `/proc` status (`VmRSS`, `VmHWM`, …), in KiB.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB; `None` without `/proc`.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM")
    }

    /// The CPU time the process has used so far, user and kernel (from `/proc/PID/stat`, at
    /// the kernel's 100 ticks a second); `None` without `/proc`.
    pub fn cpu_time(&self) -> Option<(Duration, Duration)> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // The fields after the command name, which is in parentheses and may hold spaces:
        // `utime` and `stime` are the 14th and 15th of the line.
        let rest = stat.rsplit_once(')')?.1;
        let mut fields = rest.split_whitespace().skip(11);
        let user: u64 = fields.next()?.parse().ok()?;
        let system: u64 = fields.next()?.parse().ok()?;
        let tick = |n: u64| Duration::from_millis(n.saturating_mul(10));
        Some((tick(user), tick(system)))
    }

    /// Bytes the process has caused to be written to storage so far (`write_bytes` of
    /// `/proc/PID/io`: its database's WAL, checkpoints and files, counted as the pages are
    /// dirtied); `None` without `/proc`.
    pub fn written_bytes(&self) -> Option<u64> {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).ok()?;
        io.lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))?
            .trim()
            .parse()
            .ok()
    }

    /// The process's resident memory now (`VmRSS`), in KiB; `None` without `/proc`.
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }
}

/// The machine's CPU time so far, from `/proc/stat`: busy (user, nice, system, interrupts)
/// and stolen, in clock ticks. `None` where the file is not there.
pub fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    Some((at(0) + at(1) + at(2) + at(5) + at(6), at(7)))
}

/// The CPU time used so far by the processes on this machine named `name` (`/proc/*/stat`),
/// user and kernel, their exited children's included: a counter that only grows while
/// such processes come and go, as a PostgreSQL server's backends do (a backend's time
/// moves to its postmaster's children's when it exits). `None` without `/proc`.
pub fn cpu_time_of(name: &str) -> Option<Duration> {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // gone meanwhile
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if head.split_once('(').map(|(_, comm)| comm) != Some(name) {
            continue;
        }
        // `utime`, `stime`, `cutime`, `cstime`: the 14th to 17th fields of the line.
        ticks += rest
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|n| n.parse::<u64>().ok())
            .sum::<u64>();
    }
    Some(Duration::from_millis(ticks.saturating_mul(10)))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `marketplace-server` binary: `named`, or the one beside the running binary (built
/// first, in the same profile, when run by cargo).
///
/// # Panics
///
/// When the build fails or no binary is there.
pub fn server_binary(named: Option<&Path>) -> PathBuf {
    if let Some(bin) = named {
        return bin.to_owned();
    }
    let this = std::env::current_exe().expect("this binary");
    if let Ok(cargo) = std::env::var("CARGO") {
        // The same profile as this binary's (`target/release` or `target/debug`).
        let release = this.parent().is_some_and(|dir| dir.ends_with("release"));
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "-q",
            "-p",
            "http-adapter",
            "--bin",
            "marketplace-server",
        ]);
        if release {
            build.arg("--release");
        }
        let built = build.status().expect("cargo build");
        assert!(built.success(), "building marketplace-server failed");
    }
    let bin = this.with_file_name("marketplace-server");
    assert!(
        bin.exists(),
        "{} not found: build it (cargo build --release -p http-adapter) or pass --server-bin",
        bin.display()
    );
    bin
}
