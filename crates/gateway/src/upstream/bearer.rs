//! The server's own OAuth token on requests to it (never a client's): sent
//! when the server has a sign-in, refreshed once when the server refuses it,
//! and what a refusal means for the sign-in. Streamable HTTP and the legacy
//! SSE transport send their requests through [`send`].

use http::{StatusCode, header::WWW_AUTHENTICATE};
use switchboard_auth::oauth::ServerAuth;

use super::UpstreamError;

/// Sends what `build` makes, with the server's access token when it has a
/// sign-in; a rejected token is refreshed and the request sent once more.
/// `failure` turns a send error into the transport's error.
pub(super) async fn send(
    auth: Option<&ServerAuth>,
    server: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
    failure: impl Fn(&reqwest::Error) -> UpstreamError,
) -> Result<reqwest::Response, UpstreamError> {
    let Some(auth) = auth else {
        return build().send().await.map_err(|e| failure(&e));
    };
    let needs = || UpstreamError::NeedsSignIn {
        server: server.to_owned(),
    };
    if auth.lost_now() {
        return Err(needs());
    }
    let token = auth
        .access_token()
        .await
        .map_err(|detail| UpstreamError::Send {
            server: server.to_owned(),
            detail,
        })?
        .map(|t| t.expose().clone());
    if token.is_none() && auth.lost_now() {
        return Err(needs());
    }
    let send = |token: Option<&str>| {
        let request = build();
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    let response = send(token.as_deref())
        .send()
        .await
        .map_err(|e| failure(&e))?;
    match challenge(&response) {
        Some((StatusCode::UNAUTHORIZED, header)) => {
            let Some(sent) = token else {
                auth.unauthorized(&header);
                return Err(needs());
            };
            let Some(fresh) = auth.token_rejected(&sent, &header).await else {
                return Err(needs());
            };
            let again = send(Some(fresh.expose()))
                .send()
                .await
                .map_err(|e| failure(&e))?;
            match challenge(&again) {
                Some((StatusCode::UNAUTHORIZED, header)) => {
                    auth.unauthorized(&header);
                    Err(needs())
                }
                Some((_, header)) => Err(scope(auth, server, &header)),
                None => Ok(again),
            }
        }
        Some((_, header)) => Err(scope(auth, server, &header)),
        None => Ok(response),
    }
}

fn scope(auth: &ServerAuth, server: &str, header: &str) -> UpstreamError {
    let scope = required_scope(header);
    auth.insufficient_scope(header, scope.as_deref());
    UpstreamError::NeedsScope {
        server: server.to_owned(),
        scope,
    }
}

/// A 401 or 403 that carries an OAuth challenge, with the challenge.
fn challenge(response: &reqwest::Response) -> Option<(StatusCode, String)> {
    let status = response.status();
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return None;
    }
    let header = response.headers().get(WWW_AUTHENTICATE)?.to_str().ok()?;
    if status == StatusCode::FORBIDDEN && !header.contains("insufficient_scope") {
        return None;
    }
    Some((status, header.to_owned()))
}

/// The `scope` a `WWW-Authenticate` challenge asks for.
fn required_scope(header: &str) -> Option<String> {
    let at = header.find("scope=")?;
    let rest = &header[at + "scope=".len()..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split([',', ' ']).next()?,
    };
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_of_a_challenge() {
        assert_eq!(
            required_scope(r#"Bearer error="insufficient_scope", scope="files:write admin""#),
            Some("files:write admin".into())
        );
        assert_eq!(
            required_scope("Bearer scope=read, realm=x"),
            Some("read".into())
        );
        assert_eq!(required_scope("Bearer realm=x"), None);
    }
}
