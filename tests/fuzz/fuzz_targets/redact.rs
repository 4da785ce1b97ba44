//! Redaction of a message with a known secret planted in every string.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::redact::planted(data));
