//! The server's SSE streams on streamable HTTP: a request's own answer
//! stream, resumed (SEP-1699) when the server ends it before the answer, and
//! the session's GET stream of messages outside any request.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use futures::{StreamExt as _, stream::BoxStream};
use http::StatusCode;

use super::{conn::Conn, http::HttpLink};
use crate::wire::Message;

/// How often a request's stream is resumed after the server ended it early.
const MAX_RESUMES: u32 = 5;
/// Longest wait the server's `retry` field may ask for before resuming.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// Longest pause between attempts to reopen the session's GET stream.
const STREAM_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The session's GET stream: the server's messages outside any request,
/// handed to the connection's mux, until the connection ends. A server
/// that has none (405) is left alone.
pub(super) async fn standalone(link: Arc<HttpLink>, conn: Arc<Conn>) {
    let mut last_id: Option<String> = None;
    let mut backoff = Duration::from_secs(1);
    let mut opened_once = false;
    loop {
        let response = tokio::select! {
            r = link.get(last_id.as_deref()) => r,
            () = conn.ended() => return,
        };
        match response {
            Ok(r) if r.status() == StatusCode::METHOD_NOT_ALLOWED => return,
            Ok(r) if r.status().is_success() => {
                opened_once = true;
                backoff = Duration::from_secs(1);
                link.standalone.store(true, Ordering::Release);
                let mut events = super::sse::event_stream(r.bytes_stream());
                let mut retry = None;
                loop {
                    let event = tokio::select! {
                        e = events.next() => e,
                        () = conn.ended() => {
                            link.standalone.store(false, Ordering::Release);
                            return;
                        }
                    };
                    let Some(Ok(event)) = event else { break };
                    if let Some(id) = event.id.clone() {
                        last_id = Some(id);
                    }
                    if let Some(ms) = event.retry {
                        retry = Some(Duration::from_millis(ms));
                    }
                    if let Some(message) = event_message(&event)
                        && let Some(reply) = conn.mux().dispatch(message)
                        && let Err(e) = conn.post(&reply).await
                    {
                        tracing::debug!(server = conn.server(), error = %e, "reply not delivered");
                    }
                }
                link.standalone.store(false, Ordering::Release);
                if let Some(retry) = retry {
                    backoff = retry.max(Duration::from_millis(100));
                }
            }
            Ok(r) if !opened_once => {
                tracing::debug!(server = conn.server(), status = %r.status(), "no GET stream");
                return;
            }
            Err(e) if !opened_once => {
                tracing::debug!(server = conn.server(), error = %e, "no GET stream");
                return;
            }
            Ok(_) | Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = conn.ended() => return,
        }
        backoff = (backoff * 2).min(STREAM_BACKOFF_MAX);
    }
}

/// The messages of one request's SSE answer, resumed (SEP-1699) when the
/// server ends the stream before the answer.
pub(crate) struct Stream {
    link: Arc<HttpLink>,
    events: BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>,
    last_id: Option<String>,
    retry: Option<u64>,
    resumes: u32,
}

impl Stream {
    pub(super) fn new(link: Arc<HttpLink>, response: reqwest::Response) -> Self {
        Self {
            link,
            events: super::sse::event_stream(response.bytes_stream()),
            last_id: None,
            retry: None,
            resumes: 0,
        }
    }

    /// The next message; None once the stream is over for good.
    pub async fn next(&mut self) -> Option<Message> {
        loop {
            match self.events.next().await {
                Some(Ok(event)) => {
                    if let Some(id) = &event.id {
                        self.last_id = Some(id.clone());
                    }
                    if let Some(retry) = event.retry {
                        self.retry = Some(retry);
                    }
                    if let Some(message) = event_message(&event) {
                        return Some(message);
                    }
                }
                Some(Err(_)) | None => {
                    if !self.resume().await {
                        return None;
                    }
                }
            }
        }
    }

    async fn resume(&mut self) -> bool {
        let Some(last_id) = self.last_id.clone() else {
            return false;
        };
        if self.resumes >= MAX_RESUMES {
            return false;
        }
        self.resumes += 1;
        let wait = Duration::from_millis(self.retry.unwrap_or(0)).min(MAX_RETRY);
        tokio::time::sleep(wait).await;
        match self.link.get(Some(&last_id)).await {
            Ok(response) if response.status().is_success() => {
                self.events = super::sse::event_stream(response.bytes_stream());
                true
            }
            _ => false,
        }
    }
}

/// The message an SSE event carries, if it carries one.
fn event_message(event: &sse_stream::Sse) -> Option<Message> {
    match event.event.as_deref() {
        None | Some("" | "message") => {}
        Some(_) => return None,
    }
    let data = event.data.as_deref()?;
    if data.trim().is_empty() {
        return None;
    }
    match Message::parse(data.as_bytes()) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::debug!(error = %e, "skipping an event that is not a message");
            None
        }
    }
}
