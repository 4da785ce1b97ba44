//! The sandbox crate: grants inferred from launches, what widens a sandbox,
//! the Seatbelt profile, and enforcement on the running kernel.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step should fail the test"
)]

#[cfg(target_os = "linux")]
mod enforce;
mod plan;
mod seatbelt;
