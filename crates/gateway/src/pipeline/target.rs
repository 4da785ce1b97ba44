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
    let up = core
        .hub
        .get(name)
        .ok_or_else(|| Refusal::UnknownServer(name.to_owned()))?;
    decide::visible(core, bound, name)?;
    Ok(up)
}

/// The server of `qualified` (a `SERVER__NAME` or `SERVER+URI` on `/mcp`):
/// a name whose server is not enabled is bad params there, not a missing
/// endpoint.
fn qualifier(
    core: &Core,
    bound: &Bound,
    server_name: &str,
    qualified: &str,
) -> Result<Arc<Upstream>, Refusal> {
    server(core, bound, server_name).map_err(|refusal| match refusal {
        Refusal::UnknownServer(server) => Refusal::UnknownQualifier {
            name: qualified.to_owned(),
            server,
        },
        other => other,
    })
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
                up: qualifier(core, bound, s, name)?,
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
                up: qualifier(core, bound, s, uri)?,
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
