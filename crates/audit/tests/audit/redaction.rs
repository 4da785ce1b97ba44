//! The bundled redaction rules, rule by rule.

use serde_json::json;
use switchboard_audit::{MASK, Redactor};

fn redacted(value: serde_json::Value) -> serde_json::Value {
    let mut value = value;
    Redactor::builtin().redact(&mut value);
    value
}

#[test]
fn secret_keys_are_masked_at_any_depth() {
    let out = redacted(json!({
        "Authorization": "Bearer abc",
        "headers": [{ "x-api-key": "k1" }, { "Cookie": "c" }],
        "nested": { "password": 42, "client_secret": "s", "githubToken": "t", "apiKey": ["a"] },
        "keep": "visible"
    }));
    assert_eq!(out["Authorization"], MASK);
    assert_eq!(out["headers"][0]["x-api-key"], MASK);
    assert_eq!(out["headers"][1]["Cookie"], MASK);
    assert_eq!(out["nested"]["password"], MASK);
    assert_eq!(out["nested"]["client_secret"], MASK);
    assert_eq!(out["nested"]["githubToken"], MASK);
    assert_eq!(out["nested"]["apiKey"], MASK);
    assert_eq!(out["keep"], "visible");
}

#[test]
fn keys_that_only_look_secret_are_kept() {
    let out = redacted(
        json!({ "progressToken": 7, "max_tokens": 100, "nextPageToken": "p2", "tokens": 3 }),
    );
    assert_eq!(
        out,
        json!({ "progressToken": 7, "max_tokens": 100, "nextPageToken": "p2", "tokens": 3 })
    );
}

#[test]
fn secret_shaped_strings_are_masked_inside_text() {
    let cases = [
        ("bearer", "use Bearer abcdefghijklmnop please"),
        (
            "jwt",
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here",
        ),
        (
            "switchboard-token",
            "sbt_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg",
        ),
        ("github-token", "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"),
        ("openai-style-key", "key=sk-proj-abcdefghijklmnopqrstuvwx"),
        ("aws-access-key", "AKIAABCDEFGHIJKLMNOP in text"),
        ("slack-token", "xoxb-1234567890-abcdefghij"),
        ("google-api-key", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
        ("stripe-key", "sk_live_abcdefghijklmnop1234"),
        (
            "private-key-block",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        ),
        (
            "url-credentials",
            "postgres://admin:hunter2@db.internal/prod",
        ),
        ("basic-auth", "Authorization: Basic dXNlcjpwYXNzd29yZA=="),
    ];
    let redactor = Redactor::builtin();
    for (rule, text) in cases {
        let mut s = text.to_owned();
        let fired = redactor.redact_str(&mut s);
        assert!(
            fired.contains(&rule),
            "{rule}: fired {fired:?} on {text:?} -> {s:?}"
        );
        assert!(s.contains(MASK), "{rule}: {s:?}");
    }
}

#[test]
fn ordinary_text_is_left_alone() {
    let redactor = Redactor::builtin();
    for text in [
        "The quick brown fox",
        "echo: hello world",
        "https://example.com/path?q=1",
        "sk-short",
        "tokenization of the sentence",
    ] {
        let mut s = text.to_owned();
        assert!(redactor.redact_str(&mut s).is_empty(), "{text:?}");
        assert_eq!(s, text);
    }
}

#[test]
fn secrets_the_gateway_holds_are_masked_wherever_they_appear() {
    let redactor = Redactor::builtin();
    redactor.set_known_secrets(["hunter2-longer".to_owned(), "abc".to_owned()]);
    let mut v = json!({ "note": "the env had hunter2-longer in it", "short": "abc" });
    redactor.redact(&mut v);
    assert_eq!(v["note"], format!("the env had {MASK} in it"));
    // Too short to search for verbatim without masking half the world.
    assert_eq!(v["short"], "abc");
}

#[test]
fn rules_are_data() {
    let custom = r#"{ "secret_keys": { "exact": ["pin"], "suffix": [] },
                      "value_patterns": [ { "name": "order-id", "regex": "ORD-[0-9]{4}" } ] }"#;
    let redactor = Redactor::from_rules(custom).unwrap();
    let mut v =
        json!({ "PIN": "1234", "text": "see ORD-9912", "password": "kept: not in these rules" });
    redactor.redact(&mut v);
    assert_eq!(
        v,
        json!({ "PIN": MASK, "text": format!("see {MASK}"), "password": "kept: not in these rules" })
    );
    let broken = r#"{ "secret_keys": { "exact": [], "suffix": [] }, "value_patterns": [ { "name": "bad", "regex": "(" } ] }"#;
    assert!(
        Redactor::from_rules(broken)
            .unwrap_err()
            .to_string()
            .contains("bad")
    );
}
