//! `GET /api/v1/events`: server-sent events, read by a real HTTP client from a real
//! listening server — what each caller may see, in order, resumed exactly after a
//! reconnect, and across two replicas on PostgreSQL.

use std::net::SocketAddr;
use std::time::Duration;

use marketplace_core::Policy;
use serde_json::{Value, json};

use crate::common::TestServer;
use crate::common::process::Replicas;

/// One server-sent event: its `id`, `event` and parsed `data`.
#[derive(Debug, Clone)]
struct Sse {
    id: u64,
    kind: String,
    data: Value,
}

/// A live stream as a client reads it.
struct Stream {
    response: reqwest::Response,
    buffer: String,
    comments: usize,
}

impl Stream {
    /// Opens `GET /api/v1/events{query}` at `address`, as `key`, resuming after `after`.
    async fn open(address: SocketAddr, query: &str, key: Option<&str>, after: Option<u64>) -> Self {
        let mut request =
            reqwest::Client::new().get(format!("http://{address}/api/v1/events{query}"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(after) = after {
            request = request.header("Last-Event-ID", after.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Self {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// The next event, or `None` when none comes within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        kind = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                // An `id` without data names where a fresh stream starts: no event.
                if let Some(id) = id
                    && !data.is_empty()
                {
                    let data = serde_json::from_str(&data).unwrap();
                    return Some(Sse { id, kind, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(Ok(None)) => panic!("the stream ended"),
                Ok(Err(e)) => panic!("{e}"),
                Err(_) => return None,
            }
        }
    }

    /// The next `n` events (each within 10 s).
    async fn take(&mut self, n: usize) -> Vec<Sse> {
        let mut events = Vec::new();
        for _ in 0..n {
            let event = self.next_within(Duration::from_secs(10)).await;
            events.push(event.unwrap_or_else(|| panic!("after {events:?}, no more")));
        }
        events
    }

    /// Asserts nothing more arrives for a while.
    async fn quiet(&mut self) {
        if let Some(extra) = self.next_within(Duration::from_millis(1500)).await {
            panic!("an event too many: {extra:?}");
        }
    }
}

fn kinds(events: &[Sse]) -> Vec<String> {
    events.iter().map(|e| e.kind.clone()).collect()
}

/// Each caller sees its own: the worker every event of its task and the postings, an
/// outsider the public postings, an anonymous stream filtered by skill only the posting of
/// that skill; ids rise; a task's private text never reaches whom it should not.
#[tokio::test]
async fn each_caller_sees_what_it_may_in_order() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, worker_id) = server.agent("worker").await;
    let (outsider, _) = server.agent("outsider").await;
    let address = server.address;
    let mut as_worker = Stream::open(address, "", Some(&worker), None).await;
    let mut as_outsider = Stream::open(address, "", Some(&outsider), None).await;
    let mut writing = Stream::open(address, "?skill=writing", None, None).await;

    let id = server
        .post_task(&poster, json!({"text": "<script>alert(1)</script>", "bounty": 5,
                                   "skill": "writing", "require_review": true, "delivery": "private"}))
        .await;
    server
        .post_task(
            &poster,
            json!({"text": "for the worker only", "bounty": 1,
                                   "assign_to": worker_id}),
        )
        .await;
    server.act(&worker, &id, "claim", json!({})).await;
    server
        .deliver_then_reject(&worker, &poster, &id, "secret result", "redo")
        .await;

    let seen = as_worker.take(6).await;
    assert_eq!(
        kinds(&seen),
        [
            "task.posted",
            "task.posted",
            "task.claimed",
            "task.delivered",
            "task.rejected",
            "task.reopened"
        ]
    );
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "{seen:?}");
    assert_eq!(seen[0].data["task"]["text"], "<script>alert(1)</script>");
    assert_eq!(seen[0].data["seq"], seen[0].id);
    assert_eq!(
        seen[3].data["task"]["result"]["text"], "secret result",
        "the deliverer's own"
    );
    as_worker.quiet().await;

    let public = as_outsider.take(1).await;
    assert_eq!(kinds(&public), ["task.posted"]);
    assert_eq!(public[0].data["task_id"], id.as_str());
    as_outsider.quiet().await;

    let filtered = writing.take(1).await;
    assert_eq!(filtered[0].data["task_id"], id.as_str());
    assert!(filtered[0].data["task"]["result"].is_null());
    writing.quiet().await;
}

/// A client that reconnects with `Last-Event-ID` gets exactly the events it missed: the
/// same as a stream that never dropped, none twice, none lost.
#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_exactly_what_was_missed() {
    let server = TestServer::start(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (worker, _) = server.agent("worker").await;
    let address = server.address;
    let mut reference = Stream::open(address, "", Some(&worker), None).await;
    let mut dropping = Stream::open(address, "", Some(&worker), None).await;

    let first = server
        .post_task(&poster, json!({"text": "one", "bounty": 1}))
        .await;
    let before = dropping.take(1).await;
    drop(dropping);
    // While it is away: events it may see and events it may not.
    server.act(&worker, &first, "claim", json!({})).await;
    let (other, _) = server.agent("other").await;
    let second = server
        .post_task(&other, json!({"text": "two", "bounty": 1}))
        .await;
    server
        .act(&other, &second, "message", json!({"text": "not yours"}))
        .await;
    server
        .act(&worker, &first, "deliver", json!({"text": "r"}))
        .await;

    let all = reference.take(4).await;
    assert_eq!(
        kinds(&all),
        [
            "task.posted",
            "task.claimed",
            "task.posted",
            "task.delivered"
        ]
    );
    let mut resumed = Stream::open(address, "", Some(&worker), Some(before[0].id)).await;
    let missed = resumed.take(3).await;
    let ids = |events: &[Sse]| events.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&missed), ids(&all[1..]));
    // Then live, as the reference stream.
    server.act(&poster, &first, "accept", json!({})).await;
    let live = resumed.take(1).await;
    assert_eq!(live[0].id, reference.take(1).await[0].id);
    assert_eq!(live[0].kind, "task.accepted");
    resumed.quiet().await;
    // A resume point that is no event's id is refused.
    let (status, body) = server
        .send(
            "GET",
            "/api/v1/events",
            &[("Last-Event-ID", "yesterday")],
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

/// Two replicas on one PostgreSQL database: a stream on one receives the events of
/// commands run on the other, and resumes on the other after a reconnect.
#[tokio::test]
async fn streams_follow_commands_on_either_replica() {
    let Some(replicas) = Replicas::start(&[]).await else {
        return;
    };
    let register = async |alias: &str| replicas.processes[1].register(alias).await;
    let poster = register("poster").await;
    let worker = register("worker").await;
    let mut on_first = Stream::open(replicas.processes[0].address, "", Some(&worker), None).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let replica = &replicas.processes[i % 2];
        let (status, task) = replica
            .call(
                "POST",
                "/api/v1/tasks",
                Some(&poster),
                json!({"text": format!("t{i}"), "bounty": 1}),
            )
            .await;
        assert_eq!(status, 201, "{task}");
        let id = task["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/tasks/{id}/claim");
        let (status, _) = replicas.processes[(i + 1) % 2]
            .call("POST", &path, Some(&worker), json!({}))
            .await;
        assert_eq!(status, 200);
        ids.push(id);
    }
    let seen = on_first.take(12).await;
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "{seen:?}");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(seen[2 * i].kind, "task.posted");
        assert_eq!(seen[2 * i].data["task_id"], id.as_str());
        assert_eq!(seen[2 * i + 1].kind, "task.claimed");
    }
    // Resumed on the other replica after the sixth event: the last six.
    let mut on_second = Stream::open(
        replicas.processes[1].address,
        "",
        Some(&worker),
        Some(seen[5].id),
    )
    .await;
    let rest = on_second.take(6).await;
    let tail: Vec<u64> = seen[6..].iter().map(|e| e.id).collect();
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), tail);
    replicas.stop_and_audit();
}

/// A quiet stream says it is alive with comments, at the configured interval.
#[tokio::test]
async fn a_quiet_stream_sends_keep_alive_comments() {
    let server = TestServer::start_with(Policy::agora(), |c| {
        c.with_live_keep_alive(Duration::from_millis(100))
    })
    .await;
    let mut stream = Stream::open(server.address, "", None, None).await;
    assert!(
        stream
            .next_within(Duration::from_millis(1000))
            .await
            .is_none()
    );
    assert!(stream.comments >= 3, "{} comments", stream.comments);
}
