//! Flags for suspicious tool definitions ("tool poisoning").
//!
//! A tool's definition goes straight into the model's context, so a malicious
//! or compromised server can hide instructions there: in the description, in
//! parameter descriptions and names, in characters nobody sees, or by
//! imitating or redirecting another server's tools. [`Inspector`] flags such
//! definitions and never blocks them. What it looks for is data
//! (`flag_rules.json`, format described in its `comment`), compiled once.
//!
//! Text is matched as the model reads it rather than as a screen shows it:
//! invisible characters are removed, Unicode tag characters are decoded back to
//! the ASCII they smuggle, and whitespace runs become one space.

use std::collections::{HashMap, HashSet};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool definition as a server offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// The server's name in the gateway.
    pub server: String,
    /// The tool's name as the server gives it.
    pub name: String,
    /// The human-readable title, if any.
    pub title: Option<String>,
    /// The description the model reads.
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub input_schema: serde_json::Value,
    /// JSON Schema of the structured result, if any.
    pub output_schema: Option<serde_json::Value>,
    /// The tool's annotations (hints), as sent.
    pub annotations: Option<serde_json::Value>,
}

/// Why a definition looks suspicious.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// The name of the rule that fired, as in the rules file.
    pub rule: String,
    /// How bad a match is.
    pub severity: Severity,
    /// What matched and where, on one line, clipped.
    pub detail: String,
}

/// How bad a flag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Often innocent; worth a look.
    Warning,
    /// Rarely innocent; the definition likely tries to steer the model.
    Danger,
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not the expected JSON document.
    #[error("flag rules are not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A rule without a usable name.
    #[error("flag rule #{index} has no name")]
    Unnamed {
        /// Its position in `rules`, from 0.
        index: usize,
    },
    /// Two rules with one name: flags would not say which fired.
    #[error("flag rule {name} is defined twice")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A rule whose fields do not fit its kind.
    #[error("flag rule {name}: {source}")]
    Rule {
        /// The rule.
        name: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A rule that parses but cannot work.
    #[error("flag rule {name}: {reason}")]
    Invalid {
        /// The rule.
        name: String,
        /// Why.
        reason: String,
    },
    /// A pattern that does not compile.
    #[error("flag rule {name}: pattern {pattern:?} does not compile: {source}")]
    Pattern {
        /// The rule.
        name: String,
        /// The pattern as written.
        pattern: String,
        /// Why.
        source: regex::Error,
    },
}

/// Longest `detail`, in characters.
const MAX_DETAIL_CHARS: usize = 200;
/// Longest quotation inside a `detail`, in characters.
const MAX_QUOTE_CHARS: usize = 80;
/// Distinct code points listed for invisible characters before "…".
const MAX_LISTED_CODE_POINTS: usize = 6;
/// Longest emoji tag sequence (a subdivision flag such as England's is 5 tags).
const MAX_EMOJI_TAG_LETTERS: usize = 7;
/// Schema keywords whose strings are structure, not prose the model reads as advice.
const STRUCTURAL_KEYWORDS: &[&str] = &[
    "type",
    "$schema",
    "$id",
    "$ref",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "format",
    "pattern",
    "required",
    "contentEncoding",
    "contentMediaType",
];

/// Where in a definition a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Place {
    Name,
    Title,
    Description,
    Schema,
    PropertyNames,
}

/// Kinds of characters that do not show, or show something else than they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CharClass {
    Tag,
    Bidi,
    ZeroWidth,
    VariationSelector,
    Format,
    Filler,
    Control,
}

#[derive(Debug, Deserialize)]
struct RulesFile {
    rules: Vec<Value>,
}

/// A rule's kind and parameters, as written (name, severity and comment removed).
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum KindSpec {
    Pattern {
        patterns: Vec<String>,
        #[serde(rename = "in", default = "pattern_places")]
        places: Vec<Place>,
    },
    InvisibleUnicode {
        classes: Vec<CharClass>,
    },
    MaxLength {
        max_chars: usize,
        #[serde(rename = "in", default = "description_only")]
        places: Vec<Place>,
    },
    ShadowsOtherServer {
        #[serde(default = "yes")]
        ignore_case_and_separators: bool,
    },
    MentionsOtherServerTool {
        min_tool_name_length: usize,
        min_server_name_length: usize,
        tool_words: Vec<String>,
        #[serde(rename = "in", default = "mention_places")]
        places: Vec<Place>,
    },
}

