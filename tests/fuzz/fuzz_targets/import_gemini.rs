//! Gemini CLI's settings.json, imported from and installed into.
#![no_main]

use switchboard_clients::ClientKind;

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::import::round_trip(
    ClientKind::Gemini,
    data
));
