//! "These values differ", NULL-safe, per backend and [`Method`]; and the old value as it
//! is written into the new column.

use attrmig_core::equality::{Equality, Family, Method, Side, ValueType};

use super::read::Read;
use super::types::without_modifiers;
use super::{PG_JSON_CHECK, SQLITE_JSON_DIFFERS};
use crate::url::Backend;

/// A number as a text may spell it, for the servers' casts (which fail, or read `abc`
/// as 0, on anything else): optional spaces and sign, digits with an optional point, an
/// optional exponent.
const NUMBER_PATTERN: &str =
    r"^[[:space:]]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[[:space:]]*$";

impl Backend {
    /// True when `old` and `new` (SQL expressions of the pair's types) are not the same
    /// value: exactly one is NULL, or both are values and they differ.
    pub fn differs(self, eq: &Equality, old: &str, new: &str) -> String {
        match self {
            Backend::Sqlite => sqlite_differs(eq, old, new),
            Backend::Postgres => postgres_differs(eq, old, new),
            Backend::Mysql => mysql_differs(eq, old, new),
        }
    }

    /// The old value `old` as written into the new column of type `new_type` (as the
    /// database names it). PostgreSQL has no implicit conversion from text to most types,
    /// and none between a naive timestamp and one with a zone that does not depend on the
    /// session: those are spelled out; elsewhere the column's own conversion applies.
    pub fn write_value(self, eq: &Equality, old: &str, new_type: &str) -> String {
        match (self, eq.method) {
            (Backend::Postgres, Method::Instant) => {
                if eq.old.is_naive() {
                    pg_naive_as_utc(old)
                } else {
                    format!("({old} AT TIME ZONE 'UTC')")
                }
            }
            (Backend::Mysql, Method::Instant) => {
                if eq.old.is_naive() {
                    // FROM_UNIXTIME gives the instant in the session's zone, which is
                    // how a TIMESTAMP column takes it.
                    format!(
                        "FROM_UNIXTIME({} / 1000000)",
                        mysql_instant_micros(&eq.old, old)
                    )
                } else {
                    format!(
                        "TIMESTAMPADD(MICROSECOND, {}, TIMESTAMP '1970-01-01 00:00:00')",
                        mysql_instant_micros(&eq.old, old)
                    )
                }
            }
            (Backend::Postgres, _) if needs_pg_cast(eq, new_type) => {
                format!("CAST({old} AS {})", pg_cast_target(&eq.new, new_type))
            }
            (Backend::Sqlite, _)
                if eq.new.family() == Family::Text
                    && matches!(eq.old.family(), Family::Number | Family::Other) =>
            {
                sqlite_real_as_text(old)
            }
            _ => old.to_owned(),
        }
    }
}

/// SQLite makes a real text in a column of TEXT affinity with 15 digits, which
/// `0.30000000000000004` does not survive: it is written in the fewest digits, of 15 to
/// 17, that read back as the same double. (Any other value is left to the affinity.)
fn sqlite_real_as_text(e: &str) -> String {
    let digits = |n: u8| format!("printf('%!.{n}g', {e})");
    format!(
        "(CASE WHEN typeof({e}) <> 'real' THEN {e} \
         WHEN CAST({} AS REAL) = {e} THEN {} \
         WHEN CAST({} AS REAL) = {e} THEN {} ELSE {} END)",
        digits(15),
        digits(15),
        digits(16),
        digits(16),
        digits(17)
    )
}

/// SQLite compares any two values exactly by what they hold: integers and reals by
/// numeric value, text byte for byte under BINARY (an explicit collation overrides the
/// columns' own, so `NOCASE` and `RTRIM` columns are compared exactly too), blobs byte
/// for byte, and a text against a column of numeric affinity as a number where it reads
/// as one. JSON alone needs more: a function registered on the connection compares
/// the canonical forms of both documents (`attrmig_core::equality::canonical_json`).
fn sqlite_differs(eq: &Equality, old: &str, new: &str) -> String {
    match eq.method {
        Method::JsonStructure => {
            // Each document read exactly, as Backend::read reads any value for decode().
            let read =
                |e: &str| Backend::Sqlite.read(&ValueType::Json { binary: false }, e, Read::Exact);
            format!("{SQLITE_JSON_DIFFERS}({}, {})", read(old), read(new))
        }
        _ => format!("({old} IS NOT {new} COLLATE BINARY)"),
    }
}

