//! The HTTP client every OAuth request goes through: it refuses addresses a
//! server's metadata must not send us to (SSRF), and writes each exchange
//! into the attempt's debug record (never a body, never a secret).

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt as _;
use rmcp::transport::auth::{
    OAuthHttpClient, OAuthHttpClientError, OAuthHttpClientFuture, OAuthHttpRedirectPolicy,
    OAuthHttpRequest,
};

use super::record::Journal;

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BODY: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 10;

/// Which resolved addresses OAuth requests may reach. A public server may only
/// send us to public addresses; a server on loopback (or a private network)
/// may name hosts of its own kind. Link-local, unspecified, multicast and
/// cloud-metadata addresses are never reached.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddressPolicy {
    allow_loopback: bool,
    allow_private: bool,
}

impl AddressPolicy {
    /// The policy for a resource at `url`.
    pub(crate) fn for_resource(url: &url::Url) -> Self {
        let (loopback, private) = match url.host() {
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                (d == "localhost" || d.ends_with(".localhost"), false)
            }
            Some(url::Host::Ipv4(a)) => (a.is_loopback(), a.is_private()),
            Some(url::Host::Ipv6(a)) => (a.is_loopback(), (a.segments()[0] & 0xfe00) == 0xfc00),
            None => (false, false),
        };
        Self {
            allow_loopback: loopback,
            allow_private: private || loopback,
        }
    }

    fn allows(self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(a) => {
                let o = a.octets();
                if a.is_link_local()
                    || a.is_unspecified()
                    || a.is_multicast()
                    || a.is_broadcast()
                    || o[0] == 0
                {
                    return false;
                }
                if a.is_loopback() {
                    return self.allow_loopback;
                }
                if a.is_private() || (o[0] == 100 && (64..=127).contains(&o[1])) {
                    return self.allow_private;
                }
                true
            }
            IpAddr::V6(a) => {
                let s = a.segments();
                if a.is_unspecified() || a.is_multicast() || (s[0] & 0xffc0) == 0xfe80 {
                    return false;
                }
                if a.is_loopback() {
                    return self.allow_loopback;
                }
                if (s[0] & 0xfe00) == 0xfc00 {
                    return self.allow_private;
                }
                true
            }
        }
    }

    fn allows_url(self, url: &url::Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        match url.host() {
            Some(url::Host::Ipv4(a)) => self.allows(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => self.allows(IpAddr::V6(a)),
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if matches!(
                    d.as_str(),
                    "metadata" | "metadata.google.internal" | "metadata.azure.internal"
                ) {
                    return false;
                }
                // Names are checked again once resolved.
                true
            }
            None => false,
        }
    }
}

/// Whether an OAuth endpoint may be used: https, or plain http on loopback
/// only (a local authorization server). Tokens and codes never cross a
/// network in the clear.
pub(crate) fn secure_endpoint(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Resolves names and drops the addresses the policy refuses.
struct FilteringResolver(AddressPolicy);

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address OAuth may reach").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum NetError {
    #[error("OAuth request to {0} refused: address not allowed for this server")]
    Refused(String),
    #[error(
        "OAuth request to {0} refused: OAuth endpoints must use https (plain http only on loopback)"
    )]
    Insecure(String),
    #[error("OAuth response body exceeds {MAX_BODY} bytes")]
    TooLarge,
}

/// The filtering, recording client one server's OAuth traffic uses.
pub(crate) struct OAuthNet {
    follow: reqwest::Client,
    stop: reqwest::Client,
    policy: AddressPolicy,
    journal: Arc<Journal>,
    /// The first endpoint refused for not being https, to tell the user.
    insecure: std::sync::Mutex<Option<String>>,
}

impl OAuthNet {
    pub(crate) fn new(resource: &url::Url, journal: Arc<Journal>) -> Result<Self, String> {
        let policy = AddressPolicy::for_resource(resource);
        let resolver = Arc::new(FilteringResolver(policy));
        let follow_policy = reqwest::redirect::Policy::custom(move |attempt| {
            if !secure_endpoint(attempt.url()) {
                let refused = NetError::Insecure(redact_url(attempt.url().as_str()));
                attempt.error(refused)
            } else if !policy.allows_url(attempt.url()) {
                let refused = NetError::Refused(attempt.url().to_string());
                attempt.error(refused)
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        });
        let build = |redirect| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(redirect)
                .dns_resolver(resolver.clone())
                .build()
                .map_err(|e| e.to_string())
        };
        Ok(Self {
            follow: build(follow_policy)?,
            stop: build(reqwest::redirect::Policy::none())?,
            policy,
            journal,
            insecure: std::sync::Mutex::new(None),
        })
    }