fn pattern_places() -> Vec<Place> {
    vec![
        Place::Title,
        Place::Description,
        Place::Schema,
        Place::PropertyNames,
    ]
}

fn description_only() -> Vec<Place> {
    vec![Place::Description]
}

fn mention_places() -> Vec<Place> {
    vec![Place::Title, Place::Description, Place::Schema]
}

fn yes() -> bool {
    true
}

#[derive(Debug)]
struct Rule {
    name: String,
    severity: Severity,
    check: Check,
}

#[derive(Debug)]
enum Check {
    Pattern {
        places: Vec<Place>,
        regexes: Vec<Regex>,
    },
    Invisible {
        classes: Vec<CharClass>,
    },
    MaxLength {
        max_chars: usize,
        places: Vec<Place>,
    },
    Shadows {
        loose: bool,
    },
    Mentions {
        min_tool: usize,
        min_server: usize,
        tool_words: Vec<String>,
        places: Vec<Place>,
    },
}

/// Compiled flag rules.
#[derive(Debug)]
pub struct Inspector {
    rules: Vec<Rule>,
}

impl Inspector {
    /// The rules shipped with Switchboard (`flag_rules.json`).
    pub fn builtin() -> Self {
        // The bundled file is covered by tests; failing here is a build defect.
        #[expect(clippy::expect_used, reason = "bundled rules are tested")]
        Self::from_rules(include_str!("flag_rules.json")).expect("bundled flag rules")
    }

