//! The README's quick start, run as it stands: its shell block against a real server.

use crate::common::TestServer;
use marketplace_core::Policy;

/// The README's block after `<!-- quick-start -->`.
fn quick_start() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let after = readme
        .split_once("<!-- quick-start -->\n```sh\n")
        .expect("a quick-start block")
        .1;
    after.split_once("\n```").expect("its end").0.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_quick_start_runs_verbatim() {
    let server = TestServer::start(Policy::agora()).await;
    let script = quick_start();
    let base = format!("http://{}", server.address);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .env("BASE", &base)
            .output()
            .expect("bash runs")
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let balances: Vec<serde_json::Value> = printed
        .lines()
        .rev()
        .take(2)
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // Printed poster first, worker last.
    assert_eq!(balances[1]["balance"], serde_json::json!(-10), "{printed}");
    assert_eq!(balances[0]["balance"], serde_json::json!(8.8), "{printed}");
    assert!(printed.contains(r#""status":"completed""#), "{printed}");
}
