//! Redaction of what the audit log stores: a secret the gateway holds never
//! survives in any string of a message, wherever in the string it stands,
//! and the value under a secret-looking key is masked whole.
//!
//! Input: one byte N, N bytes of secret (UTF-8), one byte saying where in
//! each string the secret goes, then a JSON document (a message).

use std::sync::OnceLock;

use serde_json::Value;
use switchboard_audit::{MASK, Redactor};

/// Secrets shorter than this are not masked verbatim (the redactor's rule).
const MIN_KNOWN_SECRET_LEN: usize = 6;

pub fn planted(data: &[u8]) {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len);
    if rest.len() < len + 1 {
        return;
    }
    let (secret, rest) = rest.split_at(len);
    let (at, json) = (rest[0], &rest[1..]);
    let Ok(secret) = std::str::from_utf8(secret) else {
        return;
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    plant(&mut value, secret, usize::from(at));
    let before = value.clone();

    let redactor = redactor();
    redactor.set_known_secrets([secret.to_owned()]);
    redactor.redact(&mut value);

    // A secret that holds the mask itself cannot be told from a masked one.
    if secret.len() >= MIN_KNOWN_SECRET_LEN && !secret.contains(MASK) {
        // A stand-in for the mask that the secret does not contain: an
        // occurrence of the secret made of the mask's own letters next to
        // the text around it is not one the message had.
        let stand_in = ['\u{0}', '\u{1}', '\u{2}']
            .into_iter()
            .find(|c| !secret.contains(*c))
            .map(String::from)
            .unwrap_or_default();
        strings(&value, &mut |s| {
            assert!(
                !s.replace(MASK, &stand_in).contains(secret),
                "secret {secret:?} survives in {s:?}"
            );
        });
    }
    masked_keys(redactor, &before, &value);
}

fn redactor() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(Redactor::builtin)
}

/// Puts `secret` into every string, at `at` (modulo its length).
fn plant(value: &mut Value, secret: &str, at: usize) {
    match value {
        Value::String(s) => {
            let mut i = at % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            s.insert_str(i, secret);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| plant(v, secret, at)),
        Value::Object(map) => map.values_mut().for_each(|v| plant(v, secret, at)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn strings(value: &Value, check: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => check(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, check)),
        Value::Object(map) => map.values().for_each(|v| strings(v, check)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Every non-null value under a secret key is the mask.
fn masked_keys(redactor: &Redactor, before: &Value, after: &Value) {
    match (before, after) {
        (Value::Object(before), Value::Object(after)) => {
            assert_eq!(before.len(), after.len(), "no member is added or dropped");
            for (key, old) in before {
                let new = &after[key];
                if redactor.is_secret_key(key) && !old.is_null() {
                    assert_eq!(new, MASK, "the value of {key:?}");
                } else {
                    masked_keys(redactor, old, new);
                }
            }
        }
        (Value::Array(before), Value::Array(after)) => {
            assert_eq!(before.len(), after.len());
            for (old, new) in before.iter().zip(after) {
                masked_keys(redactor, old, new);
            }
        }
        (Value::String(_), Value::String(_)) => {}
        (before, after) => assert_eq!(before, after, "only strings change"),
    }
}