    /// Rules from JSON text (the format of `flag_rules.json`).
    pub fn from_rules(json: &str) -> Result<Self, RulesError> {
        let file: RulesFile = serde_json::from_str(json)?;
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for (index, raw) in file.rules.into_iter().enumerate() {
            let rule = compile(index, raw)?;
            if !names.insert(rule.name.clone()) {
                return Err(RulesError::Duplicate { name: rule.name });
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// Flags of `tool`, given every tool the gateway knows (all servers), for the cross-server rules.
    pub fn inspect(&self, tool: &ToolDefinition, all: &[ToolDefinition]) -> Vec<Flag> {
        let texts = texts(tool);
        let others: Vec<&ToolDefinition> = all.iter().filter(|t| t.server != tool.server).collect();
        self.rules
            .iter()
            .filter_map(|rule| {
                let hits = match &rule.check {
                    Check::Pattern { places, regexes } => pattern_hits(&texts, places, regexes),
                    Check::Invisible { classes } => invisible_hits(tool, classes),
                    Check::MaxLength { max_chars, places } => {
                        length_hits(&texts, places, *max_chars)
                    }
                    Check::Shadows { loose } => shadow_hits(tool, &others, *loose),
                    Check::Mentions {
                        min_tool,
                        min_server,
                        tool_words,
                        places,
                    } => {
                        let limits = MentionLimits {
                            min_tool: *min_tool,
                            min_server: *min_server,
                            tool_words,
                        };
                        mention_hits(tool, all, &others, &texts, places, &limits)
                    }
                };
                summarize(&hits).map(|detail| Flag {
                    rule: rule.name.clone(),
                    severity: rule.severity,
                    detail,
                })
            })
            .collect()
    }
}

fn compile(index: usize, raw: Value) -> Result<Rule, RulesError> {
    let Value::Object(mut map) = raw else {
        return Err(RulesError::Unnamed { index });
    };
    let name = match map.remove("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        _ => return Err(RulesError::Unnamed { index }),
    };
    let invalid = |reason: &str| RulesError::Invalid {
        name: name.clone(),
        reason: reason.to_owned(),
    };
    let Some(severity) = map.remove("severity") else {
        return Err(invalid("has no severity"));
    };
    let severity: Severity =
        serde_json::from_value(severity).map_err(|source| RulesError::Rule {
            name: name.clone(),
            source,
        })?;
    map.remove("comment");
    let spec: KindSpec =
        serde_json::from_value(Value::Object(map)).map_err(|source| RulesError::Rule {
            name: name.clone(),
            source,
        })?;
    let check = match spec {
        KindSpec::Pattern { patterns, places } => {
            if patterns.is_empty() {
                return Err(invalid("has no patterns"));
            }
            if places.is_empty() {
                return Err(invalid("looks nowhere (\"in\" is empty)"));
            }
            let regexes = patterns
                .into_iter()
                .map(|pattern| {
                    RegexBuilder::new(&pattern)
                        .case_insensitive(true)
                        .build()
                        .map_err(|source| RulesError::Pattern {
                            name: name.clone(),
                            pattern,
                            source,
                        })
                })
                .collect::<Result<_, _>>()?;
            Check::Pattern { places, regexes }
        }
        KindSpec::InvisibleUnicode { classes } => {
            if classes.is_empty() {
                return Err(invalid("has no character classes"));
            }
            Check::Invisible { classes }
        }
        KindSpec::MaxLength { max_chars, places } => {
            if places.is_empty() {
                return Err(invalid("looks nowhere (\"in\" is empty)"));
            }
            Check::MaxLength { max_chars, places }
        }
        KindSpec::ShadowsOtherServer {
            ignore_case_and_separators,
        } => Check::Shadows {
            loose: ignore_case_and_separators,
        },
        KindSpec::MentionsOtherServerTool {
            min_tool_name_length,
            min_server_name_length,
            tool_words,
            places,
        } => {
            if min_tool_name_length == 0 || min_server_name_length == 0 {
                // A zero minimum would match the empty name everywhere.
                return Err(invalid("minimum name lengths must be at least 1"));
            }
            Check::Mentions {
                min_tool: min_tool_name_length,
                min_server: min_server_name_length,
                tool_words: tool_words.iter().map(|w| w.to_lowercase()).collect(),
                places,
            }
        }
    };
    Ok(Rule {
        name,
        severity,
        check,
    })
}

/// One piece of text of a definition, as the model reads it.
struct Text {
    place: Place,
    path: String,
    chars: usize,
    revealed: Revealed,
    /// Names split into words ("content_from_readingSsh" -> "content from reading ssh").
    humanized: Option<String>,
}

impl Text {
    fn new(place: Place, path: String, raw: &str) -> Self {
        let revealed = reveal(raw);
        let humanized = matches!(place, Place::Name | Place::PropertyNames)
            .then(|| humanize(&revealed.text).to_lowercase())
            .filter(|h| *h != revealed.text);
        Self {
            place,
            path,
            chars: raw.chars().count(),
            revealed,
            humanized,
        }
    }

    fn label(&self) -> String {
        match self.place {
            Place::PropertyNames => format!("{} (property name)", self.path),
            _ => self.path.clone(),
        }
    }
}

/// The texts of a definition that rules read: name, titles, description, and
/// the prose nested anywhere in the schemas (descriptions, titles, enum values,
/// defaults, examples, unknown keywords), plus property names.
fn texts(tool: &ToolDefinition) -> Vec<Text> {
    let mut out = vec![Text::new(Place::Name, "name".to_owned(), &tool.name)];
    if let Some(title) = &tool.title {
        out.push(Text::new(Place::Title, "title".to_owned(), title));
    }
    if let Some(title) = tool
        .annotations
        .as_ref()
        .and_then(|a| a.get("title"))
        .and_then(Value::as_str)
    {
        out.push(Text::new(
            Place::Title,
            "annotations.title".to_owned(),
            title,
        ));
    }
    if let Some(description) = &tool.description {
        out.push(Text::new(
            Place::Description,
            "description".to_owned(),
            description,
        ));
    }
    schema_texts(&tool.input_schema, "input_schema", &mut out);
    if let Some(schema) = &tool.output_schema {
        schema_texts(schema, "output_schema", &mut out);
    }
    out
}

fn schema_texts(value: &Value, path: &str, out: &mut Vec<Text>) {
    match value {
        Value::String(s) => out.push(Text::new(Place::Schema, path.to_owned(), s)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                schema_texts(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, v) in map {
                if STRUCTURAL_KEYWORDS.contains(&key.as_str()) {
                    continue;
                }
                let sub = format!("{path}.{key}");
                match (key.as_str(), v) {
                    ("properties", Value::Object(props)) => {
                        for (name, schema) in props {
                            let at = format!("{sub}.{name}");
                            out.push(Text::new(Place::PropertyNames, at.clone(), name));
                            schema_texts(schema, &at, out);
                        }
                    }
                    _ => schema_texts(v, &sub, out),
                }
            }
        }
        _ => {}
    }
}

/// Where a character of revealed text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Plain,
    /// Invisible characters stood right before it.
    AfterHidden,
    /// Decoded from a Unicode tag character.
    FromTag,
}

/// Text as the model reads it, with a mark per byte.
struct Revealed {
    text: String,
    marks: Vec<Mark>,
}

impl Revealed {
    /// Says when a match only exists once hidden characters are accounted for.
    fn note(&self, start: usize, end: usize) -> &'static str {
        let marks = self.marks.get(start..end).unwrap_or_default();
        if marks.contains(&Mark::FromTag) {
            " (decoded from invisible tag characters)"
        } else if marks.iter().skip(1).any(|m| *m == Mark::AfterHidden) {
            " (invisible characters removed)"
        } else {
            ""
        }
    }
}

fn reveal(raw: &str) -> Revealed {
    let mut text = String::with_capacity(raw.len());
    let mut marks = Vec::with_capacity(raw.len());
    let mut pending_space = false;
    let mut pending_hidden = false;
    for c in raw.chars() {
        let (c, from_tag) = match tag_ascii(c) {
            Some(a) => (a, true),
            None => (c, false),
        };
        if !from_tag && raw_class(c).is_some() {
            pending_hidden = true;
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let mark = if from_tag {
            Mark::FromTag
        } else if pending_hidden {
            Mark::AfterHidden
        } else {
            Mark::Plain
        };
        if pending_space && !text.is_empty() {
            text.push(' ');
            marks.push(mark);
        }
        pending_space = false;
        pending_hidden = false;
        text.push(c);
        marks.extend(std::iter::repeat_n(mark, c.len_utf8()));
    }
    Revealed { text, marks }
}

pub(crate) fn humanize(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if c == '_' || c == '-' {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
        } else {
            if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push(' ');
            }
            out.push(c);
        }
        prev = Some(c);
    }
    out.trim_end().to_owned()
}

