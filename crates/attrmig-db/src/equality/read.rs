//! Values read back exactly: an SQL expression whose result is read as bytes (diesel's
//! `Binary`, which any backend hands over without decoding text), and the
//! [`Scalar`] those bytes stand for. Nothing is read through a lossy text form: not a
//! float as 6 or 15 digits, not bytes as utf8mb4 text.

use attrmig_core::equality::{Scalar, ValueType, render};
use diesel::sqlite::{SqliteType, SqliteValue};

use super::compare::{mysql_instant_micros, mysql_text_bytes};
use crate::url::Backend;

/// What a value is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Its exact value in its family (instants as microseconds, intervals as fields):
    /// for digests and comparisons.
    Exact,
    /// As its type writes it (a timestamp as `2024-01-01 10:00:00`), bytes as bytes: for
    /// people, and for pairs compared as text.
    Shown,
}

impl Backend {
    /// An expression reading `e`, of type `ty`, for [`Backend::decode`].
    pub fn read(self, ty: &ValueType, e: &str, read: Read) -> String {
        match self {
            // quote() writes any value as an exact SQL literal: a blob in hex, a real in
            // as many digits as it takes to read back the same double; NULL as the bare
            // word, which is no other value's literal. Not a text: quote() stops at its
            // first NUL byte, so a text is its bytes after a `t`, which begins no literal.
            Backend::Sqlite => format!(
                "(CASE typeof({e}) WHEN 'text' THEN 't' || {e} ELSE NULLIF(quote({e}), 'NULL') END)"
            ),
            Backend::Postgres => postgres(ty, e, read),
            Backend::Mysql => mysql(ty, e, read),
        }
    }

    /// The value that `raw` (read by [`Backend::read`] with the same `ty` and `read`)
    /// stands for.
    pub fn decode(self, ty: &ValueType, raw: Vec<u8>, read: Read) -> Scalar {
        if self == Backend::Sqlite {
            return sqlite_literal(ty, raw);
        }
        let text = || String::from_utf8_lossy(&raw).into_owned();
        match (ty, read) {
            (ValueType::Bytes { .. }, _) => Scalar::Bytes(raw),
            (ValueType::Float { bits }, _) => float(&text(), *bits).unwrap_or(Scalar::Other(raw)),
            (_, Read::Shown) => Scalar::Text(raw),
            (ValueType::Integer | ValueType::Decimal { .. }, _) => Scalar::Number(text()),
            (ValueType::Text { .. }, _) => Scalar::Text(raw),
            (ValueType::Boolean, _) => match raw.as_slice() {
                b"true" | b"1" => Scalar::Boolean(true),
                b"false" | b"0" => Scalar::Boolean(false),
                _ => Scalar::Other(raw),
            },
            (ValueType::Date | ValueType::Timestamp { .. }, _) => Scalar::Instant(text()),
            (ValueType::TimeOfDay, _) => Scalar::TimeOfDay(text()),
            (ValueType::Interval, _) => Scalar::Interval(text()),
            (ValueType::Json { .. }, _) => Scalar::Json(text()),
            (ValueType::Uuid, _) => Scalar::Uuid(text()),
            (ValueType::Other, _) => Scalar::Other(raw),
        }
    }
}

fn postgres(ty: &ValueType, e: &str, read: Read) -> String {
    let text = format!("CAST({e} AS text)");
    match (ty, read) {
        (ValueType::Bytes { .. }, _) => e.to_owned(),
        (_, Read::Shown) => text,
        // Since PostgreSQL 14 EXTRACT is numeric: exact. A naive timestamp's epoch is
        // counted in UTC.
        (ValueType::Date | ValueType::Timestamp { .. } | ValueType::TimeOfDay, _) => {
            format!("CAST(EXTRACT(EPOCH FROM {e}) * 1000000 AS text)")
        }
        (ValueType::Interval, _) => format!(
            "CAST(EXTRACT(YEAR FROM {e}) * 12 + EXTRACT(MONTH FROM {e}) AS text) || ' ' || \
             CAST(EXTRACT(DAY FROM {e}) AS text) || ' ' || \
             CAST(EXTRACT(HOUR FROM {e}) * 3600000000 + EXTRACT(MINUTE FROM {e}) * 60000000 \
             + EXTRACT(MICROSECONDS FROM {e}) AS text)"
        ),
        _ => text,
    }
}

