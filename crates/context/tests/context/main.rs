//! Token counts, budgets and tool search.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step should fail the test"
)]

mod golden;
mod modes;
mod search;
