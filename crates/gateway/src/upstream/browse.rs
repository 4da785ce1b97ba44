//! What the control panel reads from a running server beyond its tools: its
//! resources, resource templates and prompts (asked live), and the stderr log
//! of a stdio server.

use std::path::Path;

use rmcp::model::{Prompt, Resource, ResourceTemplate};
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::{Unavailable, Upstream};

/// Why a server's offer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    /// The server is not connected.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The server answered with an error.
    #[error("server \"{server}\" refused {method}: {source}")]
    Refused {
        /// The server.
        server: String,
        /// The list method.
        method: &'static str,
        /// Its error.
        source: rmcp::ServiceError,
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

impl Upstream {
    /// Reads the server's resources, templates and prompts, as the server
    /// names them, from the live connection.
    pub async fn offer(&self) -> Result<Offer, BrowseError> {
        let live = self.connection()?;
        let caps = live.info.capabilities.clone();
        let refused = |method: &'static str| {
            let server = self.name().to_owned();
            move |source| BrowseError::Refused {
                server,
                method,
                source,
            }
        };
        let mut offer = Offer::default();
        if caps.resources.is_some() {
            offer.resources = live
                .peer
                .list_all_resources()
                .await
                .map_err(refused("resources/list"))?;
            offer.templates = live
                .peer
                .list_all_resource_templates()
                .await
                .map_err(refused("resources/templates/list"))?;
        }
        if caps.prompts.is_some() {
            offer.prompts = live
                .peer
                .list_all_prompts()
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