fn mysql(ty: &ValueType, e: &str, read: Read) -> String {
    match (ty, read) {
        (ValueType::Bytes { .. }, _) => e.to_owned(),
        (ValueType::Float { .. }, _) => format!("CAST(CAST({e} AS DOUBLE) AS CHAR)"),
        (ValueType::Text { .. }, _) => mysql_text_bytes(ty, e),
        (_, Read::Shown) => format!("CAST({e} AS CHAR)"),
        (ValueType::Date | ValueType::Timestamp { .. }, _) => {
            format!("CAST({} AS CHAR)", mysql_instant_micros(ty, e))
        }
        (ValueType::TimeOfDay, _) => {
            format!("CAST(TIME_TO_SEC({e}) * 1000000 + MICROSECOND({e}) AS CHAR)")
        }
        _ => format!("CAST({e} AS CHAR)"),
    }
}

/// A float read as decimal text that names it exactly (PostgreSQL's and MySQL's shortest
/// round-trip output; a float32 parsed as one, so that it widens exactly).
fn float(text: &str, bits: u8) -> Option<Scalar> {
    let value = if bits == 32 {
        f64::from(text.trim().parse::<f32>().ok()?)
    } else {
        text.trim().parse::<f64>().ok()?
    };
    Some(Scalar::Float { value, bits })
}

/// An SQLite value as it is stored: its storage class and what it holds. Read from a
/// row ([`SqliteStored::read`]) or from what [`Backend::read`] wrote of it, it stands
/// for the same [`Scalar`] ([`SqliteStored::scalar`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SqliteStored {
    /// An integer.
    Integer(i64),
    /// A real, exactly.
    Real(f64),
    /// A text's bytes, exactly (not UTF-8 checked, NUL bytes included).
    Text(Vec<u8>),
    /// A blob's bytes.
    Blob(Vec<u8>),
}

impl SqliteStored {
    /// A value of a row as it is stored; `None` for NULL. A text that is valid UTF-8
    /// (nearly every one) is read in place; any other text would come back with its
    /// bytes replaced, so it is read again as bytes.
    pub fn read(mut value: SqliteValue<'_, '_, '_>) -> Option<SqliteStored> {
        Some(match value.value_type()? {
            SqliteType::Long => SqliteStored::Integer(value.read_long()),
            SqliteType::Double => SqliteStored::Real(value.read_double()),
            SqliteType::Text => {
                let text = value.read_text();
                if !text.contains(char::REPLACEMENT_CHARACTER) {
                    return Some(SqliteStored::Text(text.as_bytes().to_vec()));
                }
                SqliteStored::Text(value.read_blob().to_vec())
            }
            _ => SqliteStored::Blob(value.read_blob().to_vec()),
        })
    }

