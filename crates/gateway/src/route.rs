//! Endpoints and callers: which servers a request can reach, and who sent it.

/// Which servers an endpoint exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/mcp`: every enabled server, names qualified with the server name.
    All,
    /// `/mcp/{server}`: one server, names as the server gives them.
    Server(String),
}

impl Route {
    /// Whether this endpoint shows `server`.
    pub fn includes(&self, server: &str) -> bool {
        match self {
            Route::All => true,
            Route::Server(name) => name == server,
        }
    }
}

/// Who is calling and through which endpoint; put in the request extensions
/// by the HTTP guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The client's name (from its token).
    pub client: String,
    /// The endpoint.
    pub route: Route,
}

impl Route {
    /// How this endpoint names `uri` of `server`.
    pub fn present_uri(&self, server: &str, uri: &str) -> String {
        match self {
            Route::All => crate::names::qualify_uri(server, uri),
            Route::Server(_) => uri.to_owned(),
        }
    }
}