/// The ASCII character a printable Unicode tag character stands for.
fn tag_ascii(c: char) -> Option<char> {
    let code = u32::from(c);
    if (0xE0020..=0xE007E).contains(&code) {
        char::from_u32(code - 0xE0000)
    } else {
        None
    }
}

/// The class of an invisible or deceptive character, regardless of context.
fn raw_class(c: char) -> Option<CharClass> {
    let class = match u32::from(c) {
        0xE0000..=0xE007F => CharClass::Tag,
        0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C => CharClass::Bidi,
        0x200B..=0x200D | 0x2060 | 0xFEFF | 0x180E => CharClass::ZeroWidth,
        0xFE00..=0xFE0F | 0xE0100..=0xE01EF => CharClass::VariationSelector,
        0x115F | 0x1160 | 0x3164 | 0xFFA0 | 0x034F | 0x17B4 | 0x17B5 | 0x2800 => CharClass::Filler,
        0x00AD
        | 0x0600..=0x0605
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x110BD
        | 0x110CD
        | 0x2061..=0x2064
        | 0x206A..=0x206F
        | 0xFFF9..=0xFFFB
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A => CharClass::Format,
        0x00..=0x1F | 0x7F..=0x9F if !matches!(c, '\t' | '\n' | '\r') => CharClass::Control,
        _ => return None,
    };
    Some(class)
}

/// Pictographs that zero-width joiners legitimately glue into one emoji.
fn is_pictograph(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF | 0x2190..=0x21FF
    )
}

/// Letters and signs of scripts where joiners shape text (Arabic, Persian,
/// Indic): a joiner there follows a letter or a virama.
fn is_joining_letter(c: char) -> bool {
    !c.is_ascii()
        && (c.is_alphabetic()
            || matches!(
                u32::from(c),
                0x0600..=0x06FF | 0x0750..=0x077F | 0x0900..=0x0DFF | 0x1000..=0x109F | 0x1780..=0x17FF
            ))
}