    /// The value it stands for in a column of type `ty`. A number in a JSON column
    /// (NUMERIC affinity keeps a bare number as a number) is that JSON number, a real
    /// in the fewest digits that name it.
    pub fn scalar(self, ty: &ValueType) -> Scalar {
        let json = matches!(ty, ValueType::Json { .. });
        match self {
            SqliteStored::Text(bytes) if json => Scalar::Json(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
            SqliteStored::Text(bytes) => Scalar::Text(bytes),
            SqliteStored::Blob(bytes) => Scalar::Bytes(bytes),
            SqliteStored::Integer(i) if json => Scalar::Json(i.to_string()),
            SqliteStored::Integer(i) => Scalar::Number(i.to_string()),
            SqliteStored::Real(value) if json => {
                Scalar::Json(render(&Scalar::Float { value, bits: 64 }))
            }
            SqliteStored::Real(value) => Scalar::Float { value, bits: 64 },
        }
    }

    /// What [`Backend::read`] wrote of a value: a text's bytes after a `t`, or a
    /// `quote()` literal (`X'hex'`, an integer, a real). `Err` with the bytes for
    /// anything else.
    fn parse(mut raw: Vec<u8>) -> Result<SqliteStored, Vec<u8>> {
        if raw.first() == Some(&b't') {
            raw.remove(0);
            return Ok(SqliteStored::Text(raw));
        }
        match raw.as_slice() {
            [b'X' | b'x', b'\'', hex @ .., b'\''] => Ok(SqliteStored::Blob(
                hex.chunks(2)
                    .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
                    .collect(),
            )),
            number => {
                let text = std::str::from_utf8(number).unwrap_or_default();
                let parsed = if text.contains(['.', 'e', 'E']) {
                    text.parse().ok().map(SqliteStored::Real)
                } else {
                    text.parse().ok().map(SqliteStored::Integer)
                };
                parsed.ok_or(raw)
            }
        }
    }
}

/// What [`Backend::read`] wrote of an SQLite value, as the value it stands for.
fn sqlite_literal(ty: &ValueType, raw: Vec<u8>) -> Scalar {
    match SqliteStored::parse(raw) {
        Ok(stored) => stored.scalar(ty),
        Err(raw) => Scalar::Other(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lite(raw: &str) -> Scalar {
        Backend::Sqlite.decode(&ValueType::Other, raw.as_bytes().to_vec(), Read::Exact)
    }

    #[test]
    fn sqlite_literals() {
        assert_eq!(
            lite("ta\0b"),
            Scalar::Text(b"a\0b".to_vec()),
            "a text is its bytes"
        );
        assert_eq!(lite("t'"), Scalar::Text(b"'".to_vec()));
        let json = ValueType::Json { binary: false };
        assert_eq!(
            Backend::Sqlite.decode(&json, b"3.000000000000000444e-01".to_vec(), Read::Exact),
            Scalar::Json("0.30000000000000004".into()),
            "a bare real in a JSON column is the JSON number that names it"
        );
        assert_eq!(lite("X'FF01'"), Scalar::Bytes(vec![0xff, 0x01]));
        assert_eq!(lite("12"), Scalar::Number("12".into()));
        assert_eq!(
            lite("3.000000000000000445e-01"),
            Scalar::Float {
                value: 0.1 + 0.2,
                bits: 64
            }
        );
        assert_eq!(
            lite("9.0e+999"),
            Scalar::Float {
                value: f64::INFINITY,
                bits: 64
            }
        );
        let mut raw = b"t".to_vec();
        raw.push(0xff);
        assert_eq!(
            Backend::Sqlite.decode(&ValueType::Other, raw, Read::Exact),
            Scalar::Text(vec![0xff]),
            "text that is no UTF-8 is read as bytes"
        );
    }

    #[test]
    fn server_values() {
        let real = ValueType::Float { bits: 32 };
        assert_eq!(
            Backend::Postgres.decode(&real, b"0.1".to_vec(), Read::Exact),
            Scalar::Float {
                value: f64::from(0.1f32),
                bits: 32
            }
        );
        assert_eq!(
            Backend::Postgres.decode(&ValueType::Boolean, b"true".to_vec(), Read::Exact),
            Scalar::Boolean(true)
        );
        assert_eq!(
            Backend::Mysql.decode(&ValueType::Bytes { padded: false }, vec![0xff], Read::Shown),
            Scalar::Bytes(vec![0xff])
        );
        assert_eq!(
            Backend::Postgres.read(&ValueType::Bytes { padded: false }, "v", Read::Shown),
            "v"
        );
    }
}
