//! Names that end up inside SQL or file paths, validated once so the rest of the code
//! can't hold a bad one.
//!
//! Identifiers are still quoted per backend when SQL is written; validation is the first
//! wall, quoting the second, and values never enter SQL text at all (they are bound).

use std::fmt;

use serde::Serialize;

/// The longest identifier every backend accepts (PostgreSQL truncates at 63 bytes).
pub const MAX_IDENT_LEN: usize = 63;

/// A validated SQL identifier: an ASCII letter or `_`, then letters, digits or `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Ident(String);

/// Why a string is not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty string.
    #[error("is empty")]
    Empty,
    /// Longer than the backend limit.
    #[error("is {len} bytes long; the limit is {max}")]
    TooLong {
        /// Actual length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("contains {found:?} at position {at}; {allowed}")]
    BadCharacter {
        /// The offending character.
        found: char,
        /// Its 1-based position.
        at: usize,
        /// What is allowed, in words.
        allowed: &'static str,
    },
}

const IDENT_RULE: &str = "use ASCII letters, digits and _, starting with a letter or _";
const MIGRATION_ID_RULE: &str =
    "use lowercase letters, digits, - and _, starting with a letter or digit";
const JSON_SEGMENT_RULE: &str = "path segments use ASCII letters, digits, - and _, separated by .";

fn check_chars(
    s: &str,
    max: usize,
    allowed: &'static str,
    first_ok: impl Fn(char) -> bool,
    rest_ok: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > max {
        return Err(NameError::TooLong { len: s.len(), max });
    }
    for (i, c) in s.chars().enumerate() {
        let ok = if i == 0 { first_ok(c) } else { rest_ok(c) };
        if !ok {
            return Err(NameError::BadCharacter {
                found: c,
                at: i + 1,
                allowed,
            });
        }
    }
    Ok(())
}

impl Ident {
    /// Validates `s` as an identifier.
    pub fn new(s: &str) -> Result<Ident, NameError> {
        check_chars(
            s,
            MAX_IDENT_LEN,
            IDENT_RULE,
            |c| c.is_ascii_alphabetic() || c == '_',
            |c| c.is_ascii_alphanumeric() || c == '_',
        )?;
        Ok(Ident(s.to_owned()))
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table, optionally qualified by its schema (PostgreSQL) or database (MySQL/MariaDB):
/// `invoices` or `billing.invoices`. Unqualified, it is the connection's current schema
/// or database. Every use of a table name goes through this type, so a qualifier is
/// never lost on the way to SQL, introspection or a message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    /// The schema or database; `None`: the connection's current one.
    pub schema: Option<Ident>,
    /// The table itself.
    pub name: Ident,
}

impl TableName {
    /// Parses `table` or `schema.table`, each part an [`Ident`].
    pub fn parse(s: &str) -> Result<TableName, NameError> {
        match s.split_once('.') {
            None => Ok(TableName::unqualified(Ident::new(s)?)),
            Some((schema, name)) => {
                let schema = Ident::new(schema)?;
                let name = Ident::new(name).map_err(|e| match e {
                    NameError::BadCharacter { found, at, allowed } => NameError::BadCharacter {
                        found,
                        at: at + schema.as_str().len() + 1,
                        allowed,
                    },
                    NameError::Empty => NameError::BadCharacter {
                        found: '.',
                        at: schema.as_str().len() + 1,
                        allowed: IDENT_RULE,
                    },
                    other => other,
                })?;
                Ok(TableName {
                    schema: Some(schema),
                    name,
                })
            }
        }
    }

    /// A table of the current schema or database.
    pub fn unqualified(name: Ident) -> TableName {
        TableName { schema: None, name }
    }

    /// The same table under another name (its schema kept).
    pub fn with_name(&self, name: Ident) -> TableName {
        TableName {
            schema: self.schema.clone(),
            name,
        }
    }

    /// The parts as written, schema first: what SQL quotes one by one.
    pub fn parts(&self) -> impl Iterator<Item = &Ident> {
        self.schema.iter().chain(std::iter::once(&self.name))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

impl Serialize for TableName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A migration id: the plan file's stem, also its key in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MigrationId(String);

impl MigrationId {
    /// The longest id accepted (it is a file name and a primary key).
    pub const MAX_LEN: usize = 100;

    /// Validates `s` as a migration id.
    pub fn new(s: &str) -> Result<MigrationId, NameError> {
        check_chars(
            s,
            Self::MAX_LEN,
            MIGRATION_ID_RULE,
            |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_',
        )?;
        Ok(MigrationId(s.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MigrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A path to a key inside a JSON document: `full_name` or `profile.full_name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct JsonPath(String);

impl JsonPath {
    /// Validates a dotted path.
    pub fn new(s: &str) -> Result<JsonPath, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        let mut offset = 0;
        for segment in s.split('.') {
            check_chars(
                segment,
                MAX_IDENT_LEN,
                JSON_SEGMENT_RULE,
                |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
                |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
            )
            .map_err(|e| match e {
                NameError::BadCharacter { found, at, allowed } => NameError::BadCharacter {
                    found,
                    at: at + offset,
                    allowed,
                },
                NameError::Empty => NameError::BadCharacter {
                    found: '.',
                    at: offset.max(1),
                    allowed: JSON_SEGMENT_RULE,
                },
                other => other,
            })?;
            offset += segment.chars().count() + 1;
        }
        Ok(JsonPath(s.to_owned()))
    }

    /// The path as written in the plan.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The path in the JSON path syntax of SQLite and MySQL, every segment quoted so that
    /// `-` and leading digits need no special case: `$."profile"."full_name"`.
    pub fn to_dollar_path(&self) -> String {
        let mut path = String::from("$");
        for segment in self.segments() {
            path.push_str(".\"");
            path.push_str(segment);
            path.push('"');
        }
        path
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(Ident::new("full_name").is_ok());
        assert!(Ident::new("_x9").is_ok());
        assert!(Ident::new("9x").is_err());
        assert!(Ident::new("full name").is_err());
        assert!(Ident::new("users\"; DROP TABLE users; --").is_err());
        assert!(Ident::new("").is_err());
        assert!(Ident::new(&"a".repeat(64)).is_err());
        assert_eq!(
            Ident::new("a-b").unwrap_err().to_string(),
            "contains '-' at position 2; use ASCII letters, digits and _, starting with a letter or _"
        );
    }

    #[test]
    fn migration_ids() {
        assert!(MigrationId::new("users-full-name").is_ok());
        assert!(MigrationId::new("2026_users").is_ok());
        assert!(MigrationId::new("Users").is_err());
        assert!(MigrationId::new("../etc").is_err());
        assert!(MigrationId::new("-x").is_err());
    }

    #[test]
    fn json_paths() {
        assert!(JsonPath::new("full_name").is_ok());
        let nested = JsonPath::new("profile.full-name").unwrap();
        assert_eq!(
            nested.segments().collect::<Vec<_>>(),
            ["profile", "full-name"]
        );
        assert_eq!(nested.to_dollar_path(), r#"$."profile"."full-name""#);
        assert!(JsonPath::new("a..b").is_err());
        assert!(JsonPath::new("a.").is_err());
        assert!(JsonPath::new("a'b").is_err());
        assert!(JsonPath::new("$.a").is_err());
    }
}