/// Invisible characters of one string, in context: joiners inside emoji or
/// between letters of joining scripts, a variation selector after a visible
/// character, and the tag sequence of a subdivision flag are ordinary text.
fn hidden_chars(s: &str) -> Vec<(char, CharClass)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let Some(class) = raw_class(c) else {
            i += 1;
            continue;
        };
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        match class {
            CharClass::Tag => {
                let end = chars[i..]
                    .iter()
                    .position(|c| raw_class(*c) != Some(CharClass::Tag))
                    .map_or(chars.len(), |n| i + n);
                if !is_flag_tag_sequence(prev, &chars[i..end]) {
                    out.extend(chars[i..end].iter().map(|c| (*c, CharClass::Tag)));
                }
                i = end;
                continue;
            }
            CharClass::ZeroWidth if c == '\u{200D}' || c == '\u{200C}' => {
                let emoji = c == '\u{200D}'
                    && prev.is_some_and(|p| is_pictograph(p) || p == '\u{FE0F}')
                    && next.is_some_and(is_pictograph);
                let letters =
                    prev.is_some_and(is_joining_letter) && next.is_some_and(is_joining_letter);
                if !emoji && !letters {
                    out.push((c, class));
                }
            }
            CharClass::VariationSelector if u32::from(c) <= 0xFE0F => {
                // One selector after a visible character picks its presentation
                // ("⚠️", "1️⃣"); runs of them carry hidden data.
                let after_visible =
                    prev.is_some_and(|p| raw_class(p).is_none() && !p.is_whitespace());
                if !after_visible {
                    out.push((c, class));
                }
            }
            _ => out.push((c, class)),
        }
        i += 1;
    }
    out
}

/// A black flag followed by lowercase tag letters and a cancel tag: a
/// subdivision flag such as England's, not hidden text.
fn is_flag_tag_sequence(prev: Option<char>, run: &[char]) -> bool {
    let Some((last, letters)) = run.split_last() else {
        return false;
    };
    prev == Some('\u{1F3F4}')
        && *last == '\u{E007F}'
        && (1..=MAX_EMOJI_TAG_LETTERS).contains(&letters.len())
        && letters
            .iter()
            .all(|c| matches!(u32::from(*c), 0xE0030..=0xE0039 | 0xE0061..=0xE007A))
}

fn pattern_hits(texts: &[Text], places: &[Place], regexes: &[Regex]) -> Vec<String> {
    let mut hits = Vec::new();
    for text in texts.iter().filter(|t| places.contains(&t.place)) {
        let revealed = &text.revealed;
        if let Some(m) = regexes.iter().find_map(|re| re.find(&revealed.text)) {
            hits.push(format!(
                "{}: \"{}\"{}",
                text.label(),
                clip(m.as_str(), MAX_QUOTE_CHARS),
                revealed.note(m.start(), m.end())
            ));
        } else if let Some(m) = text
            .humanized
            .as_deref()
            .and_then(|h| regexes.iter().find_map(|re| re.find(h)))
        {
            hits.push(format!(
                "{}: \"{}\"",
                text.label(),
                clip(m.as_str(), MAX_QUOTE_CHARS)
            ));
        }
    }
    hits
}

fn length_hits(texts: &[Text], places: &[Place], max_chars: usize) -> Vec<String> {
    texts
        .iter()
        .filter(|t| places.contains(&t.place) && t.chars > max_chars)
        .map(|t| format!("{}: {} characters (limit {max_chars})", t.label(), t.chars))
        .collect()
}

