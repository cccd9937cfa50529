//! Writing results: a table or lines for people, one JSON document for machines.
//! Tables are rendered to a `String` first so they can be tested.
//!
//! Everything printed passes through [`clean`] (text) or [`clean_json`] (every string
//! of a document): no password reaches the terminal, whatever a driver or server put in
//! a message (`attrmig_db::secret`).

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use crate::exit::Failure;

/// Bumped when a JSON shape changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// Where results go.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// `--json`.
    pub json: bool,
}

/// A document with its schema version as the first key, whatever the keys of `data`
/// (a `serde_json` map sorts its keys, so the version is written by a struct, first).
#[derive(Serialize)]
struct Envelope<'a> {
    schema_version: u32,
    #[serde(flatten)]
    data: &'a serde_json::Value,
}

/// One record of a stream, its keys in the documented order.
#[derive(Serialize)]
struct Line<'a> {
    schema_version: u32,
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a serde_json::Value,
}

/// `data` (an object) as one JSON document whose first key is `schema_version`.
pub fn document(data: &serde_json::Value, pretty: bool) -> String {
    let doc = Envelope {
        schema_version: SCHEMA_VERSION,
        data,
    };
    let text = if pretty {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    };
    text.expect("a JSON value always serializes")
}

impl Out {
    /// One JSON document with the schema version.
    pub fn json<T: Serialize>(&self, data: &T) -> Result<(), Failure> {
        let data = serde_json::to_value(data).map_err(|e| Failure::Other(e.into()))?;
        write_line(&document(&clean_json(data), true))
    }

    /// One JSON Lines record of a stream: `{"schema_version", "type", "data"}`.
    pub fn json_line<T: Serialize>(&self, kind: &str, data: &T) -> Result<(), Failure> {
        let data = serde_json::to_value(data).map_err(|e| Failure::Other(e.into()))?;
        let line = Line {
            schema_version: SCHEMA_VERSION,
            kind,
            data: &clean_json(data),
        };
        write_line(&serde_json::to_string(&line).map_err(|e| Failure::Other(e.into()))?)
    }

    /// Text for people, with a newline.
    pub fn text(&self, s: &str) -> Result<(), Failure> {
        write_line(&clean(s))
    }
}

fn write_line(s: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{s}")?;
    stdout.flush()?;
    Ok(())
}

/// `s` without any password in it.
pub fn clean(s: &str) -> String {
    attrmig_db::secret::scrub(s)
}

/// Every string of `doc` without any password in it. Strings are cleaned before they are
/// encoded: a password holding a quote or a backslash is spelled differently in JSON.
pub fn clean_json(doc: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match doc {
        Value::String(s) => Value::String(clean(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(clean_json).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, clean_json(v))).collect())
        }
        other => other,
    }
}

/// A table in the house style: horizontal rules only, fitted to the terminal.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    if let Some((w, _)) = terminal_width() {
        t.set_width(w);
    }
    t
}

fn terminal_width() -> Option<(u16, u16)> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .map(|w| (w, 0))
}
