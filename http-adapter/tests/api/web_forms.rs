//! The board's forms beyond the task's life: settings (profile, keys, webhook, rules,
//! contracts), refusals beside their fields, a form sent many times at once, a delivery
//! with a file, the market's charts and the pages' live stream.

use std::time::Duration;

use marketplace_core::Policy;
use serde_json::json;

use crate::common::TestServer;
use crate::web::{BROWSER, Person, page};

/// The value of header `name`.
fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The secret a settings page shows once.
fn secret_on(page: &str) -> String {
    page.split("<code id=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no secret shown: {page}"))
        .to_owned()
}

/// Every setting through its form: the profile; a key made (shown once, on a page no
/// cache keeps), used and revoked; the webhook set (its secret shown once) and refused
/// for a private address beside its field; a test ping without a URL refused; a rule
/// added and deleted; a contract proposed, accepted by its agent and cancelled.
#[tokio::test]
async fn settings_change_through_their_forms() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, headers, _) = server.send_raw("GET", "/settings", &[BROWSER], None).await;
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/login"))
    );
    let mut person = Person::signed_up(&server, "set@example.com").await;
    let (status, settings) = person.page("/settings").await;
    assert_eq!(status, 200);
    for section in ["profile", "keys", "webhook", "rules", "contracts"] {
        assert!(
            settings.contains(&format!("<section id=\"{section}\"")),
            "{section}"
        );
    }

    // The profile.
    let profile = [
        ("action", "profile"),
        ("alias", "Set"),
        ("bio", "I <b>proofread</b>"),
        ("avatar_emoji", "📚"),
        ("capabilities", "proofreading, translation"),
        ("price_per_task", "4.5"),
    ];
    let (status, location, _) = person.submit("/settings", &profile).await;
    assert_eq!((status, location.as_str()), (303, "/settings#profile"));
    let (_, settings) = person.page("/settings").await;
    assert!(
        settings.contains("I &lt;b&gt;proofread&lt;/b&gt;"),
        "{settings}"
    );
    let own = settings
        .split("href=\"/profile/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let (_, shown) = server
        .json("GET", &format!("/api/v1/profile/{own}"), None, None)
        .await;
    assert_eq!(
        shown["capabilities"],
        json!(["proofreading", "translation"])
    );
    assert_eq!(shown["bio"], "I <b>proofread</b>");
    let bad = [
        ("action", "profile"),
        ("alias", "Set"),
        ("price_per_task", "lots"),
    ];
    let (status, _, refused) = person.submit("/settings", &bad).await;
    assert_eq!(status, 400);
    assert!(refused.contains("id=\"price_per_task-error\""), "{refused}");
    assert!(
        refused.contains("value=\"lots\""),
        "what was typed is kept: {refused}"
    );

    // A key: shown once, working, then revoked.
    let (status, _, made) = person
        .submit("/settings", &[("action", "create_key")])
        .await;
    assert_eq!(status, 200);
    let key = secret_on(&made);
    assert!(key.starts_with("ak_"), "{key}");
    let (status, _) = server
        .json("GET", "/api/v1/balance", Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let (_, again) = person.page("/settings").await;
    assert!(!again.contains(&key), "a key is shown once");
    let prefix = &key[..11];
    let revoke = [("action", "revoke_key"), ("prefix", prefix)];
    let (status, location, _) = person.submit("/settings", &revoke).await;
    assert_eq!((status, location.as_str()), (303, "/settings#keys"));
    let (status, _) = server
        .json("GET", "/api/v1/balance", Some(&key), None)
        .await;
    assert_eq!(status, 401, "a revoked key opens nothing");

    // The webhook.
    let (status, _, refused) = person
        .submit("/settings", &[("action", "test_webhook")])
        .await;
    assert_eq!(status, 400);
    assert!(
        refused.contains("No webhook_url or callback_url is set."),
        "{refused}"
    );
    let private = [
        ("action", "webhook"),
        ("webhook_url", "https://127.0.0.1/hook"),
    ];
    let (status, _, refused) = person.submit("/settings", &private).await;
    assert_eq!(status, 400);
    assert!(refused.contains("id=\"webhook_url-error\""), "{refused}");
    let hook = [
        ("action", "webhook"),
        ("webhook_url", "https://hooks.example.com/market"),
        ("events", "task.claimed"),
        ("events", "task.delivered"),
    ];
    let (status, _, set) = person.submit("/settings", &hook).await;
    assert_eq!(status, 200);
    assert!(secret_on(&set).starts_with("whsec_"), "{set}");
    let (_, again) = person.page("/settings").await;
    assert!(
        again.contains("value=\"task.delivered\" checked"),
        "{again}"
    );
    assert!(!again.contains("value=\"task.posted\" checked"), "{again}");
    // Events changed without typing the URL again keep the URL; removing is a choice.
    let events_only = [("action", "webhook"), ("events", "task.accepted")];
    assert_eq!(person.submit("/settings", &events_only).await.0, 303);
    let (_, _, made) = person
        .submit("/settings", &[("action", "create_key")])
        .await;
    let reader = secret_on(&made);
    let (_, hook) = server
        .with_key("GET", "/api/agents/me/webhook", &reader, json!(null))
        .await;
    assert_eq!(hook["data"]["events"], json!(["task.accepted"]), "{hook}");
    assert!(
        hook["data"]["webhook_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("market")),
        "{hook}"
    );
    let remove = [("action", "webhook"), ("remove_webhook", "true")];
    assert_eq!(person.submit("/settings", &remove).await.0, 303);
    let (_, hook) = server
        .with_key("GET", "/api/agents/me/webhook", &reader, json!(null))
        .await;
    assert_eq!(hook["data"]["webhook_url"], json!(null), "{hook}");

    // A rule.
    let (status, _, refused) = person
        .submit(
            "/settings",
            &[
                ("action", "create_rule"),
                ("rule_capabilities", "research"),
                ("max_concurrent", "many"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused.contains("id=\"max_concurrent-error\""), "{refused}");
    let rule = [
        ("action", "create_rule"),
        ("rule_capabilities", "research, writing"),
        ("min_bounty", "2"),
        ("max_concurrent", "2"),
    ];
    let (status, location, _) = person.submit("/settings", &rule).await;
    assert_eq!((status, location.as_str()), (303, "/settings#rules"));
    let (_, settings) = person.page("/settings").await;
    assert!(
        settings.contains("Tasks needing research or writing"),
        "{settings}"
    );
    let rule_id = settings
        .split("name=\"rule_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let delete = [("action", "delete_rule"), ("rule_id", rule_id.as_str())];
    assert_eq!(person.submit("/settings", &delete).await.0, 303);
    let (_, settings) = person.page("/settings").await;
    assert!(settings.contains("No rules."), "{settings}");

    // A contract: proposed here, accepted by the agent over the API, cancelled here.
    let (agent, agent_id) = server.agent("contractor").await;
    let proposal = [
        ("action", "propose_contract"),
        ("agent", agent_id.as_str()),
        ("contract_price", "3"),
        ("max_tasks", "5"),
    ];
    let (status, location, _) = person.submit("/settings", &proposal).await;
    assert_eq!((status, location.as_str()), (303, "/settings#contracts"));
    let (_, contracts) = server
        .json("GET", "/api/v1/contracts", Some(&agent), None)
        .await;
    let contract = contracts[0]["id"].as_str().unwrap().to_owned();
    let accepted = server
        .json(
            "POST",
            &format!("/api/v1/contracts/{contract}"),
            Some(&agent),
            Some(json!({"action": "accept"})),
        )
        .await;
    assert_eq!(accepted.0, 200, "{accepted:?}");
    let (_, settings) = person.page("/settings").await;
    assert!(settings.contains("0 of 5 used"), "{settings}");
    let cancel = [
        ("action", "cancel_contract"),
        ("contract_id", contract.as_str()),
    ];
    assert_eq!(person.submit("/settings", &cancel).await.0, 303);
    let (_, contracts) = server
        .json("GET", "/api/v1/contracts", Some(&agent), None)
        .await;
    assert_eq!(contracts[0]["status"], "cancelled");

    // Nothing from another origin.
    person.origin = "https://evil.example".to_owned();
    let (status, _, _) = person
        .submit("/settings", &[("action", "create_key")])
        .await;
    assert_eq!(status, 403);
}

/// A refused post comes back with the refusal beside the field that caused it, the field
/// marked invalid, and everything typed kept.
#[tokio::test]
async fn refusals_show_beside_their_fields() {
    let server = TestServer::start(Policy::agora()).await;
    let mut person = Person::signed_up(&server, "typo@example.com").await;
    let form = [("text", "count the <b>birds</b>"), ("bounty", "twelve")];
    let (status, _, refused) = person.submit("/post", &form).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused.contains("<strong class=\"field-error\" id=\"bounty-error\">"),
        "{refused}"
    );
    assert!(
        refused.contains("aria-describedby=\"bounty-help bounty-error\""),
        "{refused}"
    );
    assert!(refused.contains("aria-invalid=\"true\""), "{refused}");
    assert!(refused.contains("value=\"twelve\""), "{refused}");
    assert!(
        refused.contains("count the &lt;b&gt;birds&lt;/b&gt;</textarea>"),
        "{refused}"
    );
    assert!(
        refused.contains("href=\"#bounty\""),
        "the summary links the field"
    );

    // A field among "More options" opens them.
    let form = [("text", "count"), ("bounty", "1"), ("claim_ttl", "soon")];
    let (status, _, refused) = person.submit("/post", &form).await;
    assert_eq!(status, 400);
    assert!(refused.contains("id=\"claim_ttl-error\""), "{refused}");
    assert!(refused.contains("<details open"), "{refused}");

    // More than the person can spend.
    let form = [("text", "count"), ("bounty", "1000000")];
    let (status, _, refused) = person.submit("/post", &form).await;
    assert_eq!(status, 402, "{refused}");
    assert!(
        refused.contains("You do not have enough credits"),
        "{refused}"
    );
    let (_, tasks) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(tasks, json!([]), "nothing refused was posted");

    // Every option the form offers reaches the task.
    let form = [
        ("text", "translate {{result}}"),
        ("bounty", "5"),
        ("title", "A translation"),
        ("skill", "translation"),
        ("capabilities", "french, german"),
        ("expires_in", "3600"),
        ("claim_ttl", "600"),
        ("max_turnaround_s", "1800"),
        ("topic", "languages"),
        ("escalation_rate", "1"),
        ("escalation_interval_hours", "2"),
        ("escalation_cap", "9"),
        ("min_auto_accept_accepted", "4"),
        ("result_schema", "{\"type\": \"object\"}"),
        ("next_text", "check the translation"),
        ("next_bounty", "1"),
        ("require_review", "true"),
    ];
    let (status, location, _) = person.submit("/post", &form).await;
    assert_eq!(status, 303);
    let id = location.strip_prefix("/tasks/").unwrap();
    let (_, task) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), None, None)
        .await;
    assert_eq!(task["title"], "A translation");
    assert_eq!(task["required_capabilities"], json!(["french", "german"]));
    assert_eq!(task["claim_ttl"], 600);
    assert_eq!(task["max_turnaround_s"], 1800);
    assert_eq!(task["topic"], "languages");
    assert_eq!(task["bounty_escalation"]["interval_hours"], 2);
    assert_eq!(task["result_schema"], json!({"type": "object"}));
    assert_eq!(task["has_chain_next"], true);
    assert_eq!(task["require_review"], true);
}

/// One form sent 24 times at once — a person hammering the button, a browser resending —
/// posts one task and holds one bounty, on SQLite and on PostgreSQL.
#[tokio::test]
async fn a_form_sent_many_times_at_once_acts_once() {
    form_sent_many_times_at_once(&TestServer::start(Policy::agora()).await).await;
    if let Some(server) = TestServer::start_postgres(Policy::agora()).await {
        form_sent_many_times_at_once(&server).await;
    }
}

async fn form_sent_many_times_at_once<S: marketplace_core::store::Backend + Clone>(
    server: &TestServer<S>,
) {
    let person = Person::signed_up(server, "eager@example.com").await;
    let (_, form) = person.page("/post").await;
    let key = form
        .split("name=\"idempotency_key\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries a key")
        .to_owned();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("idempotency_key", key.as_str()),
            ("text", "once only"),
            ("bounty", "7"),
        ])
        .finish();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(24));
    let person = std::sync::Arc::new(person);
    let sends = (0..24).map(|_| {
        let (barrier, person, body) = (barrier.clone(), person.clone(), body.clone());
        async move {
            barrier.wait().await;
            person
                .send(
                    "/post",
                    "application/x-www-form-urlencoded",
                    body.as_bytes(),
                )
                .await
        }
    });
    let answers = futures::future::join_all(sends).await;
    let mut places = std::collections::BTreeSet::new();
    for (status, headers, text) in &answers {
        // Each is the posted task, or (while the first is still in flight) a refusal that
        // says so; never a second task.
        match status {
            303 => {
                places.insert(header(headers, "location").unwrap().to_owned());
            }
            409 => assert!(text.contains("role=\"alert\""), "{text}"),
            other => panic!("{other}: {text}"),
        }
    }
    assert_eq!(places.len(), 1, "{places:?}");
    let (_, tasks) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(tasks.as_array().unwrap().len(), 1, "{tasks}");
    let (_, wallet) = person.page("/wallet").await;
    assert!(
        wallet.contains("<dt>Held in escrow</dt><dd>7 credits</dd>"),
        "{wallet}"
    );
}

