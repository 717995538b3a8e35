//! The board in a real browser: headless Chromium driven over WebDriver (`chromedriver`),
//! against a real listening server. A person signs up and posts; an agent works the task
//! over the API; the person sees each step arrive without reloading, rejects, accepts with
//! a rating, and finds the money moved in the wallet. Hostile task text stays text.
//!
//! Screenshots of every page go to `target/tmp/board-screenshots/` for review.
//!
//! Where Chromium or its driver is missing the tests say so loudly and pass, unless
//! `MARKETPLACE_REQUIRE_BROWSER=1` (as `.ci/run` sets it): then they fail.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use marketplace_core::Policy;
use serde_json::json;

use crate::common::TestServer;

/// How long a page may take to show what it should.
const PATIENCE: Duration = Duration::from_secs(15);

/// An executable on the `PATH` (or at `MARKETPLACE_<NAME>`), by any of `names`.
fn executable(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Headless Chromium under its driver; the driver stops when this is dropped.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    shots: PathBuf,
}

impl Browser {
    /// A fresh browser; `None` (after a loud message) where none is installed and
    /// `MARKETPLACE_REQUIRE_BROWSER` is not set.
    async fn start() -> Option<Self> {
        let chromium = executable("MARKETPLACE_CHROMIUM", &["chromium", "chromium-browser"]);
        let driver = executable("MARKETPLACE_CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            assert!(
                std::env::var("MARKETPLACE_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "MARKETPLACE_REQUIRE_BROWSER=1 but chromium or chromedriver is missing \
                 (apt-get install chromium chromium-driver)"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "\n*** SKIPPED: no chromium and chromedriver on this machine \
                     (MARKETPLACE_REQUIRE_BROWSER=1 to fail) ***\n"
                );
            }
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1100,1400",
                ],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("board-screenshots");
                    std::fs::create_dir_all(&shots).unwrap();
                    return Some(Self {
                        client,
                        _driver: driver,
                        shots,
                    });
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session: {last_error:?}");
    }

    /// Writes a screenshot of the page as it is now, as `name.png`.
    async fn shoot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Fills the field with `id`.
    async fn fill(&self, id: &str, text: &str) {
        let field = self.client.find(Locator::Id(id)).await.expect(id);
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the button that says `label`.
    async fn press(&self, label: &str) {
        let xpath = format!("//button[normalize-space(.)='{label}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {label}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// The page's main text; empty while a page is loading or being replaced.
    async fn main_text(&self) -> String {
        match self.client.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the main text contains `text`, without reloading the page; fails after
    /// [`PATIENCE`].
    async fn sees(&self, text: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let shown = self.main_text().await;
            if shown.contains(text) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never saw {text:?}; the page shows:\n{shown}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A marker on the page's document: gone if the browser loaded another document.
    async fn mark(&self) {
        self.client
            .execute("window.stillTheSamePage = true;", vec![])
            .await
            .unwrap();
    }

    /// Whether the page is still the document [`Browser::mark`] marked.
    async fn still_marked(&self) -> bool {
        self.client
            .execute("return window.stillTheSamePage === true;", vec![])
            .await
            .unwrap()
            == json!(true)
    }
}

/// A person signs up and posts a task whose text is hostile; an agent claims and
/// delivers over the API while the person watches the task's page, which updates live;
/// the person rejects with feedback, the agent delivers again, the person accepts with a
/// rating, and the wallet shows the money moved.
#[tokio::test]
async fn a_person_watches_a_task_go_from_post_to_payment_live() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = TestServer::start(Policy::agora()).await;
    let base = format!("http://{}", server.address);
    let b = &browser.client;

    b.goto(&format!("{base}/")).await.unwrap();
    browser.shoot("board-empty").await;
    b.goto(&format!("{base}/signup")).await.unwrap();
    browser.shoot("signup").await;
    browser.fill("email", "grace@example.com").await;
    browser.fill("password", "a long passphrase").await;
    browser.fill("alias", "Grace").await;
    browser.press("Sign up").await;
    browser.sees("Board").await;
    assert_eq!(b.current_url().await.unwrap().path(), "/");

    b.goto(&format!("{base}/post")).await.unwrap();
    browser.shoot("post").await;
    let hostile = "<script>alert(1)</script> Summarise the attached report";
    browser.fill("text", hostile).await;
    browser.fill("title", "Summarise a report").await;
    browser.fill("bounty", "10").await;
    b.find(Locator::Id("require_review"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.press("Post").await;
    browser.sees("What is asked").await;
    let url = b.current_url().await.unwrap();
    let id = url
        .path()
        .strip_prefix("/tasks/")
        .expect("the task's page")
        .to_owned();
    // The hostile text is text: shown as typed, no script element made of it, no alert.
    let text = b
        .find(Locator::Css("p.text"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, hostile);
    let scripts = b
        .execute(
            "return Array.from(document.scripts).map(s => s.getAttribute('src'));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(scripts, json!([http_adapter::web::SCRIPT_PATH]));
    browser.shoot("task-open").await;

    // The agent works over the API; the person's page changes by itself.
    browser.mark().await;
    let (agent, agent_hash) = server.agent("agent").await;
    server.act(&agent, &id, "claim", json!({})).await;
    browser.sees("CLAIMED").await;
    server
        .act(&agent, &id, "deliver", json!({"text": "a first summary"}))
        .await;
    browser.sees("a first summary").await;
    browser.sees("Accept and pay").await;
    assert!(browser.still_marked().await, "the page was reloaded");
    browser.shoot("task-delivered").await;

    b.find(Locator::Id("category"))
        .await
        .unwrap()
        .select_by_value("incomplete")
        .await
        .unwrap();
    browser
        .fill("feedback", "Please cover the second half too.")
        .await;
    browser.press("Reject").await;
    browser.sees("Please cover the second half too.").await;
    browser.mark().await;
    server.act(&agent, &id, "claim", json!({})).await;
    server
        .act(&agent, &id, "deliver", json!({"text": "the whole summary"}))
        .await;
    browser.sees("the whole summary").await;
    assert!(browser.still_marked().await, "the page was reloaded");
    b.find(Locator::Id("rating"))
        .await
        .unwrap()
        .select_by_value("5")
        .await
        .unwrap();
    browser.press("Accept and pay").await;
    browser.sees("COMPLETED").await;
    browser.shoot("task-completed").await;

    // The money moved: the agent was paid over the API, the person's wallet shows the
    // bounty held and then paid, and draws the balance over time.
    let (_, balance) = server
        .json("GET", "/api/v1/balance", Some(&agent), None)
        .await;
    assert!(
        balance["balance"].as_f64().expect("a balance") > 0.0,
        "{balance}"
    );
    b.goto(&format!("{base}/wallet")).await.unwrap();
    browser.sees("Wallet").await;
    let wallet = browser.main_text().await;
    assert!(wallet.contains("escrow — bounty held"), "{wallet}");
    assert!(wallet.contains("release — bounty paid"), "{wallet}");
    assert!(wallet.contains("Spent\n10 credits"), "{wallet}");
    let chart = b
        .find(Locator::Css("figure.chart svg[role=img] title"))
        .await
        .expect("the history chart");
    assert_eq!(chart.html(true).await.unwrap(), "Balance and earnings");
    browser.shoot("wallet").await;
    b.goto(&format!("{base}/market")).await.unwrap();
    browser.sees("Open demand by skill").await;
    browser.shoot("market").await;
    b.goto(&format!("{base}/settings")).await.unwrap();
    browser.press("Make a new key").await;
    browser.sees("shown this once").await;
    let key = b
        .find(Locator::Id("secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (status, _) = server
        .json("GET", "/api/v1/balance", Some(&key), None)
        .await;
    assert_eq!(status, 200, "the key made on the page works");
    browser.shoot("settings").await;
    b.goto(&format!("{base}/me")).await.unwrap();
    browser.shoot("me").await;
    b.goto(&format!("{base}/profile/{agent_hash}"))
        .await
        .unwrap();
    browser.sees("Reputation").await;
    browser.shoot("profile").await;
    b.goto(&format!("{base}/")).await.unwrap();
    browser.shoot("board").await;
    // At a phone's width nothing is wider than the screen.
    b.set_window_size(390, 844).await.unwrap();
    for path in [
        "/",
        &format!("/tasks/{id}"),
        "/wallet",
        "/settings",
        "/post",
    ] {
        b.goto(&format!("{base}{path}")).await.unwrap();
        let fits = b
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(fits, json!(true), "{path} is wider than a phone");
    }
    b.goto(&format!("{base}/tasks/{id}")).await.unwrap();
    browser.shoot("phone-task").await;
    b.set_window_size(1100, 1400).await.unwrap();

    browser.press("Log out").await;
    browser.sees("Board").await;
    b.goto(&format!("{base}/login")).await.unwrap();
    browser.shoot("login").await;
    browser.client.clone().close().await.unwrap();
}

/// The board's list updates too: a task posted over the API appears on an open board.
#[tokio::test]
async fn the_board_shows_new_tasks_without_reloading() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = TestServer::start(Policy::agora()).await;
    let b = &browser.client;
    b.goto(&format!("http://{}/", server.address))
        .await
        .unwrap();
    browser.sees("No tasks match.").await;
    browser.mark().await;
    let (poster, _) = server.agent("poster").await;
    server
        .post_task(
            &poster,
            json!({"text": "<b>bold</b> new work", "bounty": 3}),
        )
        .await;
    browser.sees("<b>bold</b> new work").await;
    assert!(browser.still_marked().await, "the page was reloaded");
    assert!(
        b.find_all(Locator::Css("main b")).await.unwrap().is_empty(),
        "task text became markup"
    );
    browser.client.clone().close().await.unwrap();
}
