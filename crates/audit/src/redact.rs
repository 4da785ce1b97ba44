//! Redaction: what never reaches the audit database, an export or a screen.
//!
//! The rules are data (`redaction_rules.json`): keys whose values are secret,
//! and patterns of secret-looking strings. On top of them, every secret the
//! gateway itself holds (upstream header values, environment values, its own
//! tokens) is replaced wherever it appears.

use std::sync::RwLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

/// What replaces a secret.
pub const MASK: &str = "[REDACTED]";

/// Secrets shorter than this are not searched for verbatim: too many false hits.
const MIN_KNOWN_SECRET_LEN: usize = 6;

#[derive(Debug, Deserialize)]
struct RulesFile {
    secret_keys: KeyRules,
    value_patterns: Vec<PatternRule>,
}

#[derive(Debug, Deserialize)]
struct KeyRules {
    exact: Vec<String>,
    suffix: Vec<String>,
    #[serde(default)]
    not_secret: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PatternRule {
    name: String,
    regex: String,
}

/// A compiled rule set plus the gateway's known secrets.
#[derive(Debug)]
pub struct Redactor {
    exact: Vec<String>,
    suffix: Vec<String>,
    not_secret: Vec<String>,
    patterns: Vec<(String, Regex)>,
    known: RwLock<Vec<String>>,
    /// Secrets met while running (values read from the keyring), kept across
    /// `set_known_secrets`.
    learned: RwLock<Vec<String>>,
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not the expected JSON.
    #[error("redaction rules are not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A pattern does not compile.
    #[error("redaction rule {name}: {source}")]
    Pattern {
        /// The rule.
        name: String,
        /// Why.
        source: regex::Error,
    },
}

fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl Redactor {
    /// The rules shipped with Switchboard.
    pub fn builtin() -> Self {
        // The bundled file is covered by tests; failing here is a build defect.
        #[expect(clippy::expect_used, reason = "bundled rules are tested")]
        Self::from_rules(include_str!("redaction_rules.json")).expect("bundled redaction rules")
    }

    /// Rules from JSON text (the format of `redaction_rules.json`).
    pub fn from_rules(json: &str) -> Result<Self, RulesError> {
        let file: RulesFile = serde_json::from_str(json)?;
        let patterns = file
            .value_patterns
            .into_iter()
            .map(|rule| match Regex::new(&rule.regex) {
                Ok(re) => Ok((rule.name, re)),
                Err(source) => Err(RulesError::Pattern {
                    name: rule.name,
                    source,
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            exact: file
                .secret_keys
                .exact
                .iter()
                .map(|k| normalize_key(k))
                .collect(),
            suffix: file
                .secret_keys
                .suffix
                .iter()
                .map(|k| normalize_key(k))
                .collect(),
            not_secret: file
                .secret_keys
                .not_secret
                .iter()
                .map(|k| normalize_key(k))
                .collect(),
            patterns,
            known: RwLock::new(Vec::new()),
            learned: RwLock::new(Vec::new()),
        })
    }

    /// Replaces the set of secrets the gateway holds.
    pub fn set_known_secrets(&self, secrets: impl IntoIterator<Item = String>) {
        let mut list: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_KNOWN_SECRET_LEN)
            .collect();
        // Longest first, so a secret containing another is masked whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        list.dedup();
        *self.known.write().unwrap_or_else(|e| e.into_inner()) = list;
    }

    /// Adds secrets to mask from now on (values the gateway read from the
    /// keyring to start a server).
    pub fn learn_secrets(&self, secrets: impl IntoIterator<Item = String>) {
        let mut learned = self.learned.write().unwrap_or_else(|e| e.into_inner());
        for secret in secrets {
            if secret.len() >= MIN_KNOWN_SECRET_LEN && !learned.contains(&secret) {
                learned.push(secret);
            }
        }
        learned.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Whether values under `key` are secret.
    pub fn is_secret_key(&self, key: &str) -> bool {
        let key = normalize_key(key);
        if self.not_secret.contains(&key) {
            return false;
        }
        self.exact.contains(&key) || self.suffix.iter().any(|s| key.ends_with(s.as_str()))
    }

    /// Masks secrets inside one string; returns the names of the rules that fired.
    pub fn redact_str(&self, text: &mut String) -> Vec<&str> {
        let mut fired = Vec::new();
        for (name, re) in &self.patterns {
            if re.is_match(text) {
                *text = re.replace_all(text, MASK).into_owned();
                fired.push(name.as_str());
            }
        }
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        let learned = self.learned.read().unwrap_or_else(|e| e.into_inner());
        for secret in known.iter().chain(learned.iter()) {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), MASK);
                fired.push("known-secret");
            }
        }
        fired
    }

    /// Masks secrets anywhere in a JSON value.
    pub fn redact(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                self.redact_str(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact(v)),
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if self.is_secret_key(key) && !v.is_null() {
                        *v = Value::String(MASK.into());
                    } else {
                        self.redact(v);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}
