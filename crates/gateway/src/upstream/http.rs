//! Streamable HTTP upstreams.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderMap, HeaderName, HeaderValue};
use rmcp::transport::{
    StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
};

/// Concurrent POSTs per upstream; rmcp's default of 16 would queue calls from
/// many client sessions behind each other.
const MAX_CONCURRENT_REQUESTS: usize = 256;

/// Parses configured headers; a bad name or value is a configuration error.
pub(crate) fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let (name, value) = parse_header(name, value)?;
        map.insert(name, value);
    }
    Ok(map)
}

fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("invalid header name: {name:?}"))?;
    let header_value =
        HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
    Ok((header_name, header_value))
}

/// A streamable HTTP client transport to `url` with the configured headers.
/// rmcp re-initializes the session by itself when the server answers 404
/// (session expired).
pub(crate) fn transport(
    client: reqwest::Client,
    url: &str,
    headers: &BTreeMap<String, String>,
) -> Result<StreamableHttpClientTransport<reqwest::Client>, String> {
    url::Url::parse(url).map_err(|e| format!("invalid URL {url}: {e}"))?;
    let mut custom = HashMap::new();
    for (name, value) in headers {
        let (name, value) = parse_header(name, value)?;
        custom.insert(name, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
        .max_concurrent_requests(MAX_CONCURRENT_REQUESTS)
        .custom_headers(custom);
    Ok(StreamableHttpClientTransport::with_client(client, config))
}
