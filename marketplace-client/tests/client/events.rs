//! The event stream resumes after its connection drops: the events posted while it was cut
//! arrive, once each, after the last one it yielded.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use marketplace_api::agora::events::EventsParams;
use marketplace_api::agora::tasks::PostTask;
use marketplace_api::wire::Amount;
use marketplace_client::Client;
use marketplace_core::Policy;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::common::Server;

/// A proxy whose open connections all drop when `cut` changes — or, when `hang`, go
/// silent and stay open, as a connection lost without a word does.
async fn cutting_proxy(upstream: &str, hang: bool) -> (SocketAddr, watch::Sender<u32>) {
    let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (cut, cuts) = watch::channel(0u32);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut cuts = cuts.clone();
            // Only a cut after this connection opened drops it.
            cuts.mark_unchanged();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = cuts.changed() => {
                        if hang {
                            // Nothing more either way, and nothing closed.
                            let _held = (client, server);
                            std::future::pending::<()>().await;
                        }
                    }
                }
            });
        }
    });
    (address, cut)
}

#[tokio::test]
async fn the_event_stream_resumes_where_it_was_cut() {
    let server = Server::sqlite(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (proxy, cut) = cutting_proxy(&server.url, false).await;
    let follower = Client::new(&format!("http://{proxy}")).unwrap();
    let events = follower
        .events(EventsParams::default(), None)
        .await
        .unwrap();
    futures::pin_mut!(events);
    let post = |text: &'static str| {
        let poster = poster.clone();
        async move {
            poster
                .post_task(&PostTask {
                    text: text.into(),
                    bounty: Amount(1.into()),
                    ..PostTask::default()
                })
                .await
                .unwrap()
                .id
        }
    };
    let mut next_posting = async || loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream goes on")
            .unwrap();
        if event.kind == "task.posted" {
            return event;
        }
    };
    let first = post("before the cut").await;
    let seen = next_posting().await;
    assert_eq!(seen.task_id.as_deref(), Some(first.as_str()));

    cut.send_modify(|n| *n += 1);
    let second = post("while cut").await;
    let third = post("after").await;
    let resumed = next_posting().await;
    assert_eq!(resumed.task_id.as_deref(), Some(second.as_str()));
    assert!(resumed.seq > seen.seq);
    assert_eq!(
        next_posting().await.task_id.as_deref(),
        Some(third.as_str())
    );
    let opened = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p, _)| m == "GET" && p == "/api/v1/events")
        .count();
    assert_eq!(opened, 2, "the stream reconnected once");
}

#[tokio::test]
async fn a_stream_gone_silent_is_reopened() {
    let server = Server::sqlite(Policy::agora()).await;
    let (poster, _) = server.agent("poster").await;
    let (proxy, hang) = cutting_proxy(&server.url, true).await;
    let follower = Client::builder(&format!("http://{proxy}"))
        .event_silence(Duration::from_millis(800))
        .build()
        .unwrap();
    let events = follower
        .events(EventsParams::default(), None)
        .await
        .unwrap();
    futures::pin_mut!(events);
    hang.send_modify(|n| *n += 1);
    let posted = poster
        .post_task(&PostTask {
            text: "posted while the line is dead".into(),
            bounty: Amount(1.into()),
            ..PostTask::default()
        })
        .await
        .unwrap();
    let arrived = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.next().await.expect("the stream goes on").unwrap();
            if event.task_id.as_deref() == Some(posted.id.as_str()) {
                return event;
            }
        }
    })
    .await
    .expect("the silent stream is reopened and the event arrives");
    assert_eq!(arrived.kind, "task.posted");
}
