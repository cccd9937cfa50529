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

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    schema_version: u32,
    #[serde(flatten)]
    data: &'a T,
}

impl Out {
    /// One JSON document with the schema version.
    pub fn json<T: Serialize>(&self, data: &T) -> Result<(), Failure> {
        let doc = serde_json::to_value(Envelope {
            schema_version: SCHEMA_VERSION,
            data,
        })
        .map_err(|e| Failure::Other(e.into()))?;
        let doc =
            serde_json::to_string_pretty(&clean_json(doc)).map_err(|e| Failure::Other(e.into()))?;
        write_line(&doc)
    }

    /// One JSON Lines record of a stream: `{"type": ..., "data": ...}`.
    pub fn json_line<T: Serialize>(&self, kind: &str, data: &T) -> Result<(), Failure> {
        let line =
            serde_json::json!({ "schema_version": SCHEMA_VERSION, "type": kind, "data": data });
        write_line(&clean_json(line).to_string())
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