/// A delivery with a file: linked on the task's page, served inert to those who may see
/// the delivery, and to no one else.
#[tokio::test]
async fn a_delivered_file_is_linked_never_shown_inline() {
    let server = TestServer::start(Policy::agora()).await;
    let mut poster = Person::signed_up(&server, "poster@example.com").await;
    let mut worker = Person::signed_up(&server, "worker@example.com").await;
    let outsider = Person::signed_up(&server, "outsider@example.com").await;
    let form = [
        ("text", "make a page"),
        ("bounty", "2"),
        ("require_review", "true"),
        ("private", "true"),
    ];
    let (_, task_page, _) = poster.submit("/post", &form).await;
    assert_eq!(
        worker.submit(&task_page, &[("action", "claim")]).await.0,
        303
    );
    let (_, shown) = worker.page(&task_page).await;
    let action = shown
        .split("enctype=\"multipart/form-data\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the deliver form")
        .replace("&amp;", "&");
    assert!(action.contains("/deliver?idempotency_key="), "{action}");
    let boundary = "XboundaryX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nthe page is attached\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"page.html\"\r\n\
         Content-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--{boundary}--\r\n"
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, headers, text) = worker.send(&action, &content_type, body.as_bytes()).await;
    assert_eq!(status, 303, "{text}");
    assert_eq!(header(&headers, "location"), Some(task_page.as_str()));
    // The same form sent again (its key reused) delivers nothing more.
    let (status, _, _) = worker.send(&action, &content_type, body.as_bytes()).await;
    assert!(status == 303 || status == 409, "{status}");

    let (_, shown) = poster.page(&task_page).await;
    assert!(shown.contains("the page is attached"), "{shown}");
    let link = shown
        .split("/files/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the file")
        .to_owned();
    assert!(!shown.contains("<script>alert(1)"), "{shown}");
    let file = format!("{task_page}/files/{link}");
    let (status, headers, bytes) = poster.get(&file).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, b"<script>alert(1)</script>");
    assert_eq!(
        header(&headers, "content-security-policy"),
        Some(http_adapter::agora::artifacts::ARTIFACT_CSP)
    );
    assert_eq!(header(&headers, "content-disposition"), Some("attachment"));
    let (status, _, bytes) = outsider.get(&file).await;
    assert_eq!(status, 404, "a private delivery's file stays private");
    assert!(!bytes.windows(8).any(|w| w == b"<script>"));
    let (status, headers, _) = server.send_raw("GET", &file, &[BROWSER], None).await;
    assert_eq!(
        (status, header(&headers, "location")),
        (303, Some("/login"))
    );
}

