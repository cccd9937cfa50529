//! Errors that point into a file: path, line, column and the dotted key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use attrmig_core::echo::bounded;

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted key, e.g. `old.column`; empty for problems not tied to a key.
    pub key: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// Every problem found in one file. A file is reported whole, not just its first problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileErrors {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// Its problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: ", self.file.display(), p.line, p.column)?;
            if !p.key.is_empty() {
                write!(f, "{}: ", p.key)?;
            }
            f.write_str(&p.message)?;
        }
        Ok(())
    }
}

/// Collects problems while validating a file's text.
pub(crate) struct Collector<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Collector {
            file,
            text,
            problems: Vec::new(),
        }
    }

    /// A problem at a span of the text. Whatever the message quotes of the file is
    /// bounded ([`attrmig_core::echo::bounded`]).
    pub(crate) fn at(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        let message = message.into();
        self.problems.push(Problem {
            line,
            column,
            key: key.to_owned(),
            message: bounded(&message).into_owned(),
        });
    }

    pub(crate) fn finish<T>(mut self, value: Option<T>) -> Result<T, FileErrors> {
        self.problems.sort_by_key(|p| (p.line, p.column));
        match value {
            Some(v) if self.problems.is_empty() => Ok(v),
            _ => Err(FileErrors {
                file: self.file.to_owned(),
                problems: self.problems,
            }),
        }
    }

    /// A `toml` parse or shape error (syntax, unknown key, wrong type).
    pub(crate) fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> FileErrors {
        let start = err.span().map_or(0, |s| s.start);
        let (line, column) = line_col(text, start);
        // The parser quotes the file back; the key is read from it: both bounded.
        let key = bounded(&key_at(text, start)).into_owned();
        let message = bounded(&rewrite_toml_message(err.message(), &key)).into_owned();
        FileErrors {
            file: file.to_owned(),
            problems: vec![Problem {
                line,
                column,
                key,
                message,
            }],
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted key at a byte offset: the enclosing `[table]` plus the key on that line.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim();
    if let Some(header) = table_header(line) {
        return header.to_owned();
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(|l| table_header(l.trim()))
        .unwrap_or("");
    let key = line
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    match (table, key) {
        ("", k) => k.to_owned(),
        (t, "") => t.to_owned(),
        (t, k) => format!("{t}.{k}"),
    }
}

fn table_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?;
    let end = inner.find(']')?;
    Some(inner[..end].trim_matches(|c| c == '[' || c == ' '))
}

/// toml says "field"; plans say "key". Keep the rest, it names what is expected.
fn rewrite_toml_message(message: &str, key: &str) -> String {
    let message = message.trim().replace("unknown field", "unknown key");
    if message.starts_with("unknown key") {
        let table = key.rsplit_once('.').map(|(t, _)| t);
        match table {
            Some(t) => format!("{message} (in [{t}])"),
            None => format!("{message} (at the top level)"),
        }
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_positions() {
        let text = "description = 'x'\n[old]\nkind = 'column'\ntabel = 'u'\n";
        let offset = text.find("tabel").unwrap();
        assert_eq!(line_col(text, offset), (4, 1));
        assert_eq!(key_at(text, offset), "old.tabel");
        assert_eq!(key_at(text, 0), "description");
        assert_eq!(key_at(text, text.find("old]").unwrap()), "old");
    }
}
