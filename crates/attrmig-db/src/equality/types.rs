//! The type a database names for a column, as equality sees it.

use attrmig_core::equality::ValueType;

use crate::url::Backend;

/// What a column's type name does not say but equality needs, introspected separately.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeFacts {
    /// PostgreSQL: the column's collation is nondeterministic (it calls different texts
    /// equal).
    pub nondeterministic: bool,
    /// PostgreSQL: the column's collation, when not the database's default.
    pub collation: Option<String>,
    /// MariaDB: the column is `JSON` (a `LONGTEXT` with a `json_valid` check).
    pub json: bool,
}

impl Backend {
    /// The type `data_type` (as introspection reports it) as equality sees it.
    pub fn value_type(self, data_type: &str, facts: &TypeFacts) -> ValueType {
        let lower = data_type.trim().to_ascii_lowercase();
        match self {
            Backend::Sqlite => sqlite(&lower),
            Backend::Postgres => postgres(&lower, facts),
            Backend::Mysql => mysql(&lower, facts),
        }
    }
}

/// SQLite keeps whatever value it is given; a declared type only names the affinity a
/// value is converted by on the way in (the rules of sqlite.org/datatype3.html, in their
/// order). Collations aren't introspected: every text comparison is made in BINARY.
fn sqlite(t: &str) -> ValueType {
    if t.contains("int") {
        ValueType::Integer
    } else if t.contains("char") || t.contains("clob") || t.contains("text") {
        ValueType::Text {
            padded: false,
            folds: true,
            collation: None,
        }
    } else if t.contains("blob") {
        ValueType::Bytes { padded: false }
    } else if t.is_empty() {
        ValueType::Other
    } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
        ValueType::Float { bits: 64 }
    } else if t == "json" || t == "jsonb" {
        ValueType::Json { binary: false }
    } else {
        // NUMERIC affinity, which never rounds to a scale.
        ValueType::Decimal { scale: None }
    }
}

/// A type's name without its modifiers: `timestamp(3) with time zone` is `timestamp with
/// time zone`, `numeric(10,2)` is `numeric`.
pub(super) fn without_modifiers(t: &str) -> String {
    let mut base = String::with_capacity(t.len());
    let mut depth = 0;
    for c in t.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if depth == 0 => base.push(c),
            _ => {}
        }
    }
    base.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `(a, b)` of `name(a, b)`.
fn modifiers(t: &str) -> Vec<u32> {
    let Some(start) = t.find('(') else {
        return Vec::new();
    };
    let end = t[start..].find(')').map_or(t.len(), |i| start + i);
    t[start + 1..end]
        .split(',')
        .filter_map(|m| m.trim().parse().ok())
        .collect()
}

/// PostgreSQL, as `format_type` names types.
fn postgres(t: &str, facts: &TypeFacts) -> ValueType {
    if t.ends_with("[]") {
        return ValueType::Other;
    }
    let base = without_modifiers(t);
    let text = |padded: bool, folds: bool| ValueType::Text {
        padded,
        folds: folds || facts.nondeterministic,
        collation: facts.collation.clone(),
    };
    let precision = || modifiers(t).first().copied().unwrap_or(6);
    match base.as_str() {
        "smallint" | "integer" | "bigint" => ValueType::Integer,
        "numeric" => ValueType::Decimal {
            // numeric(p) keeps no fraction; bare numeric keeps what it is given.
            scale: match modifiers(t).as_slice() {
                [] => None,
                [_] => Some(0),
                [_, s, ..] => Some(*s),
            },
        },
        "real" => ValueType::Float { bits: 32 },
        "double precision" => ValueType::Float { bits: 64 },
        "text" | "character varying" | "name" => text(false, false),
        "citext" => text(false, true),
        "character" | "bpchar" => text(true, false),
        "bytea" => ValueType::Bytes { padded: false },
        "boolean" => ValueType::Boolean,
        "date" => ValueType::Date,
        "timestamp without time zone" | "timestamp" => ValueType::Timestamp {
            zoned: false,
            precision: precision(),
        },
        "timestamp with time zone" | "timestamptz" => ValueType::Timestamp {
            zoned: true,
            precision: precision(),
        },
        "time without time zone" | "time" => ValueType::TimeOfDay,
        "json" => ValueType::Json { binary: false },
        "jsonb" => ValueType::Json { binary: true },
        "uuid" => ValueType::Uuid,
        b if b.starts_with("interval") => ValueType::Interval,
        _ => ValueType::Other,
    }
}

