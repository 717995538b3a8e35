//! The board's pages through a real listening server: status, headers, escaping of
//! hostile text, filters and paging, and nothing private shown to the wrong viewer.

use marketplace_core::Policy;
use serde_json::json;

use crate::common::TestServer;

pub(crate) const BROWSER: (&str, &str) = ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");

/// A page as a browser gets it: status, headers and text; the security headers checked.
pub(crate) async fn page(server: &TestServer, path: &str) -> (u16, String) {
    let (status, headers, body) = server.send_raw("GET", path, &[BROWSER], None).await;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{path}: no {name}"))
    };
    assert!(header("content-type").starts_with("text/html"), "{path}");
    assert_eq!(
        header("content-security-policy"),
        http_adapter::web::CONTENT_SECURITY_POLICY_VALUE
    );
    assert!(!header("content-security-policy").contains("unsafe-inline"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    let text = String::from_utf8(body).unwrap();
    // No script but the board's own file, and no inline style: the policy would refuse
    // them anyway.
    let own = format!(
        "<script src=\"{}\" defer></script>",
        http_adapter::web::SCRIPT_PATH
    );
    assert!(
        text.matches("<script").count() == text.matches(own.as_str()).count(),
        "{path}: a script element"
    );
    assert!(!text.contains("style="), "{path}: an inline style");
    (status, text)
}

#[tokio::test]
async fn the_board_shows_tasks_as_text_never_as_markup() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let hostile = r#"<script>alert(1)</script><img src=x onerror="alert(2)">"#;
    let id = server
        .post_task(
            &poster,
            json!({"text": hostile, "bounty": 7.5, "skill": "writing"}),
        )
        .await;
    let (status, board) = page(&server, "/").await;
    assert_eq!(status, 200);
    assert!(
        board.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img"),
        "{board}"
    );
    assert!(!board.contains("<img"), "{board}");
    assert!(board.contains("7.5 credits"), "{board}");
    assert!(board.contains(&format!("href=\"/tasks/{id}\"")));
    // Every control has its label.
    for field in ["q", "status", "skill"] {
        assert!(
            board.contains(&format!("<label for=\"{field}\"")),
            "{field}"
        );
        assert!(board.contains(&format!("id=\"{field}\"")), "{field}");
    }

    let (status, task) = page(&server, &format!("/tasks/{id}")).await;
    assert_eq!(status, 200);
    assert!(task.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(task.contains("writing"));

    // A query string is hostile too.
    let (status, searched) = page(&server, "/?q=%3Cscript%3Ex&skill=%22%3E%3Cb%3E").await;
    assert_eq!(status, 200);
    assert!(searched.contains("value=\"&lt;script&gt;x\""), "{searched}");
    assert!(!searched.contains("<b>"), "{searched}");
}

#[tokio::test]
async fn a_private_result_stays_off_the_page_for_others() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let id = server
        .post_task(
            &poster,
            json!({"text": "private work", "bounty": 2,
                                   "require_review": true, "delivery": "private"}),
        )
        .await;
    server.act(&worker, &id, "claim", json!({})).await;
    server
        .deliver_then_reject(
            &worker,
            &poster,
            &id,
            "THE SECRET ANSWER",
            "PRIVATE FEEDBACK",
        )
        .await;
    let (status, shown) = page(&server, &format!("/tasks/{id}")).await;
    assert_eq!(status, 200);
    assert!(shown.contains("private work"));
    assert!(!shown.contains("THE SECRET ANSWER"), "{shown}");
    assert!(!shown.contains("PRIVATE FEEDBACK"), "{shown}");
}

