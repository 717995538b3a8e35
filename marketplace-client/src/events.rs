//! The live event stream, `GET /api/v1/events`, as a [`Stream`] of typed events that
//! resumes where it left off when the connection drops.

use std::collections::VecDeque;

use futures::Stream;
use marketplace_api::agora::events::{EventsParams, LiveEvent};
use reqwest::Response;

use crate::client::Client;
use crate::error::Error;
use crate::sse::{data, event_end, id};
use crate::transport::{Call, Dialect, Transport};

/// The longest event read, bytes (an event carries one task).
pub const EVENT_BYTES_MAX: usize = 4 << 20;

/// How long the stream may stay silent, by default, before it is taken for lost and
/// reopened, seconds: the server sends a keep-alive every 15 s by default.
pub const EVENT_SILENCE_SECS_MAX: u64 = 60;

/// Where a stream is: its connection, the bytes of an event not yet whole, the events parsed
/// but not yet yielded, and the id to resume after.
struct Follower {
    transport: Transport,
    params: EventsParams,
    last_id: Option<u64>,
    response: Option<Response>,
    buffer: Vec<u8>,
    ready: VecDeque<Item>,
}

/// What a stream's frame carries: an event, or only the place a fresh stream starts at.
enum Item {
    Event(LiveEvent),
    Place(u64),
}

impl Client {
    /// `GET /api/v1/events`: what the caller may see, as it happens, from after
    /// `last_event_id` (from the moment the stream opens when `None`). The stream is open
    /// when this returns (a refusal, such as bad credentials, is returned here). When the
    /// connection drops, the stream reconnects with the id of the last event it yielded
    /// (`Last-Event-ID`), so no event is lost or repeated — as it does when the stream stays
    /// silent, keep-alives included, for longer than
    /// [`ClientBuilder::event_silence`](crate::ClientBuilder::event_silence); it ends with an error once a
    /// reconnection has failed after the retry policy's attempts.
    ///
    /// ```no_run
    /// # async fn demo(client: marketplace_client::Client) -> Result<(), marketplace_client::Error> {
    /// use futures::StreamExt;
    /// use marketplace_api::agora::events::EventsParams;
    /// let events = client.events(EventsParams::default(), None).await?;
    /// futures::pin_mut!(events);
    /// while let Some(event) = events.next().await {
    ///     let event = event?;
    ///     println!("{} {}", event.seq, event.kind);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn events(
        &self,
        params: EventsParams,
        last_event_id: Option<u64>,
    ) -> Result<impl Stream<Item = Result<LiveEvent, Error>> + Send + 'static, Error> {
        let mut follower = Follower {
            transport: self.transport.clone(),
            params,
            last_id: last_event_id,
            response: None,
            buffer: Vec::new(),
            ready: VecDeque::new(),
        };
        follower.connect().await?;
        Ok(futures::stream::unfold(
            Some(follower),
            |state| async move {
                let mut follower = state?;
                match follower.next().await {
                    Ok(event) => Some((Ok(event), Some(follower))),
                    Err(error) => Some((Err(error), None)),
                }
            },
        ))
    }
}

impl Follower {
    async fn next(&mut self) -> Result<LiveEvent, Error> {
        loop {
            match self.ready.pop_front() {
                Some(Item::Event(event)) => {
                    self.last_id = Some(event.seq);
                    return Ok(event);
                }
                Some(Item::Place(place)) => {
                    self.last_id = Some(place);
                    continue;
                }
                None => {}
            }
            let Some(response) = self.response.as_mut() else {
                self.connect().await?;
                continue;
            };
            let quiet = self.transport.event_silence();
            match tokio::time::timeout(quiet, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    self.buffer.extend_from_slice(&chunk);
                    self.parse()?;
                }
                // The server closed the stream, the connection dropped, or it went silent
                // past its keep-alives (a connection lost without a word): resume.
                Ok(Ok(None) | Err(_)) | Err(_) => {
                    self.response = None;
                    self.buffer.clear();
                }
            }
        }
    }

    /// Opens the stream after the last event yielded (the policy's retries included).
    async fn connect(&mut self) -> Result<(), Error> {
        let mut call = Call::get(Dialect::Agora, "/api/v1/events".into()).query(&self.params)?;
        call.last_event_id = self.last_id;
        self.response = Some(self.transport.send_streaming(&call, true).await?);
        Ok(())
    }

    /// Moves every whole event in the buffer to `ready`.
    fn parse(&mut self) -> Result<(), Error> {
        while let Some(end) = event_end(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end.1).collect();
            let text = &block[..end.0];
            let data = data(text);
            if !data.is_empty() {
                let event: LiveEvent = serde_json::from_str(&data)
                    .map_err(|e| Error::Unexpected(format!("an event: {e}")))?;
                self.ready.push_back(Item::Event(event));
            } else if let Some(place) = id(text).and_then(|id| id.trim().parse().ok()) {
                // A fresh stream's first frame: where it starts, to resume from.
                self.ready.push_back(Item::Place(place));
            }
            // Comments (keep-alives) carry nothing.
        }
        if self.buffer.len() > EVENT_BYTES_MAX {
            return Err(Error::Unexpected(format!(
                "an event longer than {EVENT_BYTES_MAX} bytes"
            )));
        }
        Ok(())
    }
}
