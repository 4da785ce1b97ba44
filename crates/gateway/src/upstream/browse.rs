//! What the control panel reads from a running server beyond its tools: its
//! resources, resource templates and prompts (asked live), and the stderr log
//! of a stdio server.

use std::{path::Path, sync::Arc};

use rmcp::model::{Prompt, Resource, ResourceTemplate};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::{
    Unavailable, Upstream,
    conn::{CallError, Conn},
};

/// Why a server's offer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    /// The server is not connected.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The server answered with an error, or not at all.
    #[error("server \"{server}\" refused {method}: {message}")]
    Refused {
        /// The server.
        server: String,
        /// The list method.
        method: &'static str,
        /// What it said.
        message: String,
    },
}

/// Resources, templates and prompts a server offers (empty for what it does
/// not support).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Offer {
    /// Concrete resources.
    pub resources: Vec<Resource>,
    /// Parameterized resources.
    pub templates: Vec<ResourceTemplate>,
    /// Prompts.
    pub prompts: Vec<Prompt>,
}

/// Every page of a list method, its items under `key`.
pub(crate) async fn list_all<T: DeserializeOwned>(
    conn: &Arc<Conn>,
    method: &'static str,
    key: &str,
) -> Result<Vec<T>, CallError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = Map::new();
        if let Some(c) = cursor.take() {
            params.insert("cursor".into(), Value::String(c));
        }
        let mut page: Map<String, Value> = conn.call(method, params).await?;
        if let Some(Value::Array(list)) = page.remove(key) {
            for item in list {
                if let Ok(item) = serde_json::from_value(item) {
                    items.push(item);
                }
            }
        }
        match page.remove("nextCursor") {
            Some(Value::String(next)) => cursor = Some(next),
            _ => return Ok(items),
        }
    }
}

impl Upstream {
    /// Reads the server's resources, templates and prompts, as the server
    /// names them, from the live connection.
    pub async fn offer(&self) -> Result<Offer, BrowseError> {
        let live = self.connection()?;
        let caps = &live.info.capabilities;
        let refused = |method: &'static str| {
            let server = self.name().to_owned();
            move |e: CallError| BrowseError::Refused {
                server,
                method,
                message: e.to_string(),
            }
        };
        let mut offer = Offer::default();
        if caps.resources.is_some() {
            offer.resources = list_all(&live.conn, "resources/list", "resources")
                .await
                .map_err(refused("resources/list"))?;
            offer.templates = list_all(&live.conn, "resources/templates/list", "resourceTemplates")
                .await
                .map_err(refused("resources/templates/list"))?;
        }
        if caps.prompts.is_some() {
            offer.prompts = list_all(&live.conn, "prompts/list", "prompts")
                .await
                .map_err(refused("prompts/list"))?;
        }
        Ok(offer)
    }
}

/// The last `max_bytes` of a stdio server's stderr log (`<log_dir>/<name>.log`),
/// starting at a whole line; empty when the server never wrote one.
pub async fn stderr_tail(log_dir: &Path, name: &str, max_bytes: u64) -> std::io::Result<String> {
    let path = log_dir.join(format!("{name}.log"));
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata().await?.len();
    let start = len.saturating_sub(max_bytes);
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let mut bytes = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    file.read_to_end(&mut bytes).await?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(match (start > 0, text.find('\n')) {
        (true, Some(i)) => text[i + 1..].to_owned(),
        _ => text.into_owned(),
    })
}
