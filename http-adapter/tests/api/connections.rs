//! The server's connection bounds, on the real binary: clients trickling their headers, a
//! silent connection, an idle kept-alive one and a stalled body all lose their connection
//! (the body with a 408); past `--max-connections` a new client waits until one ends; an
//! oversized head is answered 414 or 431 with the error body.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::process::Process;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server to end a connection it should end after 1 s.
const CLOSED_WITHIN: Duration = Duration::from_secs(10);

fn start(dir: &std::path::Path, max_connections: &str, header_secs: &str) -> Process {
    let url = format!("sqlite://{}", dir.join("market.db").display());
    Process::start(
        &url,
        dir,
        "127.0.0.1:0",
        &[
            "--header-read-timeout-secs",
            header_secs,
            "--body-timeout-secs",
            "1",
            "--max-connections",
            max_connections,
        ],
    )
}

/// Reads until the server closes the connection: what it sent, or `None` if it kept the
/// connection open past `within`.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_clients_lose_their_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "64", "1");
    let address = server.address;

    // Thirty clients trickle their headers, a byte every 100 ms: each is cut off.
    let trickling = (0..30).map(|i| {
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            let head = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ");
            stream.write_all(head.as_bytes()).await.unwrap();
            let started = tokio::time::Instant::now();
            while started.elapsed() < CLOSED_WITHIN {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b"a").await.is_err() {
                    return true;
                }
                let mut probe = [0u8; 256];
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
                {
                    return true;
                }
            }
            false
        })
    });
    for client in trickling.collect::<Vec<_>>() {
        assert!(
            client.await.unwrap(),
            "a trickling client kept its connection"
        );
    }

    // A connection that says nothing.
    let mut silent = TcpStream::connect(address).await.unwrap();
    assert!(
        until_closed(&mut silent, CLOSED_WITHIN).await.is_some(),
        "a silent connection stayed open"
    );

    // A kept-alive connection, idle after its answer.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = until_closed(&mut idle, CLOSED_WITHIN)
        .await
        .expect("an idle kept-alive connection stayed open");
    assert!(answered.starts_with(b"HTTP/1.1 200"), "answered first");

    // A body that stops arriving: 408 in the API's error format.
    let mut stalled = TcpStream::connect(address).await.unwrap();
    stalled
        .write_all(
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"alias\"",
        )
        .await
        .unwrap();
    let answer = until_closed(&mut stalled, CLOSED_WITHIN)
        .await
        .expect("a stalled body kept its connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");

    // The server still serves.
    let (status, _, _) = crate::common::request(address, "GET", "/healthz", &[], None).await;
    assert_eq!(status, 200);
}

/// Sends a whole request and waits up to `within` for its status.
async fn status_within(stream: &mut TcpStream, within: Duration) -> Option<u16> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(stream, within).await?;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_client_waits_until_one_ends() {
    let dir = tempfile::tempdir().unwrap();
    // Headers may take a minute here: only the cap frees a place.
    let server = start(dir.path(), "2", "60");
    let address: SocketAddr = server.address;
    let first = TcpStream::connect(address).await.unwrap();
    let _second = TcpStream::connect(address).await.unwrap();
    let mut third = TcpStream::connect(address).await.unwrap();
    assert_eq!(
        status_within(&mut third, Duration::from_millis(1500)).await,
        None,
        "served while two connections hold the cap"
    );
    drop(first);
    let answer = until_closed(&mut third, CLOSED_WITHIN)
        .await
        .expect("served once a place is free");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// Sends `head` (a request without a body, ending in its blank line) and returns the status
/// and the JSON body of the answer.
async fn answer_to(address: SocketAddr, head: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = until_closed(&mut stream, CLOSED_WITHIN)
        .await
        .expect("closed");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// A request target or headers past the bounds are refused with the error body every other
/// refusal has; just within them, the request is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_get_the_error_body() {
    use http_adapter::limits::{HEADER_BYTES_MAX, HEADERS_MAX, URI_BYTES_MAX};
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "64", "10");
    let get = |target: &str, headers: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n")
    };
    // "/healthz?" is 9 bytes.
    let at_limit = format!("/healthz?{}", "a".repeat(URI_BYTES_MAX - 9));
    assert_eq!(answer_to(server.address, &get(&at_limit, "")).await.0, 200);
    let (status, body) = answer_to(server.address, &get(&format!("{at_limit}a"), "")).await;
    assert_eq!(status, 414, "{body}");
    assert_eq!(body["error"]["code"], "uri_too_long");
    // Well past the bound (but within the parser's): still the body.
    let long = format!("/healthz?{}", "a".repeat(4 * URI_BYTES_MAX));
    assert_eq!(
        answer_to(server.address, &get(&long, "")).await.1["error"]["code"],
        "uri_too_long"
    );

    let one_big = format!("X-Big: {}\r\n", "b".repeat(HEADER_BYTES_MAX));
    let (status, body) = answer_to(server.address, &get("/healthz", &one_big)).await;
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["error"]["code"], "headers_too_large");
    let many: String = (0..HEADERS_MAX).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, body) = answer_to(server.address, &get("/healthz", &many)).await;
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["error"]["code"], "headers_too_large");
    // On AgentMarket's paths, in AgentMarket's format.
    let (status, body) = answer_to(
        server.address,
        &get(&format!("/api/tasks?{}", "q".repeat(URI_BYTES_MAX)), ""),
    )
    .await;
    assert_eq!(status, 414, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "uri_too_long");
    // Host and Connection are two: 98 more fit.
    let fitting: String = (0..HEADERS_MAX - 2)
        .map(|i| format!("X-H{i}: v\r\n"))
        .collect();
    assert_eq!(
        answer_to(server.address, &get("/healthz", &fitting))
            .await
            .0,
        200
    );
}
