//! A client's request, classified before a session, on one, and statelessly.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::message::classify(data));
