//! TOML configs (Codex), edited with `toml_edit` so that comments, key order
//! and formatting survive.

use serde_json::{Map, Value};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike};

use super::RawEntry;
use crate::ConfigValue;

const SERVERS: &str = "mcp_servers";

/// A parsed TOML config.
pub struct TomlDoc {
    doc: DocumentMut,
}

impl TomlDoc {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| e.to_string().trim().replace('\n', " "))?;
        Ok(Self { doc })
    }

    /// Checks that `mcp_servers` and its entries are tables.
    pub fn check_shape(&self) -> Result<(), String> {
        let Some(item) = self.doc.get(SERVERS) else {
            return Ok(());
        };
        let table = item
            .as_table_like()
            .ok_or_else(|| format!("\"{SERVERS}\" is not a table"))?;
        for (name, entry) in table.iter() {
            if !entry.is_table_like() {
                return Err(format!("\"{SERVERS}.{name}\" is not a table"));
            }
        }
        Ok(())
    }

    fn servers(&self) -> Option<&dyn TableLike> {
        self.doc.get(SERVERS)?.as_table_like()
    }

    /// Every `[mcp_servers.NAME]` entry.
    pub fn entries(&self) -> Vec<RawEntry> {
        let Some(servers) = self.servers() else {
            return Vec::new();
        };
        servers
            .iter()
            .map(|(name, item)| RawEntry {
                name: name.to_owned(),
                section: String::new(),
                value: item_to_json(item),
            })
            .collect()
    }

    fn servers_mut(&mut self) -> Option<&mut dyn TableLike> {
        let item = self.doc.entry(SERVERS).or_insert_with(|| {
            let mut table = Table::new();
            // `[mcp_servers]` itself stays unwritten: only its sub-tables appear.
            table.set_implicit(true);
            Item::Table(table)
        });
        if !item.is_table_like() {
            *item = Item::Table(Table::new());
        }
        item.as_table_like_mut()
    }

    /// Sets `[mcp_servers.NAME]`.
    pub fn set_entry(&mut self, name: &str, value: &ConfigValue) {
        // An entry that already says this stays as it is written (installing
        // again must leave the file as it is).
        if self
            .servers()
            .and_then(|s| s.get(name))
            .is_some_and(|item| item_to_json(item) == value.to_json())
        {
            return;
        }
        let blank_line = !self.doc.to_string().trim().is_empty();
        let mut table = Table::new();
        if let ConfigValue::Object(props) = value {
            for (key, value) in props {
                table.insert(key, Item::Value(to_value(value)));
            }
        }
        if blank_line {
            table.decor_mut().set_prefix("\n");
        }
        let Some(servers) = self.servers_mut() else {
            return;
        };
        match servers.get_mut(name) {
            // Replaced in place, keeping the entry where it was written.
            Some(existing) if existing.is_table() => {
                if let Some(old) = existing.as_table()
                    && let Some(position) = old.position()
                {
                    table.set_position(Some(position));
                }
                *existing = Item::Table(table);
            }
            _ => {
                servers.insert(name, Item::Table(table));
            }
        }
    }

    /// Removes `[mcp_servers.NAME]` (with its sub-tables).
    pub fn remove_entry(&mut self, name: &str) -> bool {
        match self.doc.get_mut(SERVERS).and_then(Item::as_table_like_mut) {
            Some(servers) => servers.remove(name).is_some(),
            None => false,
        }
    }

    /// Copies `[mcp_servers.NAME]` from `other` as written there.
    pub fn copy_entry_from(&mut self, other: &TomlDoc, name: &str) -> bool {
        let Some(item) = other.servers().and_then(|s| s.get(name)).cloned() else {
            return false;
        };
        match self.servers_mut() {
            Some(servers) => {
                servers.insert(name, item);
                true
            }
            None => false,
        }
    }

    /// The text.
    pub fn render(&self) -> String {
        self.doc.to_string()
    }
}

fn to_value(value: &ConfigValue) -> toml_edit::Value {
    match value {
        ConfigValue::Str(s) => s.as_str().into(),
        ConfigValue::Bool(b) => (*b).into(),
        ConfigValue::Array(items) => {
            toml_edit::Value::Array(items.iter().map(to_value).collect::<Array>())
        }
        ConfigValue::Object(props) => {
            let mut table = InlineTable::new();
            for (key, value) in props {
                table.insert(key, to_value(value));
            }
            toml_edit::Value::InlineTable(table)
        }
    }
}

fn item_to_json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(value) => value_to_json(value),
        Item::Table(table) => table_to_json(table),
        Item::ArrayOfTables(tables) => {
            Value::Array(tables.iter().map(|t| table_to_json(t)).collect())
        }
    }
}

fn table_to_json(table: &dyn TableLike) -> Value {
    Value::Object(
        table
            .iter()
            .map(|(k, v)| (k.to_owned(), item_to_json(v)))
            .collect::<Map<_, _>>(),
    )
}

fn value_to_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(value_to_json).collect()),
        toml_edit::Value::InlineTable(t) => table_to_json(t),
    }
}
