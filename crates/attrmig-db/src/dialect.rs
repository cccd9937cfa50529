//! The SQL each backend spells differently. Identifiers arrive validated
//! ([`attrmig_core::ident::Ident`]) and are still quoted here; values are always bound.

use attrmig_core::ident::{Ident, JsonPath};

use crate::url::Backend;

impl Backend {
    /// A quoted identifier: `"users"` or `` `users` ``.
    pub fn quote(self, ident: &Ident) -> String {
        match self {
            Backend::Sqlite | Backend::Postgres => format!("\"{}\"", ident.as_str()),
            Backend::Mysql => format!("`{}`", ident.as_str()),
        }
    }

    /// The `n`th (1-based) bind placeholder: `$n` on PostgreSQL, `?` elsewhere.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Backend::Postgres => format!("${n}"),
            Backend::Sqlite | Backend::Mysql => "?".to_owned(),
        }
    }

    /// `expr` as text. `CAST(x AS CHAR)` means char(1) on PostgreSQL, hence the split.
    pub fn cast_text(self, expr: &str) -> String {
        match self {
            Backend::Sqlite | Backend::Postgres => format!("CAST({expr} AS TEXT)"),
            Backend::Mysql => format!("CAST({expr} AS CHAR)"),
        }
    }

    /// `expr` as a 64-bit integer.
    pub fn cast_bigint(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => format!("CAST({expr} AS INTEGER)"),
            Backend::Postgres => format!("CAST({expr} AS BIGINT)"),
            Backend::Mysql => format!("CAST({expr} AS SIGNED)"),
        }
    }

    /// NULL-safe inequality: true when exactly one side is NULL or both differ.
    ///
    /// Values are compared exactly, as SQLite's BINARY collation and PostgreSQL's
    /// deterministic ones do. MySQL/MariaDB collations would call `Ada` and `ADA` (`_ci`),
    /// `e` and `é` (`_ai`), or `a` and `a ` (PAD SPACE) equal, and refuse to compare two
    /// columns of different collations at all: there both sides are compared as the bytes
    /// of their utf8mb4 text. Binary values are compared with [`Backend::distinct_bytes`].
    pub fn distinct(self, a: &str, b: &str) -> String {
        match self {
            Backend::Sqlite => format!("({a} IS NOT {b})"),
            Backend::Postgres => format!("({a} IS DISTINCT FROM {b})"),
            Backend::Mysql => format!(
                "(NOT (CAST(CONVERT({a} USING utf8mb4) AS BINARY) <=> CAST(CONVERT({b} USING utf8mb4) AS BINARY)))"
            ),
        }
    }

    /// NULL-safe inequality of two binary values (bytes compared as they are; reading
    /// them as utf8mb4 text first would make invalid sequences look alike).
    pub fn distinct_bytes(self, a: &str, b: &str) -> String {
        match self {
            Backend::Sqlite | Backend::Postgres => self.distinct(a, b),
            Backend::Mysql => format!("(NOT ({a} <=> {b}))"),
        }
    }

    /// The text at `path` inside the JSON document `column_expr`, NULL when the key is
    /// absent or JSON null. The path's characters are validated to `[A-Za-z0-9_-]` and
    /// `.`, so it can be written into the statement as a literal.
    pub fn json_text(self, column_expr: &str, path: &JsonPath) -> String {
        match self {
            // json_extract returns SQL NULL for JSON null and the unquoted text for strings.
            Backend::Sqlite => format!("json_extract({column_expr}, '{}')", path.to_dollar_path()),
            Backend::Postgres => {
                let segments: Vec<&str> = path.segments().collect();
                format!(
                    "(CAST({column_expr} AS jsonb) #>> '{{{}}}')",
                    segments.join(",")
                )
            }
            // JSON_UNQUOTE of a JSON null is the string 'null': map it to SQL NULL.
            Backend::Mysql => {
                let extracted = format!("JSON_EXTRACT({column_expr}, '{}')", path.to_dollar_path());
                format!(
                    "(CASE WHEN JSON_TYPE({extracted}) = 'NULL' THEN NULL ELSE JSON_UNQUOTE({extracted}) END)"
                )
            }
        }
    }

    /// Whether the key at `path` is present in the document, even with a JSON null value.
    pub fn json_has_key(self, column_expr: &str, path: &JsonPath) -> String {
        match self {
            Backend::Sqlite => format!(
                "(json_type({column_expr}, '{}') IS NOT NULL)",
                path.to_dollar_path()
            ),
            Backend::Postgres => {
                let segments: Vec<&str> = path.segments().collect();
                format!(
                    "((CAST({column_expr} AS jsonb) #> '{{{}}}') IS NOT NULL)",
                    segments.join(",")
                )
            }
            Backend::Mysql => format!(
                "(JSON_CONTAINS_PATH({column_expr}, 'one', '{}') = 1)",
                path.to_dollar_path()
            ),
        }
    }

    /// `column_expr` with the key at `path` removed (for drop-old of a JSON attribute).
    pub fn json_remove(self, column_expr: &str, path: &JsonPath) -> String {
        match self {
            Backend::Sqlite => format!("json_remove({column_expr}, '{}')", path.to_dollar_path()),
            Backend::Postgres => {
                let segments: Vec<&str> = path.segments().collect();
                // Written back in the column's own type (json or jsonb or text).
                format!(
                    "(CAST({column_expr} AS jsonb) #- '{{{}}}')",
                    segments.join(",")
                )
            }
            Backend::Mysql => format!("JSON_REMOVE({column_expr}, '{}')", path.to_dollar_path()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: &str) -> Ident {
        Ident::new(s).unwrap()
    }

    #[test]
    fn spellings() {
        assert_eq!(Backend::Postgres.quote(&ident("users")), "\"users\"");
        assert_eq!(Backend::Mysql.quote(&ident("users")), "`users`");
        assert_eq!(Backend::Postgres.placeholder(2), "$2");
        assert_eq!(Backend::Sqlite.placeholder(2), "?");
        assert_eq!(Backend::Mysql.cast_text("x"), "CAST(x AS CHAR)");
        assert_eq!(Backend::Postgres.cast_text("x"), "CAST(x AS TEXT)");
        assert_eq!(
            Backend::Mysql.distinct("a", "b"),
            "(NOT (CAST(CONVERT(a USING utf8mb4) AS BINARY) <=> CAST(CONVERT(b USING utf8mb4) AS BINARY)))"
        );
        assert_eq!(Backend::Mysql.distinct_bytes("a", "b"), "(NOT (a <=> b))");
        assert_eq!(
            Backend::Postgres.distinct_bytes("a", "b"),
            Backend::Postgres.distinct("a", "b")
        );
        let path = JsonPath::new("profile.full_name").unwrap();
        assert_eq!(
            Backend::Postgres.json_text("a", &path),
            "(CAST(a AS jsonb) #>> '{profile,full_name}')"
        );
        assert_eq!(
            Backend::Sqlite.json_text("a", &path),
            r#"json_extract(a, '$."profile"."full_name"')"#
        );
    }
}
