//! Entry points for the fuzz targets in `tests/fuzz`; not a stable API.
//!
//! Each function runs one of the gateway's readers of untrusted bytes the
//! way the gateway runs it, and returns what it made of them in plain types
//! for the targets to check their properties on.

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::{
    mcp_headers,
    pipeline::{
        bind::{Bound, Envelope, Stateless, Who},
        classify,
    },
    route::{Caller, Route},
    session::{Session, Sessions},
    upstream::sse,
    wire::{Kind, Message},
};

/// What the gateway makes of a request body: the message as it writes it
/// again, or the JSON-RPC code of the error it answers instead.
pub fn parse_message(body: &[u8]) -> Result<Vec<u8>, i64> {
    Message::parse(body)
        .map(|message| message.to_bytes().to_vec())
        .map_err(|e| e.code())
}

/// How a request reaches the classify stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// An `initialize`, before its session exists.
    Opening,
    /// On a 2025-11-25 session of `/mcp`.
    Session,
    /// A 2026-07-28 request on `/mcp`.
    Stateless,
}

/// Classifies the request in `body` as bound by `binding`. None when the
/// body is not a request; else the method the pipeline goes on to serve, or
/// the error answer the client gets instead.
pub fn classify(body: &[u8], binding: Binding) -> Option<Result<String, Vec<u8>>> {
    let message = Message::parse(body).ok()?;
    if message.kind() != Some(Kind::Request) {
        return None;
    }
    let id = message.id.clone();
    let bound = bound(binding);
    Some(match classify::classify(&bound, message) {
        Ok(request) => Ok(request.method),
        Err(refusal) => {
            refusal.status(bound.stateless());
            Err(Message::error(id, &refusal.error()).to_bytes().to_vec())
        }
    })
}

fn bound(binding: Binding) -> Bound {
    static SESSION: OnceLock<(Arc<Sessions>, Arc<Session>)> = OnceLock::new();
    let caller = || Caller {
        client: "fuzz".into(),
        route: Route::All,
    };
    let (sessions, session) = SESSION.get_or_init(|| {
        let sessions = Arc::new(Sessions::default());
        let session = sessions.open(caller(), "2025-11-25".into(), Default::default());
        (sessions, session)
    });
    let who = match binding {
        Binding::Opening => Who::Opening,
        Binding::Session => Who::Session(session.clone()),
        Binding::Stateless => Who::Stateless(Box::new(Stateless {
            version: mcp_headers::STATELESS_VERSION.into(),
            capabilities: Default::default(),
            capabilities_json: Value::Object(Map::new()),
            log_level: None,
            request: sessions.request(mcp_headers::STATELESS_VERSION),
        })),
    };
    Bound {
        caller: caller(),
        who,
    }
}

/// What the bind stage reads of a message's params to tell its era: the
/// `_meta` member and an `initialize`'s `protocolVersion`.
pub fn envelope(params: &str) -> (Option<Value>, Option<Value>) {
    let envelope = Envelope::read(params);
    (envelope.meta, envelope.protocol_version)
}

/// The SEP-2243 headers the gateway sends with a request to a 2026-07-28
/// server, then checked as the gateway checks a client's: the headers, or
/// why the check refused them.
pub fn headers_round_trip(
    method: &str,
    params: Option<&Map<String, Value>>,
    schema: Option<&Map<String, Value>>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in mcp_headers::for_request(method, params, schema) {
        headers.append(name, value);
    }
    mcp_headers::check(&headers, method, params, schema)?;
    Ok(headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect())
}

/// A legacy (2024-11-05) server's SSE stream at `sse_url`, arriving in
/// `chunks`, read as the gateway reads it: the message endpoint or why the
/// session cannot start, then every message that follows, as the gateway
/// writes it.
pub fn legacy_sse(sse_url: &str, chunks: Vec<Vec<u8>>) -> (Result<String, String>, Vec<Vec<u8>>) {
    let sse_url = match url::Url::parse(sse_url) {
        Ok(url) => url,
        Err(e) => return (Err(e.to_string()), Vec::new()),
    };
    let body = futures::stream::iter(
        chunks
            .into_iter()
            .map(|chunk| Ok::<_, Infallible>(Bytes::from(chunk))),
    );
    futures::executor::block_on(async {
        match sse::handshake(sse::event_stream(body), &sse_url).await {
            Err(e) => (Err(e.to_string()), Vec::new()),
            Ok((endpoint, mut events)) => {
                let mut messages = Vec::new();
                while let Some(batch) = events.next_messages().await {
                    messages.extend(batch.iter().map(|m| m.to_bytes().to_vec()));
                }
                (Ok(endpoint.to_string()), messages)
            }
        }
    })
}
