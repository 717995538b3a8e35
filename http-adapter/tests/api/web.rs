//! The board's pages through a real listening server: status, headers, escaping of
//! hostile text, filters and paging, and nothing private shown to the wrong viewer.

use marketplace_core::Policy;
use serde_json::json;

use crate::common::TestServer;

const BROWSER: (&str, &str) = ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");

/// A page as a browser gets it: status, headers and text; the security headers checked.
async fn page(server: &TestServer, path: &str) -> (u16, String) {
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
    // No script at all, and no inline style: the policy would refuse them anyway.
    assert!(!text.contains("<script"), "{path}: a script element");
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
