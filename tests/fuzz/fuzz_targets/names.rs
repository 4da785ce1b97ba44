//! `server__tool` names, `server+uri` URIs and spanning cursors.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::names::round_trip(data));