fn postgres_differs(eq: &Equality, old: &str, new: &str) -> String {
    let plain = |a: &str, b: &str| format!("({a} IS DISTINCT FROM {b})");
    let as_text = |e: &str| format!("CAST({e} AS text)");
    match eq.method {
        Method::Plain
        | Method::ExactText {
            plain_is_exact: true,
        } => plain(old, new),
        // A deterministic collation's = is byte equality; "C" is one, and naming it on
        // both sides also settles two columns of different collations.
        Method::ExactText { .. } => plain(
            &format!("{} COLLATE \"C\"", as_text(old)),
            &format!("{} COLLATE \"C\"", as_text(new)),
        ),
        Method::TextAsNumber { text } => {
            let (t, n) = pick(text, old, new);
            format!(
                "(CASE WHEN {t} IS NULL OR {n} IS NULL THEN ({t} IS NULL) <> ({n} IS NULL) \
                 WHEN {t} ~ '{NUMBER_PATTERN}' THEN CAST({t} AS numeric) <> {n} ELSE TRUE END)"
            )
        }
        Method::Instant => {
            let naive = |ty: &ValueType, e: &str| {
                if ty.is_naive() {
                    pg_naive_as_utc(e)
                } else {
                    e.to_owned()
                }
            };
            plain(&naive(&eq.old, old), &naive(&eq.new, new))
        }
        // An interval's = calls `1 day` and `24 hours` equal; its text keeps the fields.
        Method::IntervalFields | Method::AsText => plain(&as_text(old), &as_text(new)),
        Method::JsonStructure => {
            if both_binary_json(eq) {
                return plain(old, new);
            }
            let jsonb = |e: &str| format!("CAST({e} AS jsonb)");
            let compared = plain(&jsonb(old), &jsonb(new));
            // A text that is no JSON differs from everything, without failing the
            // statement: tested first, by the session's function.
            let unchecked: Vec<&str> = [(&eq.old, old), (&eq.new, new)]
                .into_iter()
                .filter(|(ty, _)| !matches!(ty, ValueType::Json { .. }))
                .map(|(_, e)| e)
                .collect();
            if unchecked.is_empty() {
                return compared;
            }
            let invalid: Vec<String> = unchecked
                .iter()
                .map(|e| format!("({e} IS NOT NULL AND NOT {PG_JSON_CHECK}(CAST({e} AS text)))"))
                .collect();
            format!(
                "(CASE WHEN {} THEN TRUE ELSE {compared} END)",
                invalid.join(" OR ")
            )
        }
    }
}

/// `(text, number)` of a pair whose `text` side is text.
fn pick<'a>(text: Side, old: &'a str, new: &'a str) -> (&'a str, &'a str) {
    match text {
        Side::Old => (old, new),
        Side::New => (new, old),
    }
}

/// A naive timestamp (or a date) as the instant it names in UTC.
fn pg_naive_as_utc(e: &str) -> String {
    format!("(CAST({e} AS timestamp) AT TIME ZONE 'UTC')")
}

/// Whether the old value needs a cast to be written into the new column: its type has
/// no assignment conversion to the new one (text into a number, say). Numbers, texts,
/// bytes, instants of one kind and JSON convert on assignment, and must: a cast to
/// `varchar(5)` or `character` (which is `char(1)`) would silently cut a value that an
/// assignment refuses or keeps whole.
fn needs_pg_cast(eq: &Equality, new_type: &str) -> bool {
    if new_type.trim_end().ends_with("[]") || eq.old == eq.new {
        return false;
    }
    eq.old.family() != eq.new.family()
        || matches!(eq.old, ValueType::Other)
        || matches!(eq.new, ValueType::Other)
}

