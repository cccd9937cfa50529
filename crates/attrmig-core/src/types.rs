//! Families of column types, so that keys can be checked to join across backends that
//! spell types differently (`bigint`, `int8`, `INTEGER`, `int(11) unsigned`).

use serde::Serialize;

/// A coarse family of SQL types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TypeFamily {
    /// Any integer type.
    Integer,
    /// Character strings.
    Text,
    /// UUIDs (PostgreSQL's native type).
    Uuid,
    /// Exact or floating numbers other than integers.
    Number,
    /// True/false.
    Boolean,
    /// Dates, times, timestamps, intervals.
    Time,
    /// JSON documents.
    Json,
    /// Bytes.
    Binary,
    /// Not declared (SQLite allows that) or not recognised: no claim is made.
    Unknown,
}

impl TypeFamily {
    /// The family's name for messages.
    pub fn name(self) -> &'static str {
        match self {
            TypeFamily::Integer => "integer",
            TypeFamily::Text => "text",
            TypeFamily::Uuid => "uuid",
            TypeFamily::Number => "number",
            TypeFamily::Boolean => "boolean",
            TypeFamily::Time => "time",
            TypeFamily::Json => "json",
            TypeFamily::Binary => "binary",
            TypeFamily::Unknown => "unknown",
        }
    }
}

/// The family of a type as a database names it.
pub fn type_family(data_type: &str) -> TypeFamily {
    let lower = data_type.trim().to_ascii_lowercase();
    let base = lower.split('(').next().unwrap_or("").trim();
    let first = base.split_whitespace().next().unwrap_or("");
    match first {
        "int" | "integer" | "bigint" | "smallint" | "tinyint" | "mediumint" | "int2" | "int4"
        | "int8" | "serial" | "bigserial" | "smallserial" => TypeFamily::Integer,
        "char" | "varchar" | "character" | "text" | "tinytext" | "mediumtext" | "longtext"
        | "nchar" | "nvarchar" | "clob" | "citext" | "bpchar" | "name" | "string" => {
            TypeFamily::Text
        }
        "uuid" => TypeFamily::Uuid,
        "numeric" | "decimal" | "real" | "float" | "float4" | "float8" | "double" | "money" => {
            TypeFamily::Number
        }
        "bool" | "boolean" => TypeFamily::Boolean,
        "date" | "time" | "timestamp" | "timestamptz" | "datetime" | "interval" | "year" => {
            TypeFamily::Time
        }
        "json" | "jsonb" => TypeFamily::Json,
        "blob" | "bytea" | "binary" | "varbinary" | "tinyblob" | "mediumblob" | "longblob" => {
            TypeFamily::Binary
        }
        _ => TypeFamily::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_across_backends() {
        for t in [
            "bigint",
            "INTEGER",
            "int(11) unsigned",
            "int8",
            "bigint unsigned",
            "smallint",
        ] {
            assert_eq!(type_family(t), TypeFamily::Integer, "{t}");
        }
        for t in [
            "text",
            "VARCHAR(255)",
            "character varying",
            "char(36)",
            "longtext",
        ] {
            assert_eq!(type_family(t), TypeFamily::Text, "{t}");
        }
        assert_eq!(type_family("interval"), TypeFamily::Time);
        assert_eq!(type_family("timestamp with time zone"), TypeFamily::Time);
        assert_eq!(type_family(""), TypeFamily::Unknown);
        assert_eq!(type_family("point"), TypeFamily::Unknown);
    }
}