/// Every string and object key of a definition, with where it is.
fn all_strings(tool: &ToolDefinition) -> Vec<(String, &str)> {
    fn walk<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
        match value {
            Value::String(s) => out.push((path, s)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{path}[{i}]"), out);
                }
            }
            Value::Object(map) => {
                for (key, v) in map {
                    let sub = format!("{path}.{key}");
                    out.push((format!("{sub} (key)"), key));
                    walk(v, sub, out);
                }
            }
            _ => {}
        }
    }
    let mut out = vec![("name".to_owned(), tool.name.as_str())];
    if let Some(title) = &tool.title {
        out.push(("title".to_owned(), title));
    }
    if let Some(description) = &tool.description {
        out.push(("description".to_owned(), description));
    }
    walk(&tool.input_schema, "input_schema".to_owned(), &mut out);
    if let Some(schema) = &tool.output_schema {
        walk(schema, "output_schema".to_owned(), &mut out);
    }
    if let Some(annotations) = &tool.annotations {
        walk(annotations, "annotations".to_owned(), &mut out);
    }
    out
}

fn invisible_hits(tool: &ToolDefinition, classes: &[CharClass]) -> Vec<String> {
    let mut hits = Vec::new();
    for (path, s) in all_strings(tool) {
        let found: Vec<(char, CharClass)> = hidden_chars(s)
            .into_iter()
            .filter(|(_, class)| classes.contains(class))
            .collect();
        if found.is_empty() {
            continue;
        }
        let mut distinct: Vec<char> = Vec::new();
        for (c, _) in &found {
            if !distinct.contains(c) {
                distinct.push(*c);
            }
        }
        let mut listed: Vec<String> = distinct
            .iter()
            .take(MAX_LISTED_CODE_POINTS)
            .map(|c| format!("U+{:04X}", u32::from(*c)))
            .collect();
        if distinct.len() > MAX_LISTED_CODE_POINTS {
            listed.push("…".to_owned());
        }
        let count = found.len();
        let noun = if count == 1 {
            "character"
        } else {
            "characters"
        };
        let mut hit = format!("{path}: {count} hidden {noun} {}", listed.join(", "));
        let smuggled: String = found.iter().filter_map(|(c, _)| tag_ascii(*c)).collect();
        let smuggled = smuggled.split_whitespace().collect::<Vec<_>>().join(" ");
        if !smuggled.is_empty() {
            hit.push_str(&format!(
                "; tag text \"{}\"",
                clip(&smuggled, MAX_QUOTE_CHARS)
            ));
        }
        hits.push(hit);
    }
    hits
}

/// A name compared with case and separators ignored.
fn loose_key(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn shadow_hits(tool: &ToolDefinition, others: &[&ToolDefinition], loose: bool) -> Vec<String> {
    let name = reveal(&tool.name).text;
    let key = loose_key(&name);
    let mut hits = Vec::new();
    for other in others {
        let other_name = reveal(&other.name).text;
        // How the gateway's aggregate endpoint names the other tool.
        let namespaced = format!("{}__{}", other.server, other_name);
        let hit = if other_name == name {
            format!(
                "name \"{name}\" is also a tool of server \"{}\"",
                other.server
            )
        } else if loose && loose_key(&other_name) == key {
            format!(
                "name \"{name}\" looks like \"{other_name}\" of server \"{}\"",
                other.server
            )
        } else if name == namespaced {
            format!(
                "name \"{name}\" is how the gateway names tool \"{other_name}\" of server \"{}\"",
                other.server
            )
        } else if loose && loose_key(&namespaced) == key {
            format!(
                "name \"{name}\" looks like \"{namespaced}\", the gateway's name for tool \"{other_name}\" of server \"{}\"",
                other.server
            )
        } else {
            continue;
        };
        if !hits.contains(&hit) {
            hits.push(hit);
        }
    }
    hits
}

struct MentionLimits<'a> {
    min_tool: usize,
    min_server: usize,
    tool_words: &'a [String],
}

/// Names that read as identifiers rather than ordinary words: "send_email",
/// "get-sum", "sendEmail" but not "search" or "fetch", which descriptions use
/// as plain English.
fn identifier_like(name: &str) -> bool {
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || (prev_lower && c.is_uppercase()) {
            return true;
        }
        prev_lower = c.is_lowercase();
    }
    false
}

/// Byte offsets where `needle` occurs in `hay` as a whole word: not inside a
/// longer word on either side. A leading `_` or `-` still counts as a boundary
/// so namespaced forms ("gmail__send_email", "mcp_tool_send_email") match.
fn word_positions<'a>(hay: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    hay.match_indices(needle).filter_map(move |(at, _)| {
        let left_ok = hay[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let right_ok = hay[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'));
        (left_ok && right_ok).then_some(at)
    })
}