/// The type to cast to: the new column's, without modifiers (the assignment applies
/// them, and refuses what does not fit), and text for every text type.
fn pg_cast_target(new: &ValueType, new_type: &str) -> String {
    if matches!(new, ValueType::Text { .. }) {
        return "text".into();
    }
    without_modifiers(new_type)
}

/// MySQL/MariaDB collations call `Ada` and `ADA` (`_ci`), `e` and `é` (`_ai`), or `a`
/// and `a ` (PAD SPACE) equal, and refuse to compare two columns of different
/// collations at all: text is compared as the bytes of its utf8mb4 form.
fn mysql_differs(eq: &Equality, old: &str, new: &str) -> String {
    let plain = |a: &str, b: &str| format!("(NOT ({a} <=> {b}))");
    match eq.method {
        Method::Plain => plain(old, new),
        Method::ExactText { .. } | Method::AsText | Method::IntervalFields => plain(
            &mysql_text_bytes(&eq.old, old),
            &mysql_text_bytes(&eq.new, new),
        ),
        Method::TextAsNumber { text } => {
            let (t, n) = pick(text, old, new);
            let number = match text {
                Side::Old => &eq.new,
                Side::New => &eq.old,
            };
            // Compared as the number column's kind: as doubles with a float, else
            // exactly (65 digits, 30 after the point: MySQL's widest DECIMAL).
            let cast = if number.is_float() {
                "DOUBLE"
            } else {
                "DECIMAL(65,30)"
            };
            mysql_null_safe(
                t,
                n,
                &format!(
                    "CASE WHEN {t} REGEXP '{NUMBER_PATTERN}' THEN NOT (CAST({t} AS {cast}) <=> {n}) ELSE TRUE END"
                ),
            )
        }
        Method::Instant => plain(
            &mysql_instant_micros(&eq.old, old),
            &mysql_instant_micros(&eq.new, new),
        ),
        Method::JsonStructure => {
            if both_binary_json(eq) {
                // MySQL's own JSON type compares by structure.
                return plain(old, new);
            }
            // MariaDB: JSON_EQUALS compares structure, numbers exactly; it is NULL for a
            // text that is no JSON, which differs from everything.
            mysql_null_safe(
                old,
                new,
                &format!("NOT COALESCE(JSON_EQUALS({old}, {new}), FALSE)"),
            )
        }
    }
}

/// Two JSON types that compare by structure themselves (`jsonb`, MySQL's `JSON`).
fn both_binary_json(eq: &Equality) -> bool {
    matches!(
        (&eq.old, &eq.new),
        (
            ValueType::Json { binary: true },
            ValueType::Json { binary: true }
        )
    )
}

/// `differs` (over two values that are not NULL) made NULL-safe: exactly one NULL
/// differs, two NULLs don't.
fn mysql_null_safe(a: &str, b: &str, differs: &str) -> String {
    format!(
        "(CASE WHEN {a} IS NULL OR {b} IS NULL THEN NOT ({a} IS NULL AND {b} IS NULL) ELSE {differs} END)"
    )
}

/// A value as the bytes of its text: text in utf8mb4, a float32 through a double (its own
/// text has 6 digits), bytes as they are.
pub(super) fn mysql_text_bytes(ty: &ValueType, e: &str) -> String {
    match ty {
        ValueType::Bytes { .. } => e.to_owned(),
        ValueType::Float { bits: 32 } => format!("CAST(CAST({e} AS DOUBLE) AS CHAR)"),
        _ => format!("CAST(CONVERT({e} USING utf8mb4) AS BINARY)"),
    }
}

/// An instant as microseconds since 1970-01-01 00:00 UTC: a `TIMESTAMP` (stored in UTC)
/// whatever the session's zone, a `DATETIME` or `DATE` read in UTC.
pub(super) fn mysql_instant_micros(ty: &ValueType, e: &str) -> String {
    if ty.is_naive() {
        format!("TIMESTAMPDIFF(MICROSECOND, TIMESTAMP '1970-01-01 00:00:00', {e})")
    } else {
        format!("(UNIX_TIMESTAMP({e}) * 1000000)")
    }
}

#[cfg(test)]
mod tests {
    use attrmig_core::equality::between;

    use super::*;

