//! From a record to a row: redaction, serialization, and the stored-payload
//! cap, so the log's size follows the number of calls, not their results.
//!
//! A request or result whose JSON is longer than the cap is stored as
//!
//! ```json
//! {"truncated": true, "size": 104857, "sha256": "9f2c…", "preview": "{\"content\":[…"}
//! ```
//!
//! `preview` holds its first bytes (the whole object stays within the cap),
//! `size` its full length and `sha256` the digest of its full (redacted)
//! text, so a copy kept elsewhere can be matched to the record. Search finds
//! what the preview holds.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::{AuditEvent, AuditRecord, Redactor};

/// The stored-payload cap by default: 16 KiB.
pub const DEFAULT_MAX_PAYLOAD: u32 = 16 * 1024;
/// The smallest cap that still leaves a useful preview.
pub const MIN_MAX_PAYLOAD: u32 = 1024;

/// A payload stored cut to the cap, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// Its first bytes.
    pub preview: String,
    /// Its full length in bytes.
    pub size: i64,
    /// SHA-256 of its full text, in hex (absent in records of older versions).
    pub sha256: Option<String>,
}

impl Truncated {
    /// The cut payload `stored` is, if it is one.
    pub fn parse(stored: &str) -> Option<Self> {
        // Keys are written sorted: a stored payload that is an object with
        // `preview` first is the only kind that can be one.
        if !stored.starts_with("{\"preview\":") {
            return None;
        }
        let value: Value = serde_json::from_str(stored).ok()?;
        if value.get("truncated") != Some(&Value::Bool(true)) {
            return None;
        }
        Some(Self {
            preview: value.get("preview")?.as_str()?.to_owned(),
            size: value.get("size").and_then(Value::as_i64).unwrap_or(0),
            sha256: value
                .get("sha256")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// Redacts, serializes and caps a record into a row (id and hashes come at
/// commit). The record is taken by value: its payloads are redacted in
/// place, never copied (a large result would otherwise be held twice).
pub(crate) fn prepare(redactor: &Redactor, mut record: AuditRecord, cap: usize) -> AuditEvent {
    let (request, request_size) = stored(redactor, record.request.take(), cap);
    let (response, response_size) = stored(redactor, record.response.take(), cap);
    let masked = |text: &Option<String>| {
        text.clone().map(|mut m| {
            redactor.redact_str(&mut m);
            m
        })
    };
    let error_message = masked(&record.error_message);
    // Names can carry secrets too: a resource URI with credentials or a token.
    let name = masked(&record.name);
    AuditEvent {
        id: 0,
        ts: record.ts,
        client: record.client,
        session: record.session,
        server: record.server,
        direction: record.direction.as_str().into(),
        method: record.method,
        name,
        request,
        request_size,
        response,
        response_size,
        status: record.status.as_str().into(),
        error_code: record.error_code,
        error_message,
        latency_us: record.latency_us,
        decision: record.decision.to_text(),
        rule: record.rule,
        protocol_version: record.protocol_version,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// The stored text of a payload and its full length.
fn stored(redactor: &Redactor, value: Option<Value>, cap: usize) -> (Option<String>, i64) {
    let Some(mut value) = value else {
        return (None, 0);
    };
    redactor.redact(&mut value);
    let text = value.to_string();
    let size = i64::try_from(text.len()).unwrap_or(i64::MAX);
    if text.len() <= cap {
        return (Some(text), size);
    }
    (Some(truncated(&text, size, cap)), size)
}

/// `text` cut to fit `cap` with its length and digest. Escaping can make the
/// preview longer than the bytes it holds, so it is cut again until it fits.
fn truncated(text: &str, size: i64, cap: usize) -> String {
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    // The object around the preview: `{"preview":"","sha256":"<64>","size":N,"truncated":true}`.
    const FRAME: usize = 128;
    let mut keep = cap.saturating_sub(FRAME);
    loop {
        let end = floor_char_boundary(text, keep);
        let stored = serde_json::json!({
            "truncated": true,
            "size": size,
            "sha256": digest,
            "preview": &text[..end],
        })
        .to_string();
        if stored.len() <= cap || end == 0 {
            return stored;
        }
        // Escaping costs about the same per byte over the whole preview.
        let scaled = u128::try_from(end).unwrap_or(u128::MAX) * cap as u128 / stored.len() as u128;
        keep = usize::try_from(scaled).unwrap_or(0).min(end - 1);
    }
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut end = at.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_payload_keeps_its_start_length_and_digest_within_the_cap() {
        let redactor = Redactor::builtin();
        // Quotes and non-ASCII text: escaping grows the preview, and cuts
        // must land on character boundaries.
        let text = "\"é\" ".repeat(20_000);
        let value = serde_json::json!({ "content": [{ "type": "text", "text": text }] });
        let full = value.to_string();
        let (stored, size) = stored(&redactor, Some(value), 4096);
        let stored = stored.unwrap_or_default();
        assert!(stored.len() <= 4096, "{}", stored.len());
        assert_eq!(size as usize, full.len());
        let v: Value = serde_json::from_str(&stored).unwrap_or_default();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["size"], size);
        assert_eq!(v["sha256"], hex::encode(Sha256::digest(full.as_bytes())));
        let preview = v["preview"].as_str().unwrap_or_default();
        assert!(preview.len() > 2000, "{}", preview.len());
        assert!(full.starts_with(preview));
        let back = Truncated::parse(&stored).unwrap_or_else(|| panic!("not read back"));
        assert_eq!(back.preview, preview);
        assert_eq!(back.size, size);
        assert!(Truncated::parse(r#"{"preview":"x"}"#).is_none());
        assert!(Truncated::parse(r#"{"content":[]}"#).is_none());
    }

    #[test]
    fn a_payload_within_the_cap_is_kept_whole() {
        let value = serde_json::json!({ "a": "b" });
        let (stored, size) = stored(&Redactor::builtin(), Some(value.clone()), 1024);
        assert_eq!(stored, Some(value.to_string()));
        assert_eq!(size, 9);
    }
}