#[tokio::test]
async fn filters_and_pages_keep_to_their_tasks() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    for i in 0..23 {
        let skill = if i % 2 == 0 { "writing" } else { "research" };
        server
            .post_task(
                &poster,
                json!({"text": format!("job number {i}"), "bounty": 1, "skill": skill}),
            )
            .await;
    }
    let (_, first) = page(&server, "/").await;
    assert_eq!(first.matches("<article class=\"task\"").count(), 20);
    assert!(first.contains("job number 22") && !first.contains("job number 2<"));
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page")
        .replace("&amp;", "&");
    let (_, second) = page(&server, &next).await;
    assert_eq!(second.matches("<article class=\"task\"").count(), 3);
    assert!(second.contains("job number 0"));
    assert!(!second.contains("rel=\"next\""));

    let (_, writing) = page(&server, "/?skill=writing").await;
    assert_eq!(writing.matches("<article class=\"task\"").count(), 12);
    assert!(!writing.contains("research"));
    let (_, none) = page(&server, "/?status=completed").await;
    assert!(none.contains("No tasks match."));
    let (status, bad) = page(&server, "/?status=sideways").await;
    assert_eq!(status, 400);
    assert!(bad.contains("role=\"alert\""), "{bad}");
}

#[tokio::test]
async fn an_unknown_task_is_a_404_page_and_json_clients_get_the_index() {
    let server = TestServer::start(Policy::agora()).await;
    let (status, missing) = page(&server, "/tasks/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(status, 404);
    assert!(missing.contains("There is no such task."), "{missing}");
    let (status, malformed) = page(&server, "/tasks/%3Cscript%3E").await;
    assert!((400..500).contains(&status));
    assert!(!malformed.contains("<script>"));

    let (status, index) = server
        .send("GET", "/", &[("Accept", "application/json")], None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(index["mcp"], "/mcp");
    let (status, headers, css) = server
        .send_raw("GET", http_adapter::web::STYLESHEET_PATH, &[], None)
        .await;
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.starts_with("text/css"))
    );
    assert!(String::from_utf8(css).unwrap().contains("max-width"));
}

/// A person in a browser: the cookie it holds and the origin its forms come from.
pub(crate) struct Person<'a, S = storage_sqlite::SqliteStore> {
    server: &'a TestServer<S>,
    pub(crate) cookie: Option<String>,
    pub(crate) origin: String,
    /// The last `Set-Cookie` received, whole.
    set_cookie: String,
}

impl<'a, S: marketplace_core::store::Backend + Clone> Person<'a, S> {
    pub(crate) fn new(server: &'a TestServer<S>) -> Self {
        Self {
            server,
            cookie: None,
            origin: format!("http://{}", server.address),
            set_cookie: String::new(),
        }
    }

    /// Sends a form; the status, the `Location` and the `Set-Cookie` of the answer, and its
    /// text. Keeps a cookie it is given.
    pub(crate) async fn submit(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut headers = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", self.origin.as_str()),
        ];
        let cookie = self.cookie.as_ref().map(|c| format!("market_session={c}"));
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        let (status, answer, text) = self
            .server
            .send_raw("POST", path, &headers, Some(body.as_bytes()))
            .await;
        let header = |name: &str| {
            answer
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let set_cookie = header("set-cookie");
        if !set_cookie.is_empty() {
            self.set_cookie.clone_from(&set_cookie);
        }
        if let Some(value) = set_cookie
            .strip_prefix("market_session=")
            .and_then(|rest| rest.split(';').next())
        {
            self.cookie = (!value.is_empty()).then(|| value.to_owned());
        }
        (
            status,
            header("location"),
            String::from_utf8(text).unwrap_or_default(),
        )
    }

    /// A new person, signed up as `email` and signed in.
    pub(crate) async fn signed_up(server: &'a TestServer<S>, email: &str) -> Self {
        let mut person = Self::new(server);
        let form = [
            ("email", email),
            ("password", "long enough"),
            ("alias", "someone"),
        ];
        assert_eq!(person.submit("/signup", &form).await.0, 303);
        person
    }

    /// Sends `body` as `content_type` to `path` from this person's page: the status, the
    /// response headers and the text.
    pub(crate) async fn send(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, String) {
        let cookie = self.cookie.as_ref().map(|c| format!("market_session={c}"));
        let mut headers = vec![
            ("Content-Type", content_type),
            ("Origin", self.origin.as_str()),
        ];
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        let (status, answer, text) = self
            .server
            .send_raw("POST", path, &headers, Some(body))
            .await;
        (status, answer, String::from_utf8_lossy(&text).into_owned())
    }

    /// A path as this person gets it: status, headers and raw body.
    pub(crate) async fn get(&self, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let cookie = self.cookie.as_ref().map(|c| format!("market_session={c}"));
        let mut headers = vec![BROWSER];
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        self.server.send_raw("GET", path, &headers, None).await
    }

