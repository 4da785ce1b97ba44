//! What `/mcp` lists of a server: its tools while it is connected; while it
//! waits for a sign-in, the tools it had, each saying that it is unavailable
//! and what to do, so they do not vanish without a word. A call of one gets
//! an error naming the server and the sign-in.

use std::sync::Arc;

use rmcp::model::Tool;

use super::{Upstream, UpstreamState};

/// A tool list marked unavailable, with the list it was made from.
pub(super) type Marked = (Arc<Vec<Tool>>, Arc<Vec<Tool>>);

impl Upstream {
    /// The tools `/mcp` offers of this server now, as the server names them
    /// (`None`: none, the server is not there to use).
    pub(crate) fn offered_tools(&self) -> Option<Arc<Vec<Tool>>> {
        if self.connection().is_ok() {
            return Some(self.tools());
        }
        if self.status().state != UpstreamState::NeedsSignIn {
            return None;
        }
        let tools = self.tools();
        if tools.is_empty() {
            return None;
        }
        let mut cached = self
            .shared
            .unavailable
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Kept while the list it was made from is the same, so the views
        // built from it stay valid.
        if let Some((from, marked)) = cached.as_ref()
            && Arc::ptr_eq(from, &tools)
        {
            return Some(marked.clone());
        }
        let marked = Arc::new(mark(self.name(), &tools));
        *cached = Some((tools, marked.clone()));
        Some(marked)
    }
}

/// `tools`, each described as unavailable until `server` is signed in to.
fn mark(server: &str, tools: &[Tool]) -> Vec<Tool> {
    let note = format!(
        "[Unavailable: server \"{server}\" needs sign-in. Sign in from the Switchboard control panel or run `switchboard auth login {server}`.]"
    );
    tools
        .iter()
        .map(|tool| {
            let mut tool = tool.clone();
            tool.description = Some(
                match tool.description.as_deref().filter(|d| !d.is_empty()) {
                    Some(d) => format!("{note} {d}"),
                    None => note.clone(),
                }
                .into(),
            );
            tool
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_marked_tool_says_why_and_keeps_its_description() {
        let tool: Tool = serde_json::from_value(serde_json::json!({
            "name": "whoami",
            "description": "Who the token belongs to",
            "inputSchema": { "type": "object" },
        }))
        .unwrap();
        let marked = mark("protected", std::slice::from_ref(&tool));
        let description = marked[0].description.as_deref().unwrap();
        assert!(
            description.starts_with("[Unavailable: server \"protected\" needs sign-in."),
            "{description}"
        );
        assert!(description.contains("switchboard auth login protected"));
        assert!(description.ends_with("Who the token belongs to"));
        assert_eq!(marked[0].name, tool.name);
        assert_eq!(marked[0].input_schema, tool.input_schema);
    }
}
