//! GET and DELETE on a session: its stream of messages outside any call, and
//! its end. Both take the caller's own session only.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use super::{Core, accepts, bind::check_route, refusal::Refusal};
use crate::{
    mcp_headers::{PROTOCOL_VERSION, SESSION_ID, is_stateless_version},
    route::Caller,
    session::{Held, Session},
};

/// A comment line now and then keeps idle proxies from closing the stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn session_of(
    core: &Core,
    caller: &Caller,
    parts: &Parts,
) -> Result<std::sync::Arc<Session>, Refusal> {
    check_route(core, &caller.route)?;
    let version = parts
        .headers
        .get(PROTOCOL_VERSION)
        .and_then(|v| v.to_str().ok());
    if version.is_some_and(is_stateless_version) {
        // 2026-07-28 has no sessions: everything is a POST.
        return Err(Refusal::MethodNotAllowed { allow: "POST" });
    }
    let id = parts
        .headers
        .get(SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::SessionRequired)?;
    let session = core
        .sessions
        .find(id, caller)
        .ok_or(Refusal::UnknownSession)?;
    session.touch();
    Ok(session)
}

/// `GET`: the session's stream.
pub(super) async fn open(core: &Core, caller: &Caller, parts: &Parts) -> Result<Response, Refusal> {
    if !accepts(parts, &["text/event-stream"]) {
        // Checked after the route, so an unknown server is still 404.
        check_route(core, &caller.route)?;
        return Err(Refusal::NotAcceptable(
            "the client must accept text/event-stream",
        ));
    }
    let session = session_of(core, caller, parts)?;
    // The stream holds its place until its body ends.
    let slot = core.sessions.caps.take(&caller.client, Held::Streams)?;
    let rx = session.open_stream();
    let mut tick = tokio::time::interval(KEEP_ALIVE);
    tick.reset();
    let stop = core.shutdown.clone();
    let state = (rx, tick, stop, slot);
    let events = futures::stream::unfold(state, |(mut rx, mut tick, stop, slot)| async move {
        tokio::select! {
            event = rx.recv() => event.map(|e| (Ok::<_, Infallible>(e), (rx, tick, stop, slot))),
            _ = tick.tick() => Some((Ok(Bytes::from_static(b":\n\n")), (rx, tick, stop, slot))),
            () = stop.cancelled() => None,
        }
    });
    let mut response = Body::from_stream(events).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// `DELETE`: ends the session.
pub(super) async fn close(
    core: &Core,
    caller: &Caller,
    parts: &Parts,
) -> Result<Response, Refusal> {
    let session = session_of(core, caller, parts)?;
    end(core, &session).await;
    Ok(StatusCode::OK.into_response())
}

/// Ends a session: its stream, its session-scoped approvals, and the
/// upstream subscriptions nobody else holds.
pub(crate) async fn end(core: &Core, session: &Session) {
    core.policy.approvals.forget_session(session.key);
    core.policy
        .flow_forget(&crate::policy::FlowKey::Session(session.key));
    let released = core.sessions.close(session);
    for (server, uri) in released {
        if let Some(up) = core.hub.get(&server) {
            let _ = up.unsubscribe_resource(&uri).await;
        }
    }
}
