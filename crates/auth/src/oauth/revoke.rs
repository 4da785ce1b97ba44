//! Sign-out at the authorization server: RFC 7009 token revocation of the
//! refresh token and the access token, with the client's own credentials.

use base64::Engine as _;
use oauth2::TokenResponse as _;
use rmcp::transport::auth::AuthorizationMetadata;
use serde::Serialize;

use super::{
    grant::Grant,
    net::{self, Kind, OAuthNet},
};

/// What signing out did at the authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "detail")]
pub enum Revocation {
    /// The tokens were revoked.
    Revoked,
    /// The authorization server has no revocation endpoint: the tokens were
    /// forgotten here and stay valid there until they expire.
    Unsupported,
    /// Revoking failed, for the reason given; the tokens were forgotten here.
    Failed(String),
    /// There were no tokens to revoke.
    NothingToRevoke,
}

impl std::fmt::Display for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Revoked => f.write_str("the authorization server revoked the tokens"),
            Self::Unsupported => f.write_str(
                "the authorization server offers no revocation: the tokens stay valid there until they expire",
            ),
            Self::Failed(why) => write!(
                f,
                "revoking at the authorization server failed ({why}): the tokens stay valid there until they expire"
            ),
            Self::NothingToRevoke => f.write_str("there were no tokens to revoke"),
        }
    }
}

/// What [`super::OAuth::sign_out`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignOut {
    /// Whether there was a sign-in.
    pub had_sign_in: bool,
    /// What the authorization server was told.
    pub revocation: Revocation,
}

/// Revokes the refresh token, then the access token, of `grant` at the
/// revocation endpoint `metadata` names.
pub(super) async fn revoke(
    net: &OAuthNet,
    metadata: &AuthorizationMetadata,
    grant: &Grant,
) -> Revocation {
    let Some(tokens) = grant
        .credentials
        .as_ref()
        .and_then(|c| c.token_response.as_ref())
    else {
        return Revocation::NothingToRevoke;
    };
    let Some(endpoint) = metadata
        .additional_fields
        .get("revocation_endpoint")
        .and_then(serde_json::Value::as_str)
    else {
        return Revocation::Unsupported;
    };
    if !url::Url::parse(endpoint).is_ok_and(|u| net::secure_endpoint(&u)) {
        return Revocation::Failed(format!("{} is not https", net::redact_url(endpoint)));
    }
    // The refresh token first: revoking it ends the grant at most servers.
    let mut pending = Vec::new();
    if let Some(refresh) = tokens.refresh_token() {
        pending.push((refresh.secret().as_str(), "refresh_token"));
    }
    pending.push((tokens.access_token().secret().as_str(), "access_token"));
    let body_auth = prefers_body_auth(metadata);
    for (token, hint) in pending {
        let request = match request(endpoint, grant, token, hint, body_auth) {
            Ok(r) => r,
            Err(e) => return Revocation::Failed(e.to_string()),
        };
        match net.send(request, false, Kind::Revocation).await {
            // RFC 7009 §2.2: 200 also for tokens that were already invalid.
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                let code = net::error_code(response.body())
                    .map(|c| format!(", error {c}"))
                    .unwrap_or_default();
                return Revocation::Failed(format!("HTTP {}{code}", response.status().as_u16()));
            }
            Err(e) => return Revocation::Failed(e.to_string()),
        }
    }
    Revocation::Revoked
}

/// Whether the client authenticates in the body (`client_secret_post`)
/// rather than with HTTP Basic: only when the server says it takes no Basic.
fn prefers_body_auth(metadata: &AuthorizationMetadata) -> bool {
    let methods = |key: &str| {
        metadata
            .additional_fields
            .get(key)
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
    };
    let methods = methods("revocation_endpoint_auth_methods_supported")
        .or_else(|| methods("token_endpoint_auth_methods_supported"));
    methods.is_some_and(|m| {
        !m.iter().any(|x| x == "client_secret_basic") && m.iter().any(|x| x == "client_secret_post")
    })
}

fn request(
    endpoint: &str,
    grant: &Grant,
    token: &str,
    hint: &str,
    body_auth: bool,
) -> Result<http::Request<Vec<u8>>, http::Error> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", hint);
    let mut builder = http::Request::post(endpoint)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json");
    match grant.client_secret.as_deref() {
        Some(secret) if !body_auth => {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(&grant.client_id),
                enc(secret)
            ));
            builder = builder.header(http::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        Some(secret) => {
            form.append_pair("client_id", &grant.client_id)
                .append_pair("client_secret", secret);
        }
        None => {
            form.append_pair("client_id", &grant.client_id);
        }
    }
    builder.body(form.finish().into_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn metadata(fields: serde_json::Value) -> AuthorizationMetadata {
        let mut value = serde_json::json!({
            "authorization_endpoint": "https://as.example/authorize",
            "token_endpoint": "https://as.example/token",
        });
        value
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(value).unwrap()
    }

    fn grant(secret: Option<&str>) -> Grant {
        Grant {
            issuer: "https://as.example".into(),
            client_id: "client:1".into(),
            client_secret: secret.map(str::to_owned),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            preregistered: false,
            secret_expires_at: None,
            credentials: None,
            signed_out: false,
        }
    }

    #[test]
    fn confidential_clients_use_basic_unless_only_post_is_offered() {
        let basic = request(
            "https://as.example/revoke",
            &grant(Some("s&t")),
            "tok",
            "refresh_token",
            false,
        )
        .unwrap();
        let auth = basic.headers()[http::header::AUTHORIZATION]
            .to_str()
            .unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim_start_matches("Basic "))
            .unwrap();
        assert_eq!(decoded, b"client%3A1:s%26t");
        assert_eq!(basic.body(), b"token=tok&token_type_hint=refresh_token");

        let only_post = metadata(serde_json::json!({
            "revocation_endpoint_auth_methods_supported": ["client_secret_post"],
        }));
        assert!(prefers_body_auth(&only_post));
        assert!(!prefers_body_auth(&metadata(serde_json::json!({}))));
        let post = request(
            "https://as.example/revoke",
            &grant(Some("s")),
            "tok",
            "access_token",
            true,
        )
        .unwrap();
        assert!(post.headers().get(http::header::AUTHORIZATION).is_none());
        assert_eq!(
            std::str::from_utf8(post.body()).unwrap(),
            "token=tok&token_type_hint=access_token&client_id=client%3A1&client_secret=s"
        );
        let public = request(
            "https://as.example/revoke",
            &grant(None),
            "tok",
            "access_token",
            false,
        )
        .unwrap();
        assert!(
            std::str::from_utf8(public.body())
                .unwrap()
                .ends_with("&client_id=client%3A1")
        );
    }
}