    /// A page as this person sees it.
    pub(crate) async fn page(&self, path: &str) -> (u16, String) {
        let cookie = self.cookie.as_ref().map(|c| format!("market_session={c}"));
        let mut headers = vec![BROWSER];
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        let (status, _, body) = self.server.send_raw("GET", path, &headers, None).await;
        (status, String::from_utf8(body).unwrap())
    }
}

/// A person signs up and posts a task through forms; an agent works it through the API;
/// the person rejects with feedback and accepts the second delivery with a rating; the
/// agent is paid. Then the person logs out, and the old cookie no longer works.
#[tokio::test]
async fn a_person_takes_a_task_from_post_to_payment_through_forms() {
    let server = TestServer::start(Policy::agora()).await;
    let mut person = Person::new(&server);
    let (status, location, _) = person
        .submit(
            "/signup",
            &[
                ("email", "ada@example.com"),
                ("password", "correct horse"),
                ("alias", "Ada"),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/"));
    let cookie = person.cookie.clone().expect("a session cookie");
    assert!(cookie.starts_with("ws_"));
    for flag in [
        "; Path=/",
        "; HttpOnly",
        "; SameSite=Lax",
        "; Max-Age=86400",
    ] {
        assert!(person.set_cookie.contains(flag), "{}", person.set_cookie);
    }
    assert!(!person.set_cookie.contains("Secure"), "not over plain http");
    let (_, board) = person.page("/").await;
    assert!(board.contains("Signed in as"), "{board}");
    // The session is no API key.
    let (status, _) = server
        .json("GET", "/api/v1/balance", Some(&cookie), None)
        .await;
    assert_eq!(status, 401);

    let (status, location, _) = person
        .submit(
            "/post",
            &[
                ("text", "Translate <b>this</b>"),
                ("bounty", "10"),
                ("require_review", "true"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let id = location
        .strip_prefix("/tasks/")
        .expect("the task's page")
        .to_owned();

    let (agent, _) = server.agent("agent").await;
    server.act(&agent, &id, "claim", json!({})).await;
    server
        .act(&agent, &id, "deliver", json!({"text": "first"}))
        .await;
    let (_, shown) = person.page(&format!("/tasks/{id}")).await;
    assert!(
        shown.contains("Accept and pay") && shown.contains("Reject"),
        "{shown}"
    );
    let reject = [
        ("action", "reject"),
        ("category", "incomplete"),
        ("feedback", "all of it please"),
    ];
    let (status, location, _) = person.submit(&format!("/tasks/{id}"), &reject).await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/tasks/{id}").as_str())
    );
    let (_, task) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), Some(&agent), None)
        .await;
    assert_eq!(task["rejections"][0]["text"], "all of it please");
    server.act(&agent, &id, "claim", json!({})).await;
    server
        .act(&agent, &id, "deliver", json!({"text": "all of it"}))
        .await;
    let accept = [("action", "accept"), ("rating", "5")];
    let (status, _, _) = person.submit(&format!("/tasks/{id}"), &accept).await;
    assert_eq!(status, 303);
    let (_, balance) = server
        .json("GET", "/api/v1/balance", Some(&agent), None)
        .await;
    assert_eq!(balance["balance"], json!(8.8), "{balance}");

    // A refused action comes back on the task's page, as a sentence.
    let (status, _, page) = person
        .submit(&format!("/tasks/{id}"), &[("action", "cancel")])
        .await;
    assert!((400..500).contains(&status), "{status}");
    assert!(page.contains("role=\"alert\""), "{page}");

    let (status, location, _) = person.submit("/logout", &[]).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    assert!(person.cookie.is_none());
    person.cookie = Some(cookie);
    let (_, board) = person.page("/").await;
    assert!(
        !board.contains("Signed in as"),
        "the old cookie still signs in"
    );
}

/// A form sent from elsewhere (another origin, or none named) is refused and changes
/// nothing; a wrong password is a sentence beside the form; a session ends after a day.
#[tokio::test]
async fn forms_from_elsewhere_are_refused_and_sessions_end() {
    use std::sync::Arc;
    let clock = Arc::new(marketplace_core::ManualClock::at_unix(1_800_000_000));
    let server = TestServer::start_at(Policy::agora(), clock.clone()).await;
    let mut person = Person::new(&server);
    person
        .submit(
            "/signup",
            &[
                ("email", "bo@example.com"),
                ("password", "long enough"),
                ("alias", "Bo"),
            ],
        )
        .await;
    assert!(person.cookie.is_some());
    for origin in ["http://evil.example", "null", ""] {
        person.origin = origin.to_owned();
        let (status, _, page) = person
            .submit("/post", &[("text", "forged"), ("bounty", "1")])
            .await;
        assert_eq!(status, 403, "{origin}: {page}");
    }
    let (_, tasks) = server.json("GET", "/api/v1/tasks", None, None).await;
    assert_eq!(tasks, json!([]), "nothing was posted");

    person.origin = format!("http://{}", server.address);
    let mut stranger = Person::new(&server);
    let (status, _, page) = stranger
        .submit(
            "/login",
            &[("email", "bo@example.com"), ("password", "wrong guess")],
        )
        .await;
    assert_eq!(status, 401);
    assert!(page.contains("Wrong email or password."), "{page}");
    assert!(stranger.cookie.is_none());

    let (_, board) = person.page("/").await;
    assert!(board.contains("Signed in as"));
    clock.advance_secs(24 * 60 * 60);
    let (_, board) = person.page("/").await;
    assert!(
        !board.contains("Signed in as"),
        "a session outlived its day"
    );
}

/// My work, the wallet and profiles: each shows its viewer's own, and asks a stranger to
/// log in.
#[tokio::test]
async fn account_pages_show_the_viewers_own() {
    let server = TestServer::start(Policy::agora()).await;
    for path in ["/me", "/wallet", "/post"] {
        let (status, headers, _) = server.send_raw("GET", path, &[BROWSER], None).await;
        assert_eq!(status, 303, "{path}");
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "location" && v == "/login"),
            "{path}"
        );
    }
    let mut person = Person::new(&server);
    person
        .submit(
            "/signup",
            &[
                ("email", "cy@example.com"),
                ("password", "long enough"),
                ("alias", "<i>Cy</i>"),
            ],
        )
        .await;
    let (_, location, _) = person
        .submit("/post", &[("text", "index the archive"), ("bounty", "4")])
        .await;
    let id = location.strip_prefix("/tasks/").unwrap().to_owned();
    let (agent, agent_id) = server.agent("helper").await;
    let (status, me) = person.page("/me").await;
    assert_eq!(status, 200);
    assert!(me.contains("index the archive"), "{me}");
    server.act(&agent, &id, "claim", json!({})).await;
    server
        .act(&agent, &id, "deliver", json!({"text": "done"}))
        .await;
    let (_, me) = person.page("/me").await;
    let review = me.split("Delivered to me").nth(1).unwrap();
    assert!(review.contains("index the archive"), "{me}");

    let (status, wallet) = person.page("/wallet").await;
    assert_eq!(status, 200);
    assert!(wallet.contains("Held in escrow"));
    let ledger = wallet.split("<tbody>").nth(1).unwrap_or_default();
    assert!(
        ledger.contains(
            "escrow — bounty held</td><td class=\"amount\">0</td><td class=\"amount\">4</td>"
        ),
        "{ledger}"
    );
    let (status, profile) = person.page(&format!("/profile/{agent_id}")).await;
    assert_eq!(status, 200);
    assert!(
        profile.contains("helper") && profile.contains("Reputation"),
        "{profile}"
    );
    let (_, board) = person.page("/").await;
    let own = board
        .split("href=\"/profile/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (_, mine) = person.page(&format!("/profile/{own}")).await;
    assert!(
        mine.contains("&lt;i&gt;Cy&lt;/i&gt;"),
        "the alias is text: {mine}"
    );
    let (status, _) = page(&server, "/profile/not-a-hash").await;
    assert!((400..500).contains(&status));
}

/// Bids, the award and messages through the task page's forms; the capability filter on
/// the board and in the API.
#[tokio::test]
async fn bids_awards_messages_and_capabilities_through_the_board() {
    let server = TestServer::start(Policy::agora()).await;
    let mut person = Person::new(&server);
    person
        .submit(
            "/signup",
            &[
                ("email", "di@example.com"),
                ("password", "long enough"),
                ("alias", "Di"),
            ],
        )
        .await;
    let (_, location, _) = person
        .submit(
            "/post",
            &[
                ("text", "design a logo"),
                ("bounty", "6"),
                ("bidding", "true"),
            ],
        )
        .await;
    let id = location.strip_prefix("/tasks/").unwrap().to_owned();
    let (agent, agent_id) = server.agent("designer").await;
    let (status, bid) = server
        .json(
            "POST",
            &format!("/api/v1/tasks/{id}/bid"),
            Some(&agent),
            Some(json!({"offered_price": 5, "text": "my portfolio"})),
        )
        .await;
    assert_eq!(status, 201, "{bid}");
    let (_, shown) = person.page(&format!("/tasks/{id}")).await;
    assert!(shown.contains("my portfolio"), "{shown}");
    let bid_id = bid["id"].as_str().unwrap();
    let (status, _, _) = person
        .submit(
            &format!("/tasks/{id}"),
            &[("action", "award"), ("bid_id", bid_id)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, task) = server
        .json("GET", &format!("/api/v1/tasks/{id}"), None, None)
        .await;
    assert_eq!(task["claimed_by"], agent_id.as_str(), "{task}");
    let note = [("action", "message"), ("message", "<em>blue</em> please")];
    let (status, _, _) = person.submit(&format!("/tasks/{id}"), &note).await;
    assert_eq!(status, 303);
    let (_, shown) = person.page(&format!("/tasks/{id}")).await;
    assert!(
        shown.contains("&lt;em&gt;blue&lt;/em&gt; please"),
        "{shown}"
    );

    let (poster, _) = server.agent("poster").await;
    let wanted = server
        .post_task(
            &poster,
            json!({"text": "needs research", "bounty": 1,
                                   "required_capabilities": ["research"]}),
        )
        .await;
    server
        .post_task(&poster, json!({"text": "needs nothing", "bounty": 1}))
        .await;
    let (_, board) = page(&server, "/?capability=research").await;
    assert_eq!(
        board.matches("<article class=\"task\"").count(),
        1,
        "{board}"
    );
    assert!(board.contains(&wanted));
    let (status, listed) = server
        .json("GET", "/api/v1/tasks?capability=research", None, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], wanted.as_str());
}

/// Two people, both on the board: one posts, the other claims and delivers through the
/// task page's forms, the first accepts.
#[tokio::test]
async fn a_person_can_work_as_well_as_post() {
    let server = TestServer::start(Policy::agora()).await;
    let mut poster = Person::new(&server);
    let mut worker = Person::new(&server);
    for (person, email) in [
        (&mut poster, "p@example.com"),
        (&mut worker, "w@example.com"),
    ] {
        let form = [
            ("email", email),
            ("password", "long enough"),
            ("alias", "someone"),
        ];
        assert_eq!(person.submit("/signup", &form).await.0, 303);
    }
    let (_, location, _) = poster
        .submit("/post", &[("text", "proofread my essay"), ("bounty", "3")])
        .await;
    let page_of_task = location;
    let (_, shown) = worker.page(&page_of_task).await;
    assert!(shown.contains("Claim this task"), "{shown}");
    assert_eq!(
        worker.submit(&page_of_task, &[("action", "claim")]).await.0,
        303
    );
    let (_, shown) = worker.page(&page_of_task).await;
    assert!(shown.contains("Your result"), "{shown}");
    let delivery = [("action", "deliver"), ("text", "proofread, 12 fixes")];
    assert_eq!(worker.submit(&page_of_task, &delivery).await.0, 303);
    let (_, shown) = poster.page(&page_of_task).await;
    assert!(shown.contains("proofread, 12 fixes"), "{shown}");
    assert_eq!(
        poster
            .submit(&page_of_task, &[("action", "accept")])
            .await
            .0,
        303
    );
    let (_, wallet) = worker.page("/wallet").await;
    let balance = wallet.split("<dt>Balance</dt><dd>").nth(1).unwrap();
    assert!(balance.starts_with("2.64 credits"), "{balance}");
}
