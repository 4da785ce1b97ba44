//! A client's POST body, parsed as one JSON-RPC message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::message::parse(data));