/// The market page draws the signals as SVG with their figures as text; a hostile skill
/// name stays text.
#[tokio::test]
async fn the_market_page_draws_the_signals() {
    let server = TestServer::start(Policy::agora()).await;
    let (empty_status, empty) = page(&server, "/market").await;
    assert_eq!(empty_status, 200);
    assert!(empty.contains("Nothing to draw yet."), "{empty}");
    let (poster, _) = server.agent("poster").await;
    for (skill, bounty) in [("writing", 4), ("writing", 6), ("<svg/onload=x>", 1)] {
        server
            .post_task(
                &poster,
                json!({"text": "work", "bounty": bounty, "skill": skill}),
            )
            .await;
    }
    let (status, market) = page(&server, "/market").await;
    assert_eq!(status, 200);
    assert!(market.contains("role=\"img\""), "{market}");
    assert!(
        market.contains("<title id=\"demand-title\">Open bounty by skill</title>"),
        "{market}"
    );
    assert!(market.contains("10 credits in 2 open tasks"), "{market}");
    assert!(market.contains("&lt;svg/onload=x&gt;"), "{market}");
    assert!(!market.contains("<svg/onload"), "{market}");
}

/// The pages' stream (`/live`): for a session's viewer, from the page's `after`, what the
/// viewer may see — its own task's claim, not a stranger's.
#[tokio::test]
async fn the_pages_stream_follows_the_sessions_viewer() {
    let server = TestServer::start(Policy::agora()).await;
    let mut person = Person::signed_up(&server, "watch@example.com").await;
    let (_, task_page, _) = person
        .submit("/post", &[("text", "watch me"), ("bounty", "1")])
        .await;
    let (_, shown) = person.page(&task_page).await;
    let since = shown
        .split("data-since=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let id = task_page.strip_prefix("/tasks/").unwrap();
    let (agent, _) = server.agent("agent").await;
    let (other, _) = server.agent("other").await;
    let elsewhere = server
        .post_task(&other, json!({"text": "not yours", "bounty": 1}))
        .await;
    let (third, _) = server.agent("third").await;
    server.act(&third, &elsewhere, "claim", json!({})).await;
    server.act(&agent, id, "claim", json!({})).await;

    let cookie = format!("market_session={}", person.cookie.clone().unwrap());
    let response = reqwest::Client::new()
        .get(format!("http://{}/live?after={since}", server.address))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut response = response;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("event: task.claimed") {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("no claim event: {other:?} after {text}"),
        }
    }
    let claimed: Vec<&str> = text
        .split("\n\n")
        .filter(|block| block.contains("event: task.claimed"))
        .collect();
    assert_eq!(claimed.len(), 1, "{text}");
    assert!(claimed[0].contains(id), "{text}");
}

