//! Where a request goes: the server a name or URI belongs to on this
//! endpoint (`/mcp/{server}`, or `SERVER__NAME` / `SERVER+URI` on `/mcp`),
//! visible to the caller's profile.

use std::sync::Arc;

use super::{Bound, Core, decide, refusal::Refusal};
use crate::{names, record::Recording, route::Route, upstream::Upstream};

/// A server and the name it knows something by.
pub(super) struct Target {
    pub up: Arc<Upstream>,
    pub name: String,
}

pub(super) fn server(core: &Core, bound: &Bound, name: &str) -> Result<Arc<Upstream>, Refusal> {
    let up = core.hub.get(name).ok_or_else(|| match bound.caller.route {
        Route::Server(_) => Refusal::UnknownServer(name.to_owned()),
        Route::All => Refusal::InvalidParams {
            method: String::new(),
            detail: format!("no enabled server named \"{name}\""),
        },
    })?;
    decide::visible(core, bound, name)?;
    Ok(up)
}

/// `name` of a tool or prompt, on this endpoint.
pub(super) fn by_name(
    core: &Core,
    bound: &Bound,
    name: &str,
    what: &'static str,
) -> Result<Target, Refusal> {
    match &bound.caller.route {
        Route::Server(s) => Ok(Target {
            up: server(core, bound, s)?,
            name: name.to_owned(),
        }),
        Route::All => {
            let (s, rest) = names::split_qualified(name).ok_or_else(|| Refusal::Unqualified {
                what,
                name: name.to_owned(),
                form: "SERVER__NAME",
            })?;
            Ok(Target {
                up: server(core, bound, s)?,
                name: rest.to_owned(),
            })
        }
    }
}

/// A resource URI, on this endpoint.
pub(super) fn by_uri(core: &Core, bound: &Bound, uri: &str) -> Result<Target, Refusal> {
    match &bound.caller.route {
        Route::Server(s) => Ok(Target {
            up: server(core, bound, s)?,
            name: uri.to_owned(),
        }),
        Route::All => {
            let (s, rest) =
                names::split_qualified_uri(uri).ok_or_else(|| Refusal::Unqualified {
                    what: "resource",
                    name: uri.to_owned(),
                    form: "SERVER+URI",
                })?;
            Ok(Target {
                up: server(core, bound, s)?,
                name: rest.to_owned(),
            })
        }
    }
}

/// The one server of `/mcp/{server}`.
pub(super) fn single(core: &Core, bound: &Bound) -> Result<Option<Arc<Upstream>>, Refusal> {
    match &bound.caller.route {
        Route::All => Ok(None),
        Route::Server(s) => server(core, bound, s).map(Some),
    }
}

pub(super) fn aim(record: &mut Recording, target: &Target) {
    record.server(target.up.name());
    record.name(&target.name);
}