/// The phrase if a server name at `at` is followed by a tool-ish word or one
/// of that server's tool names: "gmail tool", "whatsapp's send_message".
fn server_phrase<'a>(
    hay: &'a str,
    at: usize,
    server: &str,
    tool_words: &[String],
    server_tools: &HashSet<String>,
) -> Option<&'a str> {
    let after = at + server.len();
    let mut rest = &hay[after..];
    for possessive in ["'s", "’s"] {
        if let Some(r) = rest.strip_prefix(possessive) {
            rest = r;
        }
    }
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || ")]}\"'`:,".contains(c));
    let word_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let word = &rest[..word_len];
    if word.is_empty() || !(tool_words.iter().any(|w| w == word) || server_tools.contains(word)) {
        return None;
    }
    let end = hay.len() - rest.len() + word_len;
    hay.get(at..end)
}

fn mention_hits(
    tool: &ToolDefinition,
    all: &[ToolDefinition],
    others: &[&ToolDefinition],
    texts: &[Text],
    places: &[Place],
    limits: &MentionLimits<'_>,
) -> Vec<String> {
    // A name this server offers too is its own, even if another server has it.
    let own: HashSet<String> = all
        .iter()
        .filter(|t| t.server == tool.server)
        .map(|t| t.name.to_lowercase())
        .chain(std::iter::once(tool.name.to_lowercase()))
        .collect();
    let mut tools: Vec<(String, &ToolDefinition)> = Vec::new();
    let mut servers: HashMap<&str, HashSet<String>> = HashMap::new();
    for other in others {
        let lower = other.name.to_lowercase();
        servers
            .entry(other.server.as_str())
            .or_default()
            .insert(lower.clone());
        if identifier_like(&other.name)
            && other.name.chars().count() >= limits.min_tool
            && !own.contains(&lower)
            && !tools.iter().any(|(n, _)| *n == lower)
        {
            tools.push((lower, other));
        }
    }
    let mut server_names: Vec<(&str, String)> = servers
        .keys()
        .filter(|s| s.chars().count() >= limits.min_server)
        .map(|s| (*s, s.to_lowercase()))
        .collect();
    server_names.sort();

    let no_tools = HashSet::new();
    let mut hits = Vec::new();
    for text in texts.iter().filter(|t| places.contains(&t.place)) {
        let hay = text.revealed.text.to_lowercase();
        for (lower, other) in &tools {
            if word_positions(&hay, lower).next().is_some() {
                hits.push(format!(
                    "{}: mentions \"{}\", a tool of server \"{}\"",
                    text.label(),
                    other.name,
                    other.server
                ));
            }
        }
        for (server, lower) in &server_names {
            let server_tools = servers.get(server).unwrap_or(&no_tools);
            if let Some(phrase) = word_positions(&hay, lower)
                .find_map(|at| server_phrase(&hay, at, lower, limits.tool_words, server_tools))
            {
                hits.push(format!(
                    "{}: mentions server \"{server}\" (\"{}\")",
                    text.label(),
                    clip(phrase, MAX_QUOTE_CHARS)
                ));
            }
        }
    }
    hits
}

/// One detail line from a rule's hits: the first, and how many more.
fn summarize(hits: &[String]) -> Option<String> {
    let first = hits.first()?;
    let more = match hits.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    // Clip the first hit, not the count, so the count always shows.
    let first = clip(first, MAX_DETAIL_CHARS - more.len());
    Some(first + &more)
}

/// `s` on one line, hidden characters written as escapes, at most `max`
/// characters plus "…".
fn clip(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut len = 0;
    for c in s.chars() {
        let escaped = (raw_class(c).is_some() || c.is_whitespace() && c != ' ')
            .then(|| format!("\\u{{{:04x}}}", u32::from(c)));
        let piece_len = escaped.as_ref().map_or(1, |e| e.chars().count());
        if len + piece_len > max {
            out.push('…');
            break;
        }
        match escaped {
            Some(e) => out.push_str(&e),
            None => out.push(c),
        }
        len += piece_len;
    }
    out
}