/// The board's posts are read apart from its tasks: a question asked before many tasks
/// were posted still shows beside them.
#[tokio::test]
async fn board_posts_show_however_many_tasks_follow_them() {
    let server = TestServer::start(Policy::agora()).await;
    let (author, _) = server.agent("asker").await;
    let (status, _) = server
        .json(
            "POST",
            "/api/v1/posts",
            Some(&author),
            Some(json!({"type": "question", "text": "Who translates <i>Finnish</i>?"})),
        )
        .await;
    assert_eq!(status, 201);
    for n in 0..40 {
        server
            .post_task(&author, json!({"text": format!("task {n}"), "bounty": 0}))
            .await;
    }
    let (_, board) = page(&server, "/").await;
    let posts = board.split("id=\"posts-heading\"").nth(1).unwrap();
    assert!(
        posts.contains("Who translates &lt;i&gt;Finnish&lt;/i&gt;?"),
        "{posts}"
    );
}

/// My work lists what I wait on in a queue and what I delivered that waits for review.
#[tokio::test]
async fn my_work_shows_my_queue_places_and_deliveries() {
    let server = TestServer::start(Policy::agora()).await;
    let mut person = Person::signed_up(&server, "busy@example.com").await;
    let (poster, _) = server.agent("poster").await;
    let (rival, _) = server.agent("rival").await;
    let waited = server
        .post_task(
            &poster,
            json!({"text": "a task someone else holds", "bounty": 1}),
        )
        .await;
    let worked = server
        .post_task(
            &poster,
            json!({"text": "a task I deliver", "bounty": 1, "require_review": true}),
        )
        .await;
    server.act(&rival, &waited, "claim", json!({})).await;
    let waited_page = format!("/tasks/{waited}");
    assert_eq!(
        person.submit(&waited_page, &[("action", "queue")]).await.0,
        303
    );
    let worked_page = format!("/tasks/{worked}");
    assert_eq!(
        person.submit(&worked_page, &[("action", "claim")]).await.0,
        303
    );
    let delivery = [("action", "deliver"), ("text", "done")];
    assert_eq!(person.submit(&worked_page, &delivery).await.0, 303);

    let (status, me) = person.page("/me").await;
    assert_eq!(status, 200);
    let section = |id: &str| {
        me.split(&format!("id=\"{id}-heading\""))
            .nth(1)
            .and_then(|rest| rest.split("</section>").next())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        section("queued").contains("a task someone else holds"),
        "{me}"
    );
    assert!(!section("queued").contains("a task I deliver"), "{me}");
    assert!(section("delivered").contains("a task I deliver"), "{me}");
    assert!(section("claimed").contains("None."), "{me}");
}

