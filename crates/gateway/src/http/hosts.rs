//! Which Host and Origin a request may carry: loopback names always; beyond
//! them only the hosts listed for a TLS listener, and only from https pages.
//! The DNS-rebinding defence of every route (MCP, control API, web UI).

use std::sync::Arc;

use axum::http::{HeaderMap, header};

/// The hosts requests may name besides loopback ones.
#[derive(Debug, Clone, Default)]
pub struct HostCheck {
    extra: Arc<[String]>,
}

impl HostCheck {
    /// Loopback only (the default).
    pub fn loopback() -> Self {
        Self::default()
    }

    /// Loopback and `hosts` (names or addresses, no port), as given to
    /// `serve --allowed-host`.
    pub fn with_hosts(hosts: &[String]) -> Self {
        Self {
            extra: hosts
                .iter()
                .map(|h| {
                    h.trim()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_ascii_lowercase()
                })
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// The hosts allowed beyond loopback.
    pub fn hosts(&self) -> &[String] {
        &self.extra
    }

    /// Host and Origin checks; the refusal message when they fail.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        match host_name(host) {
            Some(name) if is_loopback_name(&name) || self.extra.contains(&name) => {}
            _ => return Err("Host header is not a loopback address or an allowed host"),
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let ok = origin.to_str().is_ok_and(|o| self.origin_ok(o));
            if !ok {
                return Err("Origin is not allowed");
            }
        }
        Ok(())
    }

    fn origin_ok(&self, origin: &str) -> bool {
        let (secure, rest) = if let Some(rest) = origin.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = origin.strip_prefix("http://") {
            (false, rest)
        } else {
            return false;
        };
        if rest.contains('/') {
            return false;
        }
        match host_name(rest) {
            Some(name) if is_loopback_name(&name) => true,
            // Pages of an allowed host come over TLS only.
            Some(name) => secure && self.extra.contains(&name),
            None => false,
        }
    }
}

/// The host of a Host header or an origin's authority, lowercased, without
/// its port or brackets; None when it is malformed.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((inside, after))
                if after.is_empty()
                    || after
                        .strip_prefix(':')
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                Some(inside.to_owned())
            }
            _ => None,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.contains(':') => {
            Some(name.to_owned())
        }
        Some(_) => None,
        None => (!host.is_empty()).then_some(host),
    }
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            host.parse().unwrap_or_else(|_| unreachable!()),
        );
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap_or_else(|_| unreachable!()));
        }
        h
    }

    #[test]
    fn loopback_hosts() {
        let check = HostCheck::loopback();
        for ok in [
            "localhost",
            "localhost:7331",
            "127.0.0.1:1",
            "127.5.5.5",
            "[::1]:80",
            "LOCALHOST",
        ] {
            assert!(check.check(&headers(ok, None)).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "evil.test",
            "localhost.evil.test",
            "127.0.0.1.nip.io",
            "10.0.0.1:7331",
            "[::2]:80",
            "localhost:80x",
        ] {
            assert!(check.check(&headers(bad, None)).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_origins() {
        let check = HostCheck::loopback();
        let with = |o| check.check(&headers("localhost", Some(o)));
        assert!(with("http://localhost:5173").is_ok());
        assert!(with("http://127.0.0.1").is_ok());
        assert!(with("https://evil.test").is_err());
        assert!(with("null").is_err());
        assert!(with("http://localhost:1/x").is_err());
    }

    #[test]
    fn an_allowed_host_is_let_in_and_only_from_https_pages() {
        let check = HostCheck::with_hosts(&["Gateway.Team.Example".into(), "10.20.0.1".into()]);
        assert!(
            check
                .check(&headers("gateway.team.example:7443", None))
                .is_ok()
        );
        assert!(check.check(&headers("10.20.0.1:7443", None)).is_ok());
        assert!(
            check
                .check(&headers("other.team.example:7443", None))
                .is_err()
        );
        assert!(
            check
                .check(&headers(
                    "gateway.team.example",
                    Some("https://gateway.team.example:7443")
                ))
                .is_ok()
        );
        assert!(
            check
                .check(&headers(
                    "gateway.team.example",
                    Some("http://gateway.team.example:7443")
                ))
                .is_err(),
            "a plain-http page of the allowed host"
        );
        assert!(
            check
                .check(&headers(
                    "gateway.team.example",
                    Some("https://evil.example")
                ))
                .is_err()
        );
    }
}
