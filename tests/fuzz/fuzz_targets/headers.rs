//! The 2026-07-28 headers of a request, sent and checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::headers::round_trip(data));
