//! Switchboard's policy: what the gateway flags, allows and refuses.

pub mod diff;
pub mod flags;
pub mod flows;
