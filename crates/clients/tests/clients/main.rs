//! Integration tests of switchboard-clients: golden files per client format,
//! install and uninstall round trips, detection, the catalog, the doctor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod catalog;
mod common;
mod detect;
mod doctor;
mod golden;
mod install;
