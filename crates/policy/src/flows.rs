//! Toxic flows: a client that can read private data, receive untrusted
//! content and send data out can be steered, by text someone planted in that
//! content, to send the private data away. [`FlowClassifier`] labels each tool
//! from its annotations, its name and its description (rules in
//! `flow_rules.json`), and the user's [`FlowOverride`]s win over that.

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::flags::{ToolDefinition, humanize};

/// What a tool can do in a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowLabel {
    /// It reads the user's private data (files, mail, databases, …).
    PrivateData,
    /// Its results carry content someone else wrote (web pages, emails, issues).
    UntrustedContent,
    /// It can send data out (messages, posts, requests to a URL).
    Outbound,
}

impl FlowLabel {
    /// Every label, in order.
    pub const ALL: [FlowLabel; 3] = [
        FlowLabel::PrivateData,
        FlowLabel::UntrustedContent,
        FlowLabel::Outbound,
    ];
}

/// A tool's labels and why it has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLabels {
    /// It reads private data.
    pub private_data: bool,
    /// Its results carry untrusted content.
    pub untrusted_content: bool,
    /// It can send data out.
    pub outbound: bool,
    /// Why, one line per label that holds.
    pub why: Vec<String>,
}

impl FlowLabels {
    /// Whether `label` holds.
    pub fn has(&self, label: FlowLabel) -> bool {
        match label {
            FlowLabel::PrivateData => self.private_data,
            FlowLabel::UntrustedContent => self.untrusted_content,
            FlowLabel::Outbound => self.outbound,
        }
    }

    fn set(&mut self, label: FlowLabel, value: bool) {
        match label {
            FlowLabel::PrivateData => self.private_data = value,
            FlowLabel::UntrustedContent => self.untrusted_content = value,
            FlowLabel::Outbound => self.outbound = value,
        }
    }
}

/// The user's say on a tool's labels; None keeps what was inferred.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowOverride {
    /// Reads private data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_data: Option<bool>,
    /// Carries untrusted content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untrusted_content: Option<bool>,
    /// Sends data out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound: Option<bool>,
}

impl FlowOverride {
    fn get(&self, label: FlowLabel) -> Option<bool> {
        match label {
            FlowLabel::PrivateData => self.private_data,
            FlowLabel::UntrustedContent => self.untrusted_content,
            FlowLabel::Outbound => self.outbound,
        }
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FlowRulesError {
    /// Not the expected JSON document.
    #[error("flow rules are not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A pattern that does not compile.
    #[error("flow rule {label:?}: {source}")]
    Pattern {
        /// The label it belongs to.
        label: FlowLabel,
        /// Why.
        source: regex::Error,
    },
}

#[derive(Deserialize)]
struct RulesFile {
    labels: BTreeMap<FlowLabel, RawLabel>,
}

#[derive(Deserialize)]
struct RawLabel {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    descriptions: Vec<String>,
}

struct LabelRules {
    names: Vec<Regex>,
    descriptions: Vec<Regex>,
}

/// Compiled flow rules.
pub struct FlowClassifier {
    rules: BTreeMap<FlowLabel, LabelRules>,
}

impl std::fmt::Debug for FlowClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowClassifier")
            .field("labels", &self.rules.len())
            .finish()
    }
}

impl FlowClassifier {
    /// The rules shipped with Switchboard (`flow_rules.json`).
    pub fn builtin() -> Self {
        // The bundled file is covered by tests; failing here is a build defect.
        #[expect(clippy::expect_used, reason = "bundled rules are tested")]
        Self::from_rules(include_str!("flow_rules.json")).expect("bundled flow rules")
    }

    /// Rules from JSON text (the format of `flow_rules.json`).
    pub fn from_rules(json: &str) -> Result<Self, FlowRulesError> {
        let file: RulesFile = serde_json::from_str(json)?;
        let mut rules = BTreeMap::new();
        for (label, raw) in file.labels {
            let compile = |patterns: &[String]| {
                patterns
                    .iter()
                    .map(|p| {
                        RegexBuilder::new(p)
                            .case_insensitive(true)
                            .build()
                            .map_err(|source| FlowRulesError::Pattern { label, source })
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            rules.insert(
                label,
                LabelRules {
                    names: compile(&raw.names)?,
                    descriptions: compile(&raw.descriptions)?,
                },
            );
        }
        Ok(Self { rules })
    }

    /// The labels of `tool`, the user's `overrides` applied last.
    pub fn classify(&self, tool: &ToolDefinition, overrides: Option<&FlowOverride>) -> FlowLabels {
        let mut labels = FlowLabels::default();
        let hint = |key: &str| {
            tool.annotations
                .as_ref()
                .and_then(|a| a.get(key))
                .and_then(Value::as_bool)
        };
        let open_world = hint("openWorldHint");
        let read_only = hint("readOnlyHint");
        let name = humanize(&tool.name).to_lowercase();
        let prose = [tool.title.as_deref(), tool.description.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        for label in FlowLabel::ALL {
            let Some(rules) = self.rules.get(&label) else {
                continue;
            };
            let by_name = rules.names.iter().find(|r| r.is_match(&name));
            let by_text = rules.descriptions.iter().find_map(|r| r.find(&prose));
            let why = match (by_name, by_text) {
                (Some(_), _) => Some(format!("its name: \"{name}\"")),
                (None, Some(m)) => Some(format!("its description: \"{}\"", m.as_str())),
                (None, None) => None,
            };
            if let Some(why) = why {
                labels.set(label, true);
                labels.why.push(format!("{}: {why}", label_text(label)));
            }
        }
        if open_world == Some(true) {
            // What it reaches is outside, and what it sends goes there; a tool
            // that says it is not read-only writes out there, and its answer
            // is its own confirmation, not someone else's text.
            let labels_of_hint: &[FlowLabel] = if read_only == Some(false) {
                &[FlowLabel::Outbound]
            } else {
                &[FlowLabel::UntrustedContent, FlowLabel::Outbound]
            };
            for &label in labels_of_hint {
                if !labels.has(label) {
                    labels.set(label, true);
                    labels
                        .why
                        .push(format!("{}: openWorldHint", label_text(label)));
                }
            }
        }
        if read_only == Some(true) && open_world == Some(false) && labels.outbound {
            labels.outbound = false;
            labels
                .why
                .retain(|w| !w.starts_with(label_text(FlowLabel::Outbound)));
        }
        if let Some(overrides) = overrides {
            for label in FlowLabel::ALL {
                if let Some(value) = overrides.get(label) {
                    labels.set(label, value);
                    labels.why.retain(|w| !w.starts_with(label_text(label)));
                    if value {
                        labels
                            .why
                            .push(format!("{}: set by you", label_text(label)));
                    }
                }
            }
        }
        labels
    }
}

fn label_text(label: FlowLabel) -> &'static str {
    match label {
        FlowLabel::PrivateData => "private data",
        FlowLabel::UntrustedContent => "untrusted content",
        FlowLabel::Outbound => "outbound",
    }
}
