//! Statements built at run time: SQL text with per-backend placeholders, and the values
//! bound to them, in order. Identifiers come quoted from [`crate::layout`]; values never
//! enter the text.

use std::fmt;

use attrmig_db::{AnyBackend, AnyConnection, Backend};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Text};

/// A key of the migrated rows: integer or text, as the old key column is, or for a key
/// of several columns the tuple of their values in key order.
///
/// A one-column key is never a one-element tuple, so its text (what the state tables
/// record as `row_key`) is the same as before keys of several columns existed. Within
/// one migration every key has the same shape, so the derived order is key order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A text key (also UUIDs and other types compared in their own type).
    Text(String),
    /// A key of several columns: one integer or text value per column (never nested,
    /// at least two).
    Tuple(Vec<Key>),
}

impl Key {
    /// The key's value for each key column: itself for a one-column key.
    pub fn parts(&self) -> &[Key] {
        match self {
            Key::Tuple(parts) => parts,
            one => std::slice::from_ref(one),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Key::Int(i) => serde_json::Value::from(*i),
            Key::Text(s) => serde_json::Value::from(s.as_str()),
            Key::Tuple(parts) => parts.iter().map(Key::json).collect(),
        }
    }
}

/// A one-column key as its value (`7`, `alice`); a key of several columns as a compact
/// JSON array, integers as numbers and text as strings (`[7,"alice"]`): one text per
/// key, which no other key of the migration shares, whatever its values hold. This is
/// how reports show it and how the state tables record it (`row_key`, docs/store.md).
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Text(s) => f.write_str(s),
            Key::Tuple(_) => f.write_str(&self.json().to_string()),
        }
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// BIGINT.
    Int(i64),
    /// TEXT.
    Text(String),
}

/// SQL text and its binds.
#[derive(Debug, Clone)]
pub struct Sql {
    backend: Backend,
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// An empty statement for `backend`.
    pub fn new(backend: Backend) -> Sql {
        Sql {
            backend,
            text: String::new(),
            binds: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: Bind) -> &mut Sql {
        self.binds.push(value);
        let placeholder = self.backend.placeholder(self.binds.len());
        self.text.push_str(&placeholder);
        self
    }

    /// Appends a placeholder for a key, cast to the key column's type where the backend
    /// would otherwise refuse to compare (PostgreSQL: `uuid > text`).
    /// A tuple binds its values in parentheses, uncast: [`crate::layout::Layout`] binds
    /// a tuple's values one by one with each column's cast.
    pub fn bind_key(&mut self, key: &Key, cast: Option<&str>) -> &mut Sql {
        match (key, cast) {
            (Key::Tuple(parts), _) => {
                self.push("(");
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.bind_key(part, None);
                }
                self.push(")")
            }
            (Key::Int(i), _) => self.bind(Bind::Int(*i)),
            (Key::Text(s), None) => self.bind(Bind::Text(s.clone())),
            (Key::Text(s), Some(ty)) => {
                self.push("CAST(");
                self.bind(Bind::Text(s.clone()));
                self.push(&format!(" AS {ty})"))
            }
        }
    }

    /// The SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The binds, in order.
    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }

    /// The statement as a diesel query, binds applied.
    pub fn query(&self) -> BoxedSqlQuery<'static, AnyBackend, SqlQuery> {
        self.boxed()
    }

    /// The statement as a diesel query on an SQLite connection itself, for rows read
    /// column by column as they are stored ([`attrmig_db::equality::SqliteStored`]).
    pub fn sqlite_query(&self) -> BoxedSqlQuery<'static, diesel::sqlite::Sqlite, SqlQuery> {
        self.boxed()
    }

    fn boxed<DB>(&self) -> BoxedSqlQuery<'static, DB, SqlQuery>
    where
        DB: diesel::backend::Backend
            + diesel::sql_types::HasSqlType<BigInt>
            + diesel::sql_types::HasSqlType<Text>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
        String: diesel::serialize::ToSql<Text, DB>,
    {
        let mut query = diesel::sql_query(self.text.clone()).into_boxed::<DB>();
        for bind in &self.binds {
            query = match bind {
                Bind::Int(i) => query.bind::<BigInt, _>(*i),
                Bind::Text(s) => query.bind::<Text, _>(s.clone()),
            };
        }
        query
    }

    /// Runs the statement; returns the affected row count.
    pub fn execute(&self, conn: &mut AnyConnection) -> diesel::QueryResult<usize> {
        use diesel::RunQueryDsl;
        self.query().execute(conn)
    }

    /// Runs the statement and loads its rows.
    pub fn load<T>(&self, conn: &mut AnyConnection) -> diesel::QueryResult<Vec<T>>
    where
        T: diesel::QueryableByName<AnyBackend> + 'static,
    {
        use diesel::RunQueryDsl;
        self.query().load(conn)
    }

    /// The statement with binds written as SQL literals, for people to read and copy.
    pub fn display(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut binds = self.binds.iter();
        let mut chars = self.text.chars().peekable();
        while let Some(c) = chars.next() {
            let is_placeholder = match self.backend {
                Backend::Postgres => c == '$' && chars.peek().is_some_and(char::is_ascii_digit),
                Backend::Sqlite | Backend::Mysql => c == '?',
            };
            if !is_placeholder {
                out.push(c);
                continue;
            }
            if self.backend == Backend::Postgres {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
            }
            match binds.next() {
                Some(Bind::Int(i)) => out.push_str(&i.to_string()),
                Some(Bind::Text(s)) => out.push_str(&literal(self.backend, s)),
                None => out.push('?'),
            }
        }
        out
    }
}

