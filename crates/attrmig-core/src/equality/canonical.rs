//! Values as bytes that say exactly what the value is: [`canonical`] for digests and for
//! comparing values read from two databases, [`render`] for people.

use std::fmt::Write as _;

use super::json::canonical_json;
use super::number::{canonical_float, canonical_number, nearest_double};
use super::{Equality, Family, Method, Side};

/// One value, read exactly from any backend (`attrmig_db`'s dialect says how).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// An exact number as decimal text (`1.50`, `-3`, `NaN`).
    Number(String),
    /// A binary float, and the width of the type it came from.
    Float {
        /// Its value (a float32 widened exactly).
        value: f64,
        /// 32 or 64.
        bits: u8,
    },
    /// Text, as bytes (normally UTF-8).
    Text(Vec<u8>),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A truth value.
    Boolean(bool),
    /// An instant: microseconds since 1970-01-01 00:00 UTC, in decimal.
    Instant(String),
    /// A time of day: microseconds since midnight, in decimal.
    TimeOfDay(String),
    /// An interval's fields: months, days and microseconds, in decimal, space-separated.
    Interval(String),
    /// A JSON document's text.
    Json(String),
    /// A UUID's text.
    Uuid(String),
    /// Anything else, as the text its type writes.
    Other(Vec<u8>),
}

/// The value as bytes that are equal exactly when the values are: a family tag, then
/// the value in its canonical form (numbers by [`canonical_number`], JSON by
/// [`canonical_json`], text and bytes as they are). A JSON text that is no JSON document
/// is its own bytes under a tag of its own.
pub fn canonical(value: &Scalar) -> Vec<u8> {
    let tagged = |tag: u8, body: &[u8]| {
        let mut out = Vec::with_capacity(body.len() + 1);
        out.push(tag);
        out.extend_from_slice(body);
        out
    };
    let number = |tag: u8, text: &str| match canonical_number(text) {
        Some(n) => tagged(tag, n.as_bytes()),
        None => tagged(b'?', text.as_bytes()),
    };
    match value {
        Scalar::Number(text) => number(b'n', text),
        Scalar::Float { value, .. } => tagged(b'n', canonical_float(*value).as_bytes()),
        Scalar::Text(bytes) => tagged(b't', bytes),
        Scalar::Bytes(bytes) => tagged(b'b', bytes),
        Scalar::Boolean(b) => tagged(b'l', if *b { b"1" } else { b"0" }),
        Scalar::Instant(micros) => number(b'i', micros),
        Scalar::TimeOfDay(micros) => number(b'h', micros),
        Scalar::Interval(fields) => {
            let fields: Vec<String> = fields
                .split_whitespace()
                .map(|f| canonical_number(f).unwrap_or_else(|| f.to_owned()))
                .collect();
            tagged(b'v', fields.join(" ").as_bytes())
        }
        Scalar::Json(text) => match canonical_json(text) {
            Some(json) => tagged(b'j', json.as_bytes()),
            None => tagged(b'x', text.as_bytes()),
        },
        Scalar::Uuid(text) => tagged(b'u', text.to_ascii_lowercase().as_bytes()),
        Scalar::Other(bytes) => tagged(b'o', bytes),
    }
}

impl Equality {
    /// One side's value in the pair's canonical form: the old and the new value are
    /// equal exactly when these bytes are. (A text compared with a number is read as a
    /// number; an exact number compared with a float is the double nearest to it; a
    /// text compared with JSON is read as JSON.)
    pub fn canonical(&self, side: Side, value: &Scalar) -> Vec<u8> {
        let other = match side {
            Side::Old => &self.new,
            Side::New => &self.old,
        };
        let float_pair = self.old.is_float() || self.new.is_float();
        let text = |v: &Scalar| match v {
            Scalar::Text(b) | Scalar::Other(b) | Scalar::Bytes(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            Scalar::Number(s) | Scalar::Json(s) | Scalar::Uuid(s) => s.clone(),
            other => render(other),
        };
        match (self.method, value) {
            (Method::AsText, v) => canonical(&Scalar::Text(text(v).into_bytes())),
            (Method::JsonStructure, v) => canonical(&Scalar::Json(text(v))),
            (Method::Plain | Method::TextAsNumber { .. }, v)
                if other.family() == Family::Number =>
            {
                let exact = match v {
                    Scalar::Number(n) => n.clone(),
                    Scalar::Text(b) => match std::str::from_utf8(b) {
                        Ok(s) if canonical_number(s).is_some() => s.to_owned(),
                        _ => return canonical(v),
                    },
                    _ => return canonical(v),
                };
                match (float_pair, nearest_double(&exact)) {
                    (true, Some(value)) => canonical(&Scalar::Float { value, bits: 64 }),
                    _ => canonical(&Scalar::Number(exact)),
                }
            }
            (_, v) => canonical(v),
        }
    }
}

/// The value for people: text as it is (bytes that are no UTF-8 in hex, `x'ff01'`),
/// bytes always in hex, a float in the shortest digits that name it in its own width.
pub fn render(value: &Scalar) -> String {
    match value {
        Scalar::Text(bytes) | Scalar::Other(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => hex(bytes),
        },
        Scalar::Bytes(bytes) => hex(bytes),
        Scalar::Float { value, bits: 32 } => shortest(f64::from(*value as f32), true),
        Scalar::Float { value, .. } => shortest(*value, false),
        Scalar::Boolean(b) => b.to_string(),
        Scalar::Number(s)
        | Scalar::Instant(s)
        | Scalar::TimeOfDay(s)
        | Scalar::Interval(s)
        | Scalar::Json(s)
        | Scalar::Uuid(s) => s.clone(),
    }
}

/// `x'ff01'`: bytes as an SQL literal.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + 3);
    out.push_str("x'");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out.push('\'');
    out
}

