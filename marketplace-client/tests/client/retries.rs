//! Retries through a proxy that loses answers: a call the marketplace ran is never run
//! twice — alone, and twenty at once behind a barrier — and a call the API takes no key for
//! is not sent again once it may have run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use marketplace_api::agora::tasks::PostTask;
use marketplace_api::wire::Amount;
use marketplace_client::{Client, Credentials, Error, ErrorCode, RetryPolicy};
use marketplace_core::Policy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;

use crate::common::Server;

/// A TCP proxy in front of the server. The first `drops` connections carry their request to
/// the server and are closed as soon as its answer begins, so the client never reads it;
/// the first `throttles` connections are answered 429 with `Retry-After: 1` by the proxy
/// itself, the request never reaching the server.
struct Proxy {
    address: SocketAddr,
    drops: Arc<AtomicUsize>,
    throttles: Arc<AtomicUsize>,
}

fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            address: listener.local_addr().unwrap(),
            drops: Arc::default(),
            throttles: Arc::default(),
        };
        let (drops, throttles) = (Arc::clone(&proxy.drops), Arc::clone(&proxy.throttles));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let drop_it = take(&drops);
                let throttle = !drop_it && take(&throttles);
                tokio::spawn(relay(client, upstream, drop_it, throttle));
            }
        });
        proxy
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, drop_answer: bool, throttle: bool) {
    if throttle {
        read_request(&mut client).await;
        let body = r#"{"error":{"code":"rate_limited","message":"slow down"}}"#;
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(answer.as_bytes()).await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if drop_answer {
        let (mut client_read, _client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let mut first = [0u8; 1];
        tokio::select! {
            _ = tokio::io::copy(&mut client_read, &mut server_write) => {}
            _ = server_read.read(&mut first) => {}
        }
        // Both sockets close here: the answer is lost.
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// Reads one request's head and its `Content-Length` body.
async fn read_request(stream: &mut TcpStream) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buffer).await else {
            return;
        };
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buffer[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return;
            }
        }
    }
}

