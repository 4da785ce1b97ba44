//! Tests of the control API: the bindings are fresh, and the HTTP surface
//! (login, guard, rpc, events) against a real gateway.

#![allow(clippy::unwrap_used, reason = "test helpers")]
mod bindings;
mod http;
mod oauth;