/// MySQL/MariaDB, as `information_schema.columns.column_type` names types.
fn mysql(t: &str, facts: &TypeFacts) -> ValueType {
    let base = t.split(['(', ' ']).next().unwrap_or(t).trim();
    match base {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => {
            ValueType::Integer
        }
        "decimal" | "numeric" | "dec" | "fixed" => ValueType::Decimal {
            scale: Some(match modifiers(t).as_slice() {
                [_, s, ..] => *s,
                _ => 0,
            }),
        },
        "float" => ValueType::Float { bits: 32 },
        "double" | "real" => ValueType::Float { bits: 64 },
        // Every MySQL collation but a binary one folds something (case, accents, or
        // trailing spaces under PAD SPACE): text is compared as utf8mb4 bytes always.
        "char" => ValueType::Text {
            padded: true,
            folds: true,
            collation: None,
        },
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" if facts.json => {
            ValueType::Json { binary: false }
        }
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => ValueType::Text {
            padded: false,
            folds: true,
            collation: None,
        },
        "json" => ValueType::Json { binary: true },
        "binary" => ValueType::Bytes { padded: true },
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            ValueType::Bytes { padded: false }
        }
        "date" => ValueType::Date,
        "datetime" => ValueType::Timestamp {
            zoned: false,
            precision: modifiers(t).first().copied().unwrap_or(0),
        },
        "timestamp" => ValueType::Timestamp {
            zoned: true,
            precision: modifiers(t).first().copied().unwrap_or(0),
        },
        "time" => ValueType::TimeOfDay,
        _ => ValueType::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(t: &str) -> ValueType {
        Backend::Postgres.value_type(t, &TypeFacts::default())
    }

    fn my(t: &str) -> ValueType {
        Backend::Mysql.value_type(t, &TypeFacts::default())
    }

    fn lite(t: &str) -> ValueType {
        Backend::Sqlite.value_type(t, &TypeFacts::default())
    }

    #[test]
    fn postgres_types() {
        assert_eq!(pg("numeric(10,2)"), ValueType::Decimal { scale: Some(2) });
        assert_eq!(pg("numeric(10)"), ValueType::Decimal { scale: Some(0) });
        assert_eq!(pg("numeric"), ValueType::Decimal { scale: None });
        assert_eq!(pg("real"), ValueType::Float { bits: 32 });
        assert_eq!(pg("double precision"), ValueType::Float { bits: 64 });
        assert!(matches!(
            pg("character(10)"),
            ValueType::Text {
                padded: true,
                folds: false,
                ..
            }
        ));
        assert!(matches!(pg("citext"), ValueType::Text { folds: true, .. }));
        let ci = Backend::Postgres.value_type(
            "text",
            &TypeFacts {
                nondeterministic: true,
                collation: Some("ci".into()),
                json: false,
            },
        );
        assert_eq!(
            ci,
            ValueType::Text {
                padded: false,
                folds: true,
                collation: Some("ci".into())
            }
        );
        assert_eq!(
            pg("timestamp without time zone"),
            ValueType::Timestamp {
                zoned: false,
                precision: 6
            }
        );
        assert_eq!(
            pg("timestamp(0) with time zone"),
            ValueType::Timestamp {
                zoned: true,
                precision: 0
            }
        );
        assert_eq!(pg("interval"), ValueType::Interval);
        assert_eq!(pg("interval day to second(3)"), ValueType::Interval);
        assert_eq!(pg("jsonb"), ValueType::Json { binary: true });
        assert_eq!(pg("time with time zone"), ValueType::Other);
        assert_eq!(pg("integer[]"), ValueType::Other);
    }

    #[test]
    fn mysql_types() {
        assert_eq!(my("decimal(12,4)"), ValueType::Decimal { scale: Some(4) });
        assert_eq!(my("float"), ValueType::Float { bits: 32 });
        assert_eq!(my("double"), ValueType::Float { bits: 64 });
        assert_eq!(my("bigint(20) unsigned"), ValueType::Integer);
        assert_eq!(my("tinyint(1)"), ValueType::Integer);
        assert_eq!(
            my("datetime"),
            ValueType::Timestamp {
                zoned: false,
                precision: 0
            }
        );
        assert_eq!(
            my("datetime(6)"),
            ValueType::Timestamp {
                zoned: false,
                precision: 6
            }
        );
        assert_eq!(my("binary(4)"), ValueType::Bytes { padded: true });
        assert_eq!(my("longblob"), ValueType::Bytes { padded: false });
        assert!(matches!(
            my("varchar(255)"),
            ValueType::Text { folds: true, .. }
        ));
        let json = Backend::Mysql.value_type(
            "longtext",
            &TypeFacts {
                json: true,
                ..TypeFacts::default()
            },
        );
        assert_eq!(json, ValueType::Json { binary: false });
    }

    #[test]
    fn sqlite_affinities() {
        assert_eq!(lite("BIGINT"), ValueType::Integer);
        assert_eq!(
            lite("POINT"),
            ValueType::Integer,
            "INT anywhere is INTEGER affinity"
        );
        assert!(matches!(
            lite("VARCHAR(255)"),
            ValueType::Text { folds: true, .. }
        ));
        assert!(matches!(
            lite("TEXT COLLATE NOCASE"),
            ValueType::Text { .. }
        ));
        assert_eq!(lite("BLOB"), ValueType::Bytes { padded: false });
        assert_eq!(lite("DOUBLE PRECISION"), ValueType::Float { bits: 64 });
        assert_eq!(lite("DECIMAL(10,2)"), ValueType::Decimal { scale: None });
        assert_eq!(lite("DATETIME"), ValueType::Decimal { scale: None });
        assert_eq!(lite("JSON"), ValueType::Json { binary: false });
        assert_eq!(lite(""), ValueType::Other);
    }
}