/// A float as its shortest decimal (`0.1`, `1e300` rather than 301 digits).
fn shortest(value: f64, single: bool) -> String {
    let plain = if single {
        (value as f32).to_string()
    } else {
        value.to_string()
    };
    if plain.len() > 24 {
        if single {
            format!("{:e}", value as f32)
        } else {
            format!("{value:e}")
        }
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ValueType, between};
    use super::*;

    fn text(s: &str) -> Scalar {
        Scalar::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn canonical_forms_keep_families_apart() {
        assert_eq!(
            canonical(&Scalar::Number("1.50".into())),
            canonical(&Scalar::Float {
                value: 1.5,
                bits: 64
            })
        );
        assert_ne!(
            canonical(&text("1.5")),
            canonical(&Scalar::Number("1.5".into()))
        );
        assert_ne!(canonical(&text("Ada")), canonical(&text("ADA")));
        assert_ne!(canonical(&text("a")), canonical(&text("a  ")));
        assert_ne!(
            canonical(&Scalar::Bytes(vec![0xff, 1])),
            canonical(&Scalar::Bytes(vec![0xfe, 1]))
        );
        assert_ne!(
            canonical(&Scalar::Text(vec![b'A'])),
            canonical(&Scalar::Bytes(vec![b'A']))
        );
        assert_eq!(
            canonical(&Scalar::Interval("12 0 0".into())),
            canonical(&Scalar::Interval("12.000 0 0".into()))
        );
        assert_ne!(
            canonical(&Scalar::Interval("0 1 0".into())),
            canonical(&Scalar::Interval("0 0 86400000000".into())),
            "1 day is not 24 hours"
        );
        assert_eq!(
            canonical(&Scalar::Json(r#"{"b":1, "a":2}"#.into())),
            canonical(&Scalar::Json(r#"{"a":2,"b":1.0}"#.into()))
        );
        assert_ne!(
            canonical(&Scalar::Json(r#"{"a":"#.into())),
            canonical(&Scalar::Json(r#"{"a":1}"#.into()))
        );
    }

    #[test]
    fn a_pair_is_compared_in_its_family() {
        let text_type = ValueType::plain_text();
        let decimal = ValueType::Decimal { scale: Some(2) };
        let double = ValueType::Float { bits: 64 };
        let eq = between(&text_type, &decimal);
        assert_eq!(
            eq.canonical(Side::Old, &text("1.5")),
            eq.canonical(Side::New, &Scalar::Number("1.50".into()))
        );
        assert_ne!(
            eq.canonical(Side::Old, &text("abc")),
            eq.canonical(Side::New, &Scalar::Number("0".into()))
        );
        let eq = between(&decimal, &double);
        assert_eq!(
            eq.canonical(Side::Old, &Scalar::Number("0.10".into())),
            eq.canonical(
                Side::New,
                &Scalar::Float {
                    value: 0.1,
                    bits: 64
                }
            ),
            "an exact number is compared with a float as the double nearest to it"
        );
        let eq = between(&ValueType::Float { bits: 32 }, &double);
        assert_ne!(
            eq.canonical(
                Side::Old,
                &Scalar::Float {
                    value: f64::from(1.000_000_1_f32),
                    bits: 32
                }
            ),
            eq.canonical(
                Side::New,
                &Scalar::Float {
                    value: 1.0,
                    bits: 64
                }
            )
        );
        let eq = between(&text_type, &ValueType::Json { binary: true });
        assert_eq!(
            eq.canonical(Side::Old, &text(r#"{"a": 1}"#)),
            eq.canonical(Side::New, &Scalar::Json(r#"{"a":1}"#.into()))
        );
    }

    #[test]
    fn values_for_people() {
        assert_eq!(render(&Scalar::Bytes(vec![0xff, 0x01])), "x'ff01'");
        assert_eq!(render(&Scalar::Text(vec![0xff, 0x01])), "x'ff01'");
        assert_eq!(render(&text("Zoë")), "Zoë");
        assert_eq!(
            render(&Scalar::Float {
                value: f64::from(0.1f32),
                bits: 32
            }),
            "0.1"
        );
        assert_eq!(
            render(&Scalar::Float {
                value: f64::from(0.1f32),
                bits: 64
            }),
            "0.10000000149011612"
        );
        assert_eq!(
            render(&Scalar::Float {
                value: 1e300,
                bits: 64
            }),
            "1e300"
        );
        assert_eq!(
            render(&Scalar::Float {
                value: 0.1 + 0.2,
                bits: 64
            }),
            "0.30000000000000004"
        );
    }
}
