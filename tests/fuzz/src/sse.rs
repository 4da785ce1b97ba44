//! A legacy (2024-11-05) server's SSE stream as the gateway reads it: the
//! same bytes give the same endpoint and the same messages however the
//! network cuts them, and the endpoint is always on the stream's origin.

use switchboard_gateway::fuzzing;

use crate::Draw;

/// The SSE URL the stream answers (the endpoint resolves against it).
const SSE_URL: &str = "http://127.0.0.1:3001/sse";

pub fn chunking(data: &[u8]) {
    let whole = fuzzing::legacy_sse(SSE_URL, vec![data.to_vec()]);
    let bytewise = fuzzing::legacy_sse(SSE_URL, data.iter().map(|b| vec![*b]).collect());
    assert_eq!(whole, bytewise, "one chunk, then one byte at a time");
    let mut draw = Draw::from(data);
    let mut chunks = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(draw.size(rest.len().min(64)));
        chunks.push(chunk.to_vec());
        rest = tail;
    }
    assert_eq!(
        whole,
        fuzzing::legacy_sse(SSE_URL, chunks),
        "one chunk, then chunks of 1 to 64 bytes"
    );

    let (endpoint, messages) = whole;
    if let Ok(endpoint) = endpoint {
        let endpoint = url::Url::parse(&endpoint).expect("the endpoint is a URL");
        let origin = url::Url::parse(SSE_URL).expect("SSE_URL").origin();
        assert_eq!(
            endpoint.origin(),
            origin,
            "the endpoint is on the SSE origin"
        );
    }
    for message in messages {
        assert_eq!(
            fuzzing::parse_message(&message).as_ref(),
            Ok(&message),
            "a relayed message reads back as itself"
        );
    }
}