/// Every page, for each kind of caller: a stranger sees the public pages and is sent to
/// log in for the rest; an agent's API key opens no page (pages read only the session); a
/// signed-in person sees them all. Each page carries the board's security headers.
#[tokio::test]
async fn every_page_answers_each_kind_of_caller() {
    let server = TestServer::start(Policy::agora()).await;
    let person = Person::signed_up(&server, "all@example.com").await;
    let (agent, agent_id) = server.agent("agent").await;
    let task = server
        .post_task(&agent, json!({"text": "a page", "bounty": 1}))
        .await;
    let task_page = format!("/tasks/{task}");
    let profile = format!("/profile/{agent_id}");
    let public = ["/", &task_page, "/market", &profile, "/signup", "/login"];
    let private = ["/post", "/me", "/wallet", "/settings"];
    let bearer = format!("Bearer {agent}");
    for path in public.iter().chain(&private) {
        let is_public = public.contains(path);
        for key in [None, Some(bearer.as_str())] {
            let mut headers = vec![BROWSER];
            if let Some(key) = key {
                headers.push(("Authorization", key));
            }
            let (status, answer, _) = server.send_raw("GET", path, &headers, None).await;
            if is_public {
                assert_eq!(status, 200, "{path} as {key:?}");
                assert_eq!(
                    header(&answer, "content-security-policy"),
                    Some(http_adapter::web::CONTENT_SECURITY_POLICY_VALUE),
                    "{path}"
                );
            } else {
                assert_eq!(
                    (status, header(&answer, "location")),
                    (303, Some("/login")),
                    "{path} as {key:?}"
                );
            }
        }
        let (status, answer, _) = person.get(path).await;
        assert_eq!(status, 200, "{path} signed in");
        assert_eq!(header(&answer, "x-frame-options"), Some("DENY"), "{path}");
    }
}
