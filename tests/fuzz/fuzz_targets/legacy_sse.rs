//! A legacy HTTP+SSE server's event stream, in any chunking.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard_fuzz::sse::chunking(data));
