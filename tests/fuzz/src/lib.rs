//! The properties the fuzz targets check, one module per target family.
//! Every target also checks the one property libFuzzer checks by itself:
//! no input makes the code under test panic, overflow or hang.

pub mod headers;
pub mod import;
pub mod message;
pub mod names;
pub mod redact;
pub mod sse;

use serde_json::Value;

/// `value` with JSON null read as absent, as the gateway reads optional members.
pub(crate) fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// A deterministic sequence of numbers drawn from the input itself (FNV-1a
/// seeded xorshift), for choices that must not depend on anything else.
pub(crate) struct Draw(u64);

impl Draw {
    pub(crate) fn from(data: &[u8]) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in data {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Self(hash | 1)
    }

    /// A number in `1..=max`.
    pub(crate) fn size(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % max.max(1) as u64) as usize + 1
    }
}