    fn text() -> ValueType {
        ValueType::plain_text()
    }

    #[test]
    fn the_common_case_is_the_plain_comparison() {
        let same = between(&text(), &text());
        assert_eq!(
            Backend::Postgres.differs(&same, "a", "b"),
            "(a IS DISTINCT FROM b)"
        );
        assert_eq!(
            Backend::Sqlite.differs(&same, "a", "b"),
            "(a IS NOT b COLLATE BINARY)"
        );
        let ints = between(&ValueType::Integer, &ValueType::Integer);
        assert_eq!(Backend::Mysql.differs(&ints, "a", "b"), "(NOT (a <=> b))");
        let bytes = between(
            &ValueType::Bytes { padded: false },
            &ValueType::Bytes { padded: false },
        );
        assert_eq!(Backend::Mysql.differs(&bytes, "a", "b"), "(NOT (a <=> b))");
        assert_eq!(Backend::Postgres.write_value(&same, "o.v", "text"), "o.v");
    }

    #[test]
    fn spellings_that_are_not_plain() {
        let folds = ValueType::Text {
            padded: false,
            folds: true,
            collation: None,
        };
        assert_eq!(
            Backend::Postgres.differs(&between(&folds, &text()), "a", "b"),
            "(CAST(a AS text) COLLATE \"C\" IS DISTINCT FROM CAST(b AS text) COLLATE \"C\")"
        );
        assert_eq!(
            Backend::Mysql.differs(&between(&folds, &folds), "a", "b"),
            "(NOT (CAST(CONVERT(a USING utf8mb4) AS BINARY) <=> CAST(CONVERT(b USING utf8mb4) AS BINARY)))"
        );
        let naive = ValueType::Timestamp {
            zoned: false,
            precision: 6,
        };
        let zoned = ValueType::Timestamp {
            zoned: true,
            precision: 6,
        };
        let eq = between(&naive, &zoned);
        assert_eq!(
            Backend::Postgres.differs(&eq, "a", "b"),
            "((CAST(a AS timestamp) AT TIME ZONE 'UTC') IS DISTINCT FROM b)"
        );
        assert_eq!(
            Backend::Postgres.write_value(&eq, "a", "timestamp with time zone"),
            "(CAST(a AS timestamp) AT TIME ZONE 'UTC')"
        );
        let json = ValueType::Json { binary: false };
        assert_eq!(
            Backend::Postgres.differs(&between(&json, &json), "a", "b"),
            "(CAST(a AS jsonb) IS DISTINCT FROM CAST(b AS jsonb))"
        );
        assert!(
            Backend::Sqlite
                .differs(&between(&json, &json), "a", "b")
                .starts_with(SQLITE_JSON_DIFFERS)
        );
    }

    #[test]
    fn postgres_casts_only_where_assignment_cannot() {
        let eq = between(
            &text(),
            &ValueType::Text {
                padded: true,
                folds: false,
                collation: None,
            },
        );
        assert_eq!(
            Backend::Postgres.write_value(&eq, "o.v", "character(10)"),
            "o.v",
            "not CAST AS character: that is char(1)"
        );
        let eq = between(&text(), &ValueType::Decimal { scale: Some(2) });
        assert_eq!(
            Backend::Postgres.write_value(&eq, "o.v", "numeric(10,2)"),
            "CAST(o.v AS numeric)"
        );
        let eq = between(&ValueType::Integer, &text());
        assert_eq!(
            Backend::Postgres.write_value(&eq, "o.v", "character varying(5)"),
            "CAST(o.v AS text)"
        );
        let eq = between(
            &text(),
            &ValueType::Timestamp {
                zoned: true,
                precision: 3,
            },
        );
        assert_eq!(
            Backend::Postgres.write_value(&eq, "o.v", "timestamp(3) with time zone"),
            "CAST(o.v AS timestamp with time zone)"
        );
        let eq = between(
            &ValueType::Decimal { scale: Some(4) },
            &ValueType::Decimal { scale: Some(2) },
        );
        assert_eq!(
            Backend::Postgres.write_value(&eq, "o.v", "numeric(10,2)"),
            "o.v"
        );
    }
}