fn through(proxy: &Proxy, key: &str) -> Client {
    Client::builder(&proxy.url())
        .credentials(Credentials::ApiKey(key.to_owned()))
        .retry(RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

fn count(server: &Server, method: &str, path: &str) -> usize {
    let seen = server.seen.lock().unwrap();
    seen.iter()
        .filter(|(m, p, _)| m == method && p == path)
        .count()
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_retried_and_takes_effect_once() {
    let server = Server::sqlite(Policy::agora()).await;
    let registered = server.client().register("poster").await.unwrap();
    let proxy = Proxy::start(&server.url).await;
    proxy.drops.store(1, Ordering::SeqCst);
    let poster = through(&proxy, &registered.api_key);
    let task = poster
        .post_task(&PostTask {
            text: "Posted once".into(),
            bounty: Amount(7.into()),
            ..PostTask::default()
        })
        .await
        .unwrap();
    // The server ran the first attempt (its answer was lost) and replayed it to the second.
    assert_eq!(count(&server, "POST", "/api/v1/tasks"), 2);
    assert_eq!(proxy.drops.load(Ordering::SeqCst), 0);
    let direct = server
        .client()
        .with_credentials(Credentials::ApiKey(registered.api_key));
    assert_eq!(direct.balance().await.unwrap().escrowed, Amount(7.into()));
    let mine = direct
        .tasks(&marketplace_api::agora::tasks::ListTasks::default())
        .await
        .unwrap();
    assert_eq!(mine.iter().filter(|t| t.text == "Posted once").count(), 1);
    assert_eq!(mine[0].id, task.id);
}

#[tokio::test]
async fn twenty_claims_at_once_with_lost_answers_have_exactly_one_winner_on_sqlite() {
    twenty_claims_at_once(&Server::sqlite(Policy::agora()).await).await;
}

#[tokio::test]
async fn twenty_claims_at_once_with_lost_answers_have_exactly_one_winner_on_postgres() {
    let Some(server) = Server::postgres(Policy::agora()).await else {
        return;
    };
    twenty_claims_at_once(&server).await;
}

async fn twenty_claims_at_once(server: &Server) {
    let (poster, _) = server.agent("poster").await;
    let task = poster
        .post_task(&PostTask {
            text: "Twenty want this".into(),
            bounty: Amount(9.into()),
            ..PostTask::default()
        })
        .await
        .unwrap();
    let mut agents = Vec::new();
    for i in 0..20 {
        let registered = server.client().register(&format!("w{i}")).await.unwrap();
        agents.push(registered);
    }
    let proxy = Proxy::start(&server.url).await;
    proxy.drops.store(20, Ordering::SeqCst);
    let barrier = Arc::new(Barrier::new(20));
    let mut runs = Vec::new();
    for agent in &agents {
        let client = through(&proxy, &agent.api_key);
        let (barrier, id, identity) = (
            Arc::clone(&barrier),
            task.id.clone(),
            agent.identity_hash.clone(),
        );
        runs.push(tokio::spawn(async move {
            barrier.wait().await;
            (identity, client.claim(&id, None).await)
        }));
    }
    let mut winners = Vec::new();
    for run in runs {
        let (identity, result) = run.await.unwrap();
        match result {
            Ok(view) => {
                assert_eq!(view.claimed_by.as_deref(), Some(identity.as_str()));
                winners.push(identity);
            }
            Err(e) => assert_eq!(e.code(), Some(&ErrorCode::AlreadyClaimed), "{e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let now = poster.task(&task.id).await.unwrap();
    assert_eq!(now.claimed_by.as_ref(), winners.first());
    assert!(count(server, "POST", &format!("/api/v1/tasks/{}/claim", task.id)) > 20);
}

#[tokio::test]
async fn a_registration_whose_answer_was_lost_is_not_sent_again() {
    let server = Server::sqlite(Policy::agora()).await;
    let proxy = Proxy::start(&server.url).await;
    proxy.drops.store(1, Ordering::SeqCst);
    let client = Client::new(&proxy.url()).unwrap();
    let error = client.register("once").await.unwrap_err();
    assert!(matches!(error, Error::Unreachable(_)), "{error:?}");
    assert_eq!(count(&server, "POST", "/api/v1/auth/register"), 1);
}

#[tokio::test]
async fn a_429_is_waited_out_as_its_retry_after_says() {
    let server = Server::sqlite(Policy::agora()).await;
    let registered = server.client().register("patient").await.unwrap();
    let proxy = Proxy::start(&server.url).await;
    proxy.throttles.store(1, Ordering::SeqCst);
    let client = through(&proxy, &registered.api_key);
    let started = Instant::now();
    let balance = client.balance().await.unwrap();
    assert_eq!(balance.identity_hash, registered.identity_hash);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(count(&server, "GET", "/api/v1/balance"), 1);
    // Without retries the refusal comes back typed, with the wait it asked for.
    proxy.throttles.store(1, Ordering::SeqCst);
    let impatient = client.with_credentials(Credentials::ApiKey(registered.api_key));
    let once = Client::builder(&proxy.url())
        .credentials(impatient.credentials().clone())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    match once.balance().await.unwrap_err() {
        Error::Refused {
            status,
            code,
            retry_after,
            ..
        } => {
            assert_eq!((status, code), (429, ErrorCode::RateLimited));
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
        }
        other => panic!("{other:?}"),
    }
}

/// A server that answers with a redirect to another host gets no credentials there: the
/// client does not follow it, and says so.
#[tokio::test]
async fn a_redirect_is_not_followed_with_the_credentials() {
    let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_address = elsewhere.local_addr().unwrap();
    let reached = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&reached);
    tokio::spawn(async move {
        while let Ok((_stream, _)) = elsewhere.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    let redirecting = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = redirecting.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = redirecting.accept().await {
            read_request(&mut stream).await;
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{elsewhere_address}/steal\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    let client = Client::builder(&format!("http://{address}"))
        .credentials(Credentials::ApiKey("ak_secret".into()))
        .build()
        .unwrap();
    let error = client.agentmarket().wallet().await.unwrap_err();
    assert!(
        matches!(&error, Error::Unexpected(m) if m.contains("redirect")),
        "{error:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}
