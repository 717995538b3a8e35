//! `market` run as a process against a real listening server: a whole lifecycle by two
//! identities kept in profiles of one config file, `--json` parsed back, and exit statuses
//! that tell a refusal from an unreachable server.

// The client tests' server; they use all of it, these tests a part.
#[allow(dead_code)]
#[path = "client/common.rs"]
mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::Server;
use marketplace_core::Policy;
use serde_json::Value;

/// A run of `market` with the config file `config`, the profile `profile` and `args`:
/// its exit status, stdout and stderr.
async fn market(config: &Path, profile: &str, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::cargo_bin("market").unwrap();
    command
        .env_remove("MARKET_URL")
        .env_remove("MARKET_API_KEY")
        .env_remove("MARKET_PROFILE")
        .arg("--config")
        .arg(config)
        .args(["--profile", profile])
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A run that must succeed, its `--json` output parsed.
async fn json(config: &Path, profile: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (status, stdout, stderr) = market(config, profile, &all).await;
    assert_eq!(status, 0, "market {args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn config_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("market").join("config.toml")
}

async fn lifecycle(server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let url = server.url.as_str();
    let poster = json(&config, "poster", &["--url", url, "register", "poster"]).await;
    let worker = json(&config, "worker", &["--url", url, "register", "worker"]).await;
    // The keys and the server are kept in the profiles: later runs name neither.
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(saved.contains(poster["api_key"].as_str().unwrap()));
    assert!(saved.contains(url));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the config file holds secrets: {mode:o}");
    }

    let task = json(
        &config,
        "poster",
        &[
            "post",
            "Summarise the quarterly report",
            "--bounty",
            "10",
            "--require-review",
            "--skill",
            "summarise",
            "--capability",
            "writing",
            "--claim-ttl",
            "600",
        ],
    )
    .await;
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(task["status"], "open");
    assert_eq!(task["bounty"], 10);
    assert_eq!(task["claim_ttl"], 600);

    let open = json(
        &config,
        "worker",
        &["tasks", "--status", "open", "--skill", "summarise"],
    )
    .await;
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str())
    );
    let (status, table, _) = market(&config, "worker", &["tasks", "--status", "open"]).await;
    assert_eq!(status, 0);
    assert!(table.contains("STATUS") && table.contains(&id), "{table}");

    let claimed = json(&config, "worker", &["claim", &id, "--note", "on it"]).await;
    assert_eq!(claimed["claimed_by"], worker["identity_hash"]);
    let file = dir.path().join("summary.txt");
    std::fs::write(&file, b"three findings, one risk").unwrap();
    let delivered = json(
        &config,
        "worker",
        &[
            "deliver",
            &id,
            "--text",
            "see the file",
            "--file",
            file.to_str().unwrap(),
            "--content-type",
            "text/plain",
        ],
    )
    .await;
    assert_eq!(delivered["status"], "delivered");
    assert!(
        delivered["result"]["meta"]["artifact_hash"].is_string(),
        "{delivered}"
    );

    // A rejection with its category reopens the task; the worker claims and delivers again.
    let (status, _, stderr) =
        market(&config, "poster", &["reject", &id, "--category", "sloppy"]).await;
    assert_eq!(status, 2, "an unknown category is a usage error: {stderr}");
    let rejected = json(
        &config,
        "poster",
        &[
            "reject",
            &id,
            "--category",
            "incomplete",
            "--text",
            "the risks are missing",
        ],
    )
    .await;
    assert_eq!(
        rejected["rejections"][0]["category"], "incomplete",
        "{rejected}"
    );
    json(&config, "worker", &["claim", &id]).await;
    json(
        &config,
        "worker",
        &[
            "deliver",
            &id,
            "--text",
            "now with the risks",
            "--meta",
            r#"{"output": {"risks": 1}}"#,
        ],
    )
    .await;

    let accepted = json(&config, "poster", &["accept", &id, "--rating", "5"]).await;
    assert_eq!(accepted["status"], "completed");
    // 10 less the agora preset's 12 % fee.
    let balance = json(&config, "worker", &["balance"]).await;
    assert_eq!(balance["balance"], 8.8);
    let me = json(&config, "worker", &["whoami"]).await;
    assert_eq!(me["identity_hash"], worker["identity_hash"]);
    let ledger = json(&config, "worker", &["transactions"]).await;
    assert!(
        ledger
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["task_id"] == id.as_str())
    );

    // Refused by the rules: exit 1, the code on stderr, nothing on stdout.
    let (status, stdout, stderr) = market(&config, "worker", &["claim", &id]).await;
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("wrong_state"), "{stderr}");
    assert!(stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_lifecycle_from_the_shell_on_sqlite() {
    lifecycle(&Server::sqlite(Policy::agora()).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_lifecycle_from_the_shell_on_postgres() {
    let Some(server) = Server::postgres(Policy::agora()).await else {
        return;
    };
    lifecycle(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_statuses_tell_a_refusal_from_an_unreachable_server() {
    let server = Server::sqlite(Policy::agora()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    // No credentials: the marketplace refuses (1).
    let (status, _, stderr) = market(&config, "x", &["--url", &server.url, "balance"]).await;
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("unauthorized"), "{stderr}");
    // Nothing listens there: unreachable (3).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}");
    let (status, _, stderr) = market(&config, "x", &["--url", &url, "tasks"]).await;
    assert_eq!(status, 3, "{stderr}");
    // A usage error (2), and a local problem: a config file that is not TOML (4).
    let (status, _, _) = market(&config, "x", &["claim"]).await;
    assert_eq!(status, 2);
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "this is [not toml").unwrap();
    let (status, _, stderr) = market(&config, "x", &["--url", &server.url, "tasks"]).await;
    assert_eq!(status, 4, "{stderr}");
    // A file to deliver that does not exist: local (4), and nothing is delivered.
    std::fs::remove_file(&config).unwrap();
    let (status, _, stderr) = market(
        &config,
        "x",
        &[
            "--url",
            &server.url,
            "--api-key",
            "ak_x",
            "deliver",
            "some-task",
            "--file",
            "/no/such/file",
        ],
    )
    .await;
    assert_eq!(status, 4, "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_bridge_carries_stdio_to_the_servers_mcp() {
    let server = Server::sqlite(Policy::agora()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    json(
        &config,
        "agent",
        &["--url", &server.url, "register", "agent"],
    )
    .await;
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"agora_balance","arguments":{}}}"#,
    ]
    .join("\n");
    let mut command = Command::cargo_bin("market").unwrap();
    command
        .arg("--config")
        .arg(&config)
        .args(["--profile", "agent", "mcp"])
        .write_stdin(input);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{stdout}");
    assert_eq!(answers[0]["id"], 1);
    assert!(answers[0]["result"]["serverInfo"].is_object(), "{stdout}");
    assert_eq!(answers[1]["id"], 2);
    let text = answers[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("available"), "{stdout}");
}

/// The README's `market` block after `<!-- market-quick-start -->`, run as it stands by
/// bash, with the `market` just built first on the path and a config file of its own.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_shell_session_runs_verbatim() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let script = readme
        .split_once("<!-- market-quick-start -->\n```sh\n")
        .expect("the block")
        .1
        .split_once("\n```")
        .expect("its end")
        .0
        .to_owned();
    let server = Server::sqlite(Policy::agora()).await;
    let home = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_market"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let url = server.url.clone();
    let home_dir = home.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .env("PATH", path)
            .env("HOME", &home_dir)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("MARKET_CONFIG")
            .env_remove("MARKET_PROFILE")
            .env_remove("MARKET_API_KEY")
            .env("MARKET_URL", url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last: Vec<&str> = printed.lines().collect();
    assert!(
        last.iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["balance", "8.8"]),
        "{printed}"
    );
    assert!(home.path().join(".config/market/config.toml").exists());
}

/// `market watch` prints the events after the one named, and stops after `--count`;
/// `market completions` prints a shell's completion script.
#[tokio::test(flavor = "multi_thread")]
async fn watch_follows_events_and_completions_are_printed() {
    let server = Server::sqlite(Policy::agora()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir);
    let url = server.url.as_str();
    json(&config, "poster", &["--url", url, "register", "poster"]).await;
    let first = json(
        &config,
        "poster",
        &["post", "First to watch", "--bounty", "1"],
    )
    .await;
    let second = json(
        &config,
        "poster",
        &["post", "Second to watch", "--bounty", "1"],
    )
    .await;
    let (status, stdout, stderr) = market(
        &config,
        "watcher",
        &[
            "--url", url, "watch", "--after", "0", "--count", "2", "--json",
        ],
    )
    .await;
    assert_eq!(status, 0, "{stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let posted: Vec<&Value> = events.iter().map(|e| &e["task_id"]).collect();
    assert_eq!(posted, [&first["id"], &second["id"]], "{stdout}");
    assert!(events.iter().all(|e| e["kind"] == "task.posted"));

    let (status, script, _) = market(&config, "x", &["completions", "bash"]).await;
    assert_eq!(status, 0);
    assert!(
        script.contains("_market") && script.contains("deliver"),
        "{script}"
    );
}