    /// The first endpoint refused for plain http, if any.
    pub(crate) fn insecure_endpoint(&self) -> Option<String> {
        self.insecure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl OAuthHttpClient for OAuthNet {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            let OAuthHttpRequest {
                request,
                redirect_policy,
                ..
            } = request;
            let kind = classify(request.uri().path(), request.body());
            let follow = !matches!(redirect_policy, OAuthHttpRedirectPolicy::Stop);
            self.send(request, follow, kind).await
        })
    }
}

impl OAuthNet {
    /// Sends one OAuth request under the address rules, recording it.
    pub(crate) async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        follow: bool,
        kind: Kind,
    ) -> Result<http::Response<Vec<u8>>, OAuthHttpClientError> {
        let method = request.method().to_string();
        let shown_url = redact_url(&request.uri().to_string());
        let request =
            reqwest::Request::try_from(request).map_err(|e| Box::new(e) as OAuthHttpClientError)?;
        if !secure_endpoint(request.url()) {
            self.journal.step(
                &format!("{method} {shown_url}"),
                None,
                Some("refused: not https".into()),
            );
            self.insecure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| shown_url.clone());
            return Err(Box::new(NetError::Insecure(shown_url)) as OAuthHttpClientError);
        }
        if !self.policy.allows_url(request.url()) {
            self.journal.step(
                &format!("{method} {shown_url}"),
                None,
                Some("refused: address not allowed".into()),
            );
            return Err(Box::new(NetError::Refused(shown_url)) as OAuthHttpClientError);
        }
        let client = if follow { &self.follow } else { &self.stop };
        let response = match client.execute(request).await {
            Ok(r) => r,
            Err(e) => {
                self.journal.step(
                    &format!("{method} {shown_url}"),
                    None,
                    Some(format!("{kind}: request failed: {}", without_url(&e))),
                );
                return Err(Box::new(e) as OAuthHttpClientError);
            }
        };
        let status = response.status();
        let mut builder = http::Response::builder()
            .status(status)
            .version(response.version());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Box::new(e) as OAuthHttpClientError)?;
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Box::new(NetError::TooLarge) as OAuthHttpClientError);
            }
            body.extend_from_slice(&chunk);
        }
        self.journal.step(
            &format!("{method} {shown_url}"),
            Some(status.as_u16()),
            describe_response(kind, status.as_u16(), &body),
        );
        if kind == Kind::Registration && status.is_success() {
            self.journal.registered(&body);
        }
        if matches!(kind, Kind::Token | Kind::Refresh)
            && matches!(
                error_code(&body).as_deref(),
                Some("invalid_client" | "unauthorized_client")
            )
        {
            self.journal.client_refused_now();
        }
        builder
            .body(body)
            .map_err(|e| Box::new(e) as OAuthHttpClientError)
    }
}

/// What an OAuth request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Metadata,
    Registration,
    Token,
    Refresh,
    Revocation,
    Other,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Metadata => "metadata",
            Kind::Registration => "registration",
            Kind::Token => "token (authorization code)",
            Kind::Refresh => "token (refresh)",
            Kind::Revocation => "revocation",
            Kind::Other => "request",
        })
    }
}

fn classify(path: &str, body: &[u8]) -> Kind {
    if path.contains("/.well-known/") {
        return Kind::Metadata;
    }
    let text = String::from_utf8_lossy(body);
    if text.contains("grant_type=refresh_token") {
        Kind::Refresh
    } else if text.contains("grant_type=authorization_code") {
        Kind::Token
    } else if text.contains("\"redirect_uris\"") {
        Kind::Registration
    } else {
        Kind::Other
    }
}

