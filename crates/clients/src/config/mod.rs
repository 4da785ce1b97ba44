//! Reading and editing one client config file without disturbing anything we
//! do not touch: comments, formatting, key order, keys we do not understand.

mod json;
mod toml;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{ClientKind, Error, Format, Result};

pub use json::JsonDoc;
pub use toml::TomlDoc;

/// One server entry as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    /// Its key in the servers object.
    pub name: String,
    /// Where it is: `""` for the top-level servers object, else a label
    /// such as `project /path` (Claude Code's local scope).
    pub section: String,
    /// The entry as JSON (TOML is converted).
    pub value: Value,
}

/// A parsed config file, ready to be read and edited.
pub enum Document {
    /// A JSON or JSONC file.
    Json(JsonDoc),
    /// A TOML file.
    Toml(TomlDoc),
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Document::Json(_) => "Document::Json",
            Document::Toml(_) => "Document::Toml",
        })
    }
}

impl Document {
    /// Parses `text` as `kind`'s config (`path` is for messages). An empty
    /// file counts as an empty config.
    pub fn parse(kind: ClientKind, path: &Path, text: &str) -> Result<Self> {
        let malformed = |message: String| Error::Malformed {
            path: path.to_owned(),
            message,
        };
        let shape = |message: String| Error::Shape {
            path: path.to_owned(),
            message,
        };
        match kind.format() {
            Format::Json | Format::Jsonc => {
                let doc = JsonDoc::parse(text, kind.format() == Format::Jsonc, kind)
                    .map_err(malformed)?;
                doc.check_shape().map_err(shape)?;
                Ok(Document::Json(doc))
            }
            Format::Toml => {
                let doc = TomlDoc::parse(text).map_err(malformed)?;
                doc.check_shape().map_err(shape)?;
                Ok(Document::Toml(doc))
            }
        }
    }

    /// Every server entry in the file.
    pub fn entries(&self) -> Vec<RawEntry> {
        match self {
            Document::Json(doc) => doc.entries(),
            Document::Toml(doc) => doc.entries(),
        }
    }

    /// The top-level entry called `name`, if any.
    pub fn entry(&self, name: &str) -> Option<Value> {
        self.entries()
            .into_iter()
            .find(|e| e.section.is_empty() && e.name == name)
            .map(|e| e.value)
    }

    /// Sets the top-level entry `name` (replacing it in place if it exists,
    /// else appending it), creating the servers object if needed.
    pub fn set_entry(&mut self, name: &str, value: &crate::ConfigValue) {
        match self {
            Document::Json(doc) => doc.set_entry(name, value),
            Document::Toml(doc) => doc.set_entry(name, value),
        }
    }

    /// Removes the top-level entry `name`; whether it was there.
    pub fn remove_entry(&mut self, name: &str) -> bool {
        match self {
            Document::Json(doc) => doc.remove_entry(name),
            Document::Toml(doc) => doc.remove_entry(name),
        }
    }

    /// Copies the top-level entry `name` from `other` (same format) as it is
    /// written there, replacing ours; whether `other` had it.
    pub fn copy_entry_from(&mut self, other: &Document, name: &str) -> bool {
        match (self, other) {
            (Document::Json(ours), Document::Json(theirs)) => ours.copy_entry_from(theirs, name),
            (Document::Toml(ours), Document::Toml(theirs)) => ours.copy_entry_from(theirs, name),
            _ => false,
        }
    }

    /// The file's text now.
    pub fn render(&self) -> String {
        match self {
            Document::Json(doc) => doc.render(),
            Document::Toml(doc) => doc.render(),
        }
    }
}

/// A config file read from disk: its bytes, if it exists, and the parse.
#[derive(Debug)]
pub struct LoadedFile {
    /// The file.
    pub path: PathBuf,
    /// Its bytes (None: no such file).
    pub original: Option<Vec<u8>>,
    /// The parsed document (an empty one when the file does not exist).
    pub doc: Document,
}

impl LoadedFile {
    /// Reads and parses `path` as `kind`'s config.
    pub fn load(kind: ClientKind, path: &Path) -> Result<Self> {
        let original = match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(crate::error::io(path, e)),
        };
        let text = match &original {
            Some(bytes) => std::str::from_utf8(bytes).map_err(|e| Error::Malformed {
                path: path.to_owned(),
                message: format!("not UTF-8: {e}"),
            })?,
            None => "",
        };
        let doc = Document::parse(kind, path, text)?;
        Ok(Self {
            path: path.to_owned(),
            original,
            doc,
        })
    }
}
