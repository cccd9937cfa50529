//! The SQL each backend spells differently. Identifiers arrive validated
//! ([`attrmig_core::ident::Ident`]) and are still quoted here; values are always bound.

use attrmig_core::ident::{Ident, JsonPath, TableName};

use crate::url::Backend;

/// A name SQL quotes part by part: an identifier, or a table that may be qualified.
pub trait SqlName {
    /// The parts, outermost first (`billing`, `invoices`).
    fn sql_parts(&self) -> Vec<&Ident>;
}

impl SqlName for Ident {
    fn sql_parts(&self) -> Vec<&Ident> {
        vec![self]
    }
}

impl SqlName for TableName {
    fn sql_parts(&self) -> Vec<&Ident> {
        self.parts().collect()
    }
}

impl Backend {
    /// A quoted name: `"users"`, `` `users` ``, `"billing"."invoices"`.
    pub fn quote(self, name: &impl SqlName) -> String {
        let quote = |ident: &Ident| match self {
            Backend::Sqlite | Backend::Postgres => format!("\"{}\"", ident.as_str()),
            Backend::Mysql => format!("`{}`", ident.as_str()),
        };
        name.sql_parts()
            .into_iter()
            .map(quote)
            .collect::<Vec<_>>()
            .join(".")
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

    /// The text at `path` inside the JSON document `column_expr`, NULL when the key is
    /// absent or JSON null: a string's own text, any other value's JSON text exactly as
    /// the document has it (`true`, `1.50`, `12345678901234567890`, not `1`, `1.5`,
    /// `1.23456789012346e+19`). The path's characters are validated to `[A-Za-z0-9_-]`
    /// and `.`, so it can be written into the statement as a literal.
    pub fn json_text(self, column_expr: &str, path: &JsonPath) -> String {
        match self {
            // json_extract makes numbers and booleans SQL values (a real rounded to 15
            // digits on its way to text, true the integer 1); `->` keeps their JSON text.
            Backend::Sqlite => {
                let p = path.to_dollar_path();
                format!(
                    "(CASE json_type({column_expr}, '{p}') WHEN 'text' THEN json_extract({column_expr}, '{p}') \
                     WHEN 'null' THEN NULL ELSE {column_expr} -> '{p}' END)"
                )
            }
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

    /// The JSON at `path` inside the document `column_expr` as JSON (a string quoted),
    /// NULL when the key is absent or JSON null: for a new column that holds JSON.
    pub fn json_value(self, column_expr: &str, path: &JsonPath) -> String {
        match self {
            Backend::Sqlite => {
                let p = path.to_dollar_path();
                format!(
                    "(CASE json_type({column_expr}, '{p}') WHEN 'null' THEN NULL ELSE {column_expr} -> '{p}' END)"
                )
            }
            Backend::Postgres => {
                let segments: Vec<&str> = path.segments().collect();
                format!(
                    "NULLIF(CAST({column_expr} AS jsonb) #> '{{{}}}', 'null'::jsonb)",
                    segments.join(",")
                )
            }
            Backend::Mysql => {
                let extracted = format!("JSON_EXTRACT({column_expr}, '{}')", path.to_dollar_path());
                format!(
                    "(CASE WHEN JSON_TYPE({extracted}) = 'NULL' THEN NULL ELSE {extracted} END)"
                )
            }
        }
    }

    /// True when the text `expr` is a JSON document, false when it is not, without
    /// failing on it. On PostgreSQL this calls the session's function
    /// ([`crate::equality::PG_JSON_CHECK`]), which must have been created.
    pub fn json_valid(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => format!("json_valid({expr})"),
            Backend::Postgres => {
                format!("{}(CAST({expr} AS text))", crate::equality::PG_JSON_CHECK)
            }
            Backend::Mysql => format!("JSON_VALID({expr})"),
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
        let path = JsonPath::new("profile.full_name").unwrap();
        assert_eq!(
            Backend::Postgres.json_text("a", &path),
            "(CAST(a AS jsonb) #>> '{profile,full_name}')"
        );
        assert_eq!(
            Backend::Sqlite.json_text("a", &path),
            r#"(CASE json_type(a, '$."profile"."full_name"') WHEN 'text' THEN json_extract(a, '$."profile"."full_name"') WHEN 'null' THEN NULL ELSE a -> '$."profile"."full_name"' END)"#
        );
    }
}
