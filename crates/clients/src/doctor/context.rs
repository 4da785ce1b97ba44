//! Clients whose view of the tools is past their budget.

use super::{Check, Input, Report, Severity};

/// A client's view of the tools against its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextState {
    /// The client.
    pub client: String,
    /// `passthrough`, `search` or `auto`.
    pub mode: String,
    /// Whether `/mcp` lists it the search tools now.
    pub searching: bool,
    /// Tools in its full view.
    pub tools: u32,
    /// Tokens of its full view.
    pub tokens: u32,
    /// Its tool budget.
    pub budget_tools: Option<u32>,
    /// Its token budget.
    pub budget_tokens: Option<u32>,
}

/// Clients whose view of the tools is past their budget.
pub(super) fn budgets(input: &Input<'_>, report: &mut Report) {
    for c in &input.contexts {
        let mut past = Vec::new();
        if let Some(max) = c.budget_tools.filter(|&max| c.tools > max) {
            past.push(format!("{} tools (budget {max})", c.tools));
        }
        if let Some(max) = c.budget_tokens.filter(|&max| c.tokens > max) {
            past.push(format!(
                "{} tokens of tool definitions (budget {max})",
                c.tokens
            ));
        }
        if past.is_empty() {
            continue;
        }
        let past = past.join(" and ");
        let check = if c.searching {
            Check::new(
                "context",
                &c.client,
                Severity::Info,
                format!(
                    "its view holds {past}; it is offered tool search instead (mode {})",
                    c.mode
                ),
            )
        } else {
            Check::new(
                "context",
                &c.client,
                Severity::Warning,
                format!("its view holds {past}, and it is listed every tool (mode {})", c.mode),
            )
            .fix(format!(
                "`switchboard clients set {} --tool-mode auto` (search past the budget), or give it a profile with fewer servers",
                c.client
            ))
        };
        report.checks.push(check);
    }
}