/// `value` as a SQL literal that reads back as exactly `value` on `backend`, whatever the
/// session's settings, and that is safe to paste into the backend's client.
///
/// Doubling `'` is the whole escaping only where a backslash is an ordinary character
/// (SQLite): MySQL reads `\'` inside a literal as an escaped quote (unless
/// `NO_BACKSLASH_ESCAPES`), PostgreSQL does too with `standard_conforming_strings = off`,
/// so a value ending in a backslash would end the literal early and run the rest as SQL.
/// A value that is plain there (no backslash but on SQLite, no control character but a
/// newline: a tab pasted into a client completes a word, an escape sequence rewrites the
/// terminal; and for MySQL only ASCII, whose meaning does not depend on the client's
/// character set) is written `'...'`; any other in a form with no escapes to misread:
///
/// - SQLite: `CAST(X'<utf-8 hex>' AS TEXT)`;
/// - PostgreSQL: `E'...'`, whose backslash escapes hold whatever the setting
///   (`\\`, `\uXXXX` for control characters);
/// - MySQL/MariaDB: `_utf8mb4 X'<utf-8 hex>'`, a character string like a bound value
///   (the column's collation decides equality, as with `--apply`).
pub fn literal(backend: Backend, value: &str) -> String {
    let plain = value.chars().all(|c| {
        let printable = !c.is_control() || c == '\n';
        match backend {
            Backend::Sqlite => printable,
            Backend::Postgres => printable && c != '\\',
            Backend::Mysql => printable && c != '\\' && c.is_ascii(),
        }
    });
    if plain {
        return format!("'{}'", value.replace('\'', "''"));
    }
    let hex: String = value.bytes().map(|b| format!("{b:02X}")).collect();
    match backend {
        Backend::Sqlite => format!("CAST(X'{hex}' AS TEXT)"),
        Backend::Mysql => format!("_utf8mb4 X'{hex}'"),
        Backend::Postgres => {
            let mut out = String::from("E'");
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("''"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_display() {
        let mut sql = Sql::new(Backend::Postgres);
        sql.push("DELETE FROM t WHERE name = ")
            .bind(Bind::Text("o'brien".into()))
            .push(" AND id > ")
            .bind(Bind::Int(7));
        assert_eq!(sql.text(), "DELETE FROM t WHERE name = $1 AND id > $2");
        assert_eq!(
            sql.display(),
            "DELETE FROM t WHERE name = 'o''brien' AND id > 7"
        );
        let mut sql = Sql::new(Backend::Sqlite);
        sql.push("SELECT ")
            .bind(Bind::Int(1))
            .push(", ")
            .bind_key(&Key::Text("x".into()), None);
        assert_eq!(sql.text(), "SELECT ?, ?");
        let mut sql = Sql::new(Backend::Postgres);
        sql.bind_key(&Key::Text("0b9f".into()), Some("uuid"));
        assert_eq!(sql.text(), "CAST($1 AS uuid)");
    }

    #[test]
    fn a_tuple_key_reads_as_json_one_column_as_its_value() {
        let key = Key::Tuple(vec![Key::Int(7), Key::Text("a\"b, c".into())]);
        assert_eq!(key.to_string(), r#"[7,"a\"b, c"]"#);
        assert_eq!(Key::Text("[7]".into()).to_string(), "[7]");
        assert_eq!(key.parts().len(), 2);
        assert!(
            Key::Tuple(vec![Key::Int(1), Key::Int(9)]) < Key::Tuple(vec![Key::Int(2), Key::Int(0)])
        );
    }

    #[test]
    fn literals_that_a_backslash_could_end_early_are_written_without_escapes() {
        let hostile = "x\\' OR 1=1; --";
        assert_eq!(literal(Backend::Mysql, "o'brien"), "'o''brien'");
        assert_eq!(
            literal(Backend::Mysql, hostile),
            "_utf8mb4 X'785C27204F5220313D313B202D2D'"
        );
        assert_eq!(literal(Backend::Mysql, "é"), "_utf8mb4 X'C3A9'");
        assert_eq!(literal(Backend::Postgres, hostile), "E'x\\\\'' OR 1=1; --'");
        assert_eq!(literal(Backend::Postgres, "a\tb"), "E'a\\u0009b'");
        assert_eq!(literal(Backend::Postgres, "é\nx"), "'é\nx'");
        assert_eq!(literal(Backend::Sqlite, "x\u{1b}"), "CAST(X'781B' AS TEXT)");
        // SQLite has no backslash escapes: a backslash is an ordinary character there.
        assert_eq!(literal(Backend::Sqlite, hostile), "'x\\'' OR 1=1; --'");
    }
}