/// What the debug record says about a response: its kind, and for failures
/// the OAuth `error` code (never the body, which may echo secrets).
fn describe_response(kind: Kind, status: u16, body: &[u8]) -> Option<String> {
    if (200..300).contains(&status) {
        return Some(match kind {
            Kind::Metadata => {
                let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                let mut parts = vec!["metadata".to_owned()];
                if let Some(issuer) = value.get("issuer").and_then(|v| v.as_str()) {
                    parts.push(format!("issuer {issuer}"));
                }
                if let Some(servers) = value.get("authorization_servers") {
                    parts.push(format!("authorization servers {servers}"));
                }
                if let Some(scopes) = value.get("scopes_supported") {
                    parts.push(format!("scopes {scopes}"));
                }
                parts.join(", ")
            }
            Kind::Token | Kind::Refresh => {
                let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                let mut text = format!("{kind}: tokens issued");
                if let Some(scope) = value.get("scope").and_then(|v| v.as_str()) {
                    text.push_str(&format!(", scope \"{scope}\""));
                }
                if let Some(exp) = value.get("expires_in") {
                    text.push_str(&format!(", expires in {exp}s"));
                }
                text
            }
            other => other.to_string(),
        });
    }
    Some(match error_code(body) {
        Some(code) => format!("{kind}: error {code}"),
        None => kind.to_string(),
    })
}

/// The OAuth `error` code of an error response.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
}

/// A URL with its query removed (authorization and callback URLs carry codes
/// and state; metadata URLs carry nothing worth keeping).
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            if had_query {
                format!("{u}?…")
            } else {
                u.to_string()
            }
        }
        Err(_) => "<invalid URL>".into(),
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), &redact_url(url.as_str()));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn public_resources_reach_only_public_addresses() {
        let public =
            AddressPolicy::for_resource(&url::Url::parse("https://mcp.example.com/mcp").unwrap());
        assert!(public.allows("93.184.216.34".parse().unwrap()));
        assert!(!public.allows("127.0.0.1".parse().unwrap()));
        assert!(!public.allows("10.1.2.3".parse().unwrap()));
        assert!(!public.allows("169.254.169.254".parse().unwrap()));
        assert!(!public.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!public.allows_url(&url::Url::parse("http://metadata.google.internal/x").unwrap()));
        let local =
            AddressPolicy::for_resource(&url::Url::parse("http://127.0.0.1:9/mcp").unwrap());
        assert!(local.allows("127.0.0.1".parse().unwrap()));
        assert!(!local.allows("169.254.169.254".parse().unwrap()));
        assert!(!local.allows_url(&url::Url::parse("file:///etc/passwd").unwrap()));
    }

    #[test]
    fn endpoints_need_https_except_on_loopback() {
        let ok = |u: &str| secure_endpoint(&url::Url::parse(u).unwrap());
        assert!(ok("https://as.example.com/token"));
        assert!(ok("http://127.0.0.1:9000/token"));
        assert!(ok("http://127.8.0.1/token"));
        assert!(ok("http://[::1]:9000/authorize"));
        assert!(ok("http://localhost:8080/register"));
        assert!(ok("http://auth.localhost/register"));
        assert!(!ok("http://as.example.com/token"));
        assert!(!ok("http://10.0.0.5/token"));
        assert!(!ok("http://192.168.1.2:8080/authorize"));
        assert!(!ok("http://localhost.example.com/token"));
        assert!(!ok("ftp://as.example.com/token"));
        let text = NetError::Insecure("http://as.example.com/token".into()).to_string();
        assert!(text.contains("must use https"), "{text}");
    }

    #[test]
    fn records_keep_no_secrets() {
        assert_eq!(
            redact_url("http://127.0.0.1:5/callback?code=abc&state=xyz"),
            "http://127.0.0.1:5/callback?…"
        );
        let body =
            br#"{"access_token":"tok-123","refresh_token":"r-9","expires_in":60,"scope":"a b"}"#;
        let text = describe_response(Kind::Token, 200, body).unwrap();
        assert!(!text.contains("tok-123") && !text.contains("r-9"), "{text}");
        assert!(text.contains("expires in 60s"), "{text}");
        let text = describe_response(
            Kind::Refresh,
            400,
            br#"{"error":"invalid_grant","error_description":"grant r-9 revoked"}"#,
        )
        .unwrap();
        assert_eq!(text, "token (refresh): error invalid_grant");
    }
}
