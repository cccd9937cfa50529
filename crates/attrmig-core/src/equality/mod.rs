//! What "equal" means for an old value and a new value: the one definition the
//! cross-check, the sync's "differs" test and the step-9 fingerprint share.
//!
//! Values are equal when they are the same value of their family, and nothing else:
//!
//! - **numbers** by numeric value: `1.50` = `1.5000` = `1.5`, an integer `10` = `10.00`;
//!   floats by their exact binary value (a float32 widened to a double exactly), and an
//!   exact number compared with a float as the double nearest to it (what the server's
//!   own `=` does, and what writing it into the float column gives);
//! - **text** byte for byte, with no collation folding case, accents or trailing spaces;
//!   a `CHAR(n)` value is its text without the padding, as every backend reads it;
//! - **bytes** byte for byte;
//! - **instants** (timestamps, dates) as points in time, a naive timestamp read in UTC;
//! - **intervals** by their fields (months, days, time): `1 day` is not `24 hours`;
//! - **booleans** by truth;
//! - **JSON** by structure (key order and spacing are not structure), scalars exactly:
//!   `1` is not `"1"`, `true` is not `1`, numbers by value at any precision;
//! - a **text compared with a number** is read as a number (`'1.50'` = `1.5`); a text
//!   that is no number equals no number. Other pairs of different families are compared
//!   as the text each side's type writes for itself.
//!
//! [`between`] decides, from the two column types alone, how a pair is compared
//! ([`Method`]) and whether writing old into new's type can change a value
//! ([`Equality::may_change`]); `attrmig_db`'s `equality` module spells each method per
//! backend. [`canonical`] is the same definition as bytes that any backend's value can be
//! brought to (via [`Scalar`]): two values are equal exactly when their canonical forms
//! in the pair's family are; the fingerprint digests them, and a comparison of old and
//! new in two different databases can compare them.

mod canonical;
mod json;
mod number;
mod quote;

pub use canonical::{Scalar, canonical, render};
pub use json::canonical_json;
pub use number::{canonical_float, canonical_number};
pub use quote::quoted;

/// The families values are compared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Integers, decimals and floats.
    Number,
    /// Character strings.
    Text,
    /// Byte strings.
    Bytes,
    /// True and false.
    Boolean,
    /// Timestamps (naive or with a time zone) and dates.
    Instant,
    /// A time of day.
    TimeOfDay,
    /// Intervals (months, days, time).
    Interval,
    /// JSON documents.
    Json,
    /// UUIDs.
    Uuid,
    /// Anything else (arrays, enums, geometry, a type attrmig does not know).
    Other,
}

/// A value's type, as far as equality is concerned. The backend's dialect reads it from
/// the type the database names (`numeric(10,2)`, `float`, `citext`, `DATETIME(6)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    /// Any integer type.
    Integer,
    /// An exact number; `scale` digits after the point when the type fixes it.
    Decimal {
        /// Digits after the point the column keeps (`None`: as many as given).
        scale: Option<u32>,
    },
    /// A binary floating-point number of `bits` (32 or 64).
    Float {
        /// 32 or 64.
        bits: u8,
    },
    /// Character strings.
    Text {
        /// Fixed width, blank-padded (`CHAR(n)`): read back without its trailing spaces.
        padded: bool,
        /// The column's collation calls some different texts equal (case or accent
        /// insensitive, pad space, `citext`), or is not known not to.
        folds: bool,
        /// The collation's name, where the backend compares only texts of one collation.
        collation: Option<String>,
    },
    /// Byte strings.
    Bytes {
        /// Fixed width, zero-padded (MySQL `BINARY(n)`).
        padded: bool,
    },
    /// True/false.
    Boolean,
    /// A calendar date: an instant at midnight UTC.
    Date,
    /// A timestamp.
    Timestamp {
        /// With a time zone (an instant); without, it is read in UTC.
        zoned: bool,
        /// Digits of fractional seconds kept.
        precision: u32,
    },
    /// A time of day.
    TimeOfDay,
    /// An interval.
    Interval,
    /// A JSON document.
    Json {
        /// Stored parsed (PostgreSQL `jsonb`), as opposed to as text.
        binary: bool,
    },
    /// A UUID.
    Uuid,
    /// Anything else.
    Other,
}

impl ValueType {
    /// A text type that folds nothing, of the database's default collation: what an
    /// expression such as a JSON value's text is.
    pub fn plain_text() -> ValueType {
        ValueType::Text {
            padded: false,
            folds: false,
            collation: None,
        }
    }

    /// The family the type's values belong to.
    pub fn family(&self) -> Family {
        match self {
            ValueType::Integer | ValueType::Decimal { .. } | ValueType::Float { .. } => {
                Family::Number
            }
            ValueType::Text { .. } => Family::Text,
            ValueType::Bytes { .. } => Family::Bytes,
            ValueType::Boolean => Family::Boolean,
            ValueType::Date | ValueType::Timestamp { .. } => Family::Instant,
            ValueType::TimeOfDay => Family::TimeOfDay,
            ValueType::Interval => Family::Interval,
            ValueType::Json { .. } => Family::Json,
            ValueType::Uuid => Family::Uuid,
            ValueType::Other => Family::Other,
        }
    }

    /// A float type.
    pub fn is_float(&self) -> bool {
        matches!(self, ValueType::Float { .. })
    }

    /// An instant read in UTC (a naive timestamp, a date), as opposed to one with a zone.
    pub fn is_naive(&self) -> bool {
        matches!(
            self,
            ValueType::Date | ValueType::Timestamp { zoned: false, .. }
        )
    }
}

/// Which side of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The old value.
    Old,
    /// The new value.
    New,
}

/// How a pair of values is compared: each backend spells each method as an exact
/// NULL-safe "differs" expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The backend's own NULL-safe comparison is exact for the pair (numbers by value,
    /// bytes, booleans, UUIDs, instants of one kind).
    Plain,
    /// Text byte for byte. `plain_is_exact`: neither side folds and both have one
    /// collation, so where the backend's own comparison of such texts is exact
    /// (PostgreSQL's deterministic collations) it is used as it is.
    ExactText {
        /// The plain comparison is exact (nothing folds, one collation).
        plain_is_exact: bool,
    },
    /// One side is text, the other a number: the text is read as a number, and a text
    /// that is no number differs from every number.
    TextAsNumber {
        /// Which side is the text.
        text: Side,
    },
    /// Instants, one naive (read in UTC) and one with a zone.
    Instant,
    /// Intervals by their fields.
    IntervalFields,
    /// JSON by structure.
    JsonStructure,
    /// Different families with no rule of their own: as the text each type writes.
    AsText,
}

/// How an old value and a new value of these types are compared, and whether writing
/// the old value into the new column can change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equality {
    /// The old value's type.
    pub old: ValueType,
    /// The new column's type.
    pub new: ValueType,
    /// How the two are compared.
    pub method: Method,
    /// Writing an old value into the new column can change it (round a decimal, narrow a
    /// float, drop trailing spaces or fractional seconds, convert between families):
    /// the sync then checks every row it wrote against old, and a row the new type
    /// changed is that key's data issue instead of a write.
    pub may_change: bool,
}

/// How values of `old` and `new` are compared: a pure decision from the two types.
pub fn between(old: &ValueType, new: &ValueType) -> Equality {
    use Family as F;
    let (method, may_change) = match (old.family(), new.family()) {
        (F::Number, F::Number) => (Method::Plain, number_may_change(old, new)),
        (F::Text, F::Text) => {
            let (
                ValueType::Text {
                    padded: old_padded,
                    folds: old_folds,
                    collation: old_collation,
                },
                ValueType::Text {
                    padded: new_padded,
                    folds: new_folds,
                    collation: new_collation,
                },
            ) = (old, new)
            else {
                unreachable!("the text family is the Text type")
            };
            let plain_is_exact = !old_folds && !new_folds && old_collation == new_collation;
            // Into CHAR(n) a text loses its trailing spaces (they read back as padding).
            (
                Method::ExactText { plain_is_exact },
                *new_padded && !old_padded,
            )
        }
        (F::Bytes, F::Bytes) => (
            Method::Plain,
            matches!(new, ValueType::Bytes { padded: true }) && old != new,
        ),
        (F::Boolean, F::Boolean) | (F::Uuid, F::Uuid) | (F::TimeOfDay, F::TimeOfDay) => {
            (Method::Plain, false)
        }
        (F::Instant, F::Instant) => {
            let method = if old.is_naive() == new.is_naive() {
                Method::Plain
            } else {
                Method::Instant
            };
            (method, instant_may_change(old, new))
        }
        (F::Interval, F::Interval) => (Method::IntervalFields, false),
        (F::Json, F::Json) => (Method::JsonStructure, false),
        (F::Text, F::Json) | (F::Json, F::Text) => (Method::JsonStructure, true),
        (F::Text, F::Number) => (Method::TextAsNumber { text: Side::Old }, true),
        (F::Number, F::Text) => (Method::TextAsNumber { text: Side::New }, true),
        (F::Other, F::Other) if old == new => (Method::Plain, false),
        _ => (Method::AsText, true),
    };
    Equality {
        old: old.clone(),
        new: new.clone(),
        method,
        may_change,
    }
}

/// Whether a number of type `old` can come out of a column of type `new` as another
/// number: a decimal rounded to fewer digits after the point, a float narrowed, an exact
/// number made a float or a float made exact, a decimal made an integer. (A number too
/// large for the new type is refused by the database itself: a data issue already.)
fn number_may_change(old: &ValueType, new: &ValueType) -> bool {
    use ValueType::{Decimal, Float, Integer};
    match (old, new) {
        (Integer, Integer | Decimal { .. }) => false,
        (Decimal { scale: old }, Decimal { scale: new }) => match (old, new) {
            (_, None) => false,
            (Some(old), Some(new)) => new < old,
            (None, Some(_)) => true,
        },
        (Float { bits: old }, Float { bits: new }) => new < old,
        _ => true,
    }
}

/// Whether an instant of type `old` can come out of a column of type `new` as another
/// instant: fewer fractional digits, or a timestamp made a date.
fn instant_may_change(old: &ValueType, new: &ValueType) -> bool {
    match (old, new) {
        (ValueType::Date, _) => false,
        (ValueType::Timestamp { .. }, ValueType::Date) => true,
        (
            ValueType::Timestamp { precision: old, .. },
            ValueType::Timestamp { precision: new, .. },
        ) => new < old,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(folds: bool) -> ValueType {
        ValueType::Text {
            padded: false,
            folds,
            collation: None,
        }
    }

    const fn decimal(scale: u32) -> ValueType {
        ValueType::Decimal { scale: Some(scale) }
    }

    const fn timestamp(zoned: bool, precision: u32) -> ValueType {
        ValueType::Timestamp { zoned, precision }
    }

    #[test]
    fn the_common_case_stays_plain() {
        for ty in [
            ValueType::Integer,
            decimal(2),
            ValueType::Float { bits: 64 },
            ValueType::Bytes { padded: false },
            ValueType::Boolean,
            ValueType::Uuid,
            timestamp(true, 6),
        ] {
            assert_eq!(
                between(&ty, &ty),
                Equality {
                    old: ty.clone(),
                    new: ty.clone(),
                    method: Method::Plain,
                    may_change: false
                },
                "{ty:?}"
            );
        }
        let same = between(&text(false), &text(false));
        assert_eq!(
            same.method,
            Method::ExactText {
                plain_is_exact: true
            }
        );
        assert!(!same.may_change);
    }

    #[test]
    fn text_that_folds_is_compared_byte_for_byte() {
        for (old, new) in [(text(true), text(false)), (text(false), text(true))] {
            assert_eq!(
                between(&old, &new).method,
                Method::ExactText {
                    plain_is_exact: false
                }
            );
        }
        let in_c = ValueType::Text {
            padded: false,
            folds: false,
            collation: Some("C".into()),
        };
        assert_eq!(
            between(&text(false), &in_c).method,
            Method::ExactText {
                plain_is_exact: false
            },
            "two collations can't be compared as they are"
        );
    }

    #[test]
    fn numbers_are_compared_by_value_and_narrowing_is_checked() {
        let cases = [
            (decimal(2), decimal(4), false),
            (decimal(4), decimal(2), true),
            (ValueType::Integer, decimal(2), false),
            (decimal(2), ValueType::Integer, true),
            (
                ValueType::Float { bits: 32 },
                ValueType::Float { bits: 64 },
                false,
            ),
            (
                ValueType::Float { bits: 64 },
                ValueType::Float { bits: 32 },
                true,
            ),
            (ValueType::Float { bits: 64 }, decimal(2), true),
            (decimal(2), ValueType::Float { bits: 64 }, true),
            (ValueType::Decimal { scale: None }, decimal(2), true),
            (decimal(2), ValueType::Decimal { scale: None }, false),
        ];
        for (old, new, may_change) in cases {
            let eq = between(&old, &new);
            assert_eq!(eq.method, Method::Plain, "{old:?} -> {new:?}");
            assert_eq!(eq.may_change, may_change, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn instants_naive_in_utc_and_precision_checked() {
        let naive = timestamp(false, 6);
        let zoned = timestamp(true, 6);
        assert_eq!(between(&naive, &zoned).method, Method::Instant);
        assert_eq!(between(&zoned, &naive).method, Method::Instant);
        assert!(!between(&naive, &zoned).may_change);
        assert_eq!(between(&ValueType::Date, &naive).method, Method::Plain);
        assert_eq!(between(&ValueType::Date, &zoned).method, Method::Instant);
        assert!(between(&timestamp(false, 6), &timestamp(false, 0)).may_change);
        assert!(!between(&timestamp(false, 0), &timestamp(false, 6)).may_change);
        assert!(between(&naive, &ValueType::Date).may_change);
    }

    #[test]
    fn families_with_rules_of_their_own() {
        assert_eq!(
            between(&ValueType::Interval, &ValueType::Interval).method,
            Method::IntervalFields,
            "an interval's own = calls 1 day and 24 hours equal"
        );
        let (json, jsonb) = (
            ValueType::Json { binary: false },
            ValueType::Json { binary: true },
        );
        assert_eq!(between(&json, &json).method, Method::JsonStructure);
        assert_eq!(between(&json, &jsonb).method, Method::JsonStructure);
        assert!(
            between(&text(false), &jsonb).may_change,
            "a text may be no JSON"
        );
        assert_eq!(
            between(&text(false), &decimal(2)).method,
            Method::TextAsNumber { text: Side::Old }
        );
        assert_eq!(
            between(&ValueType::Integer, &text(false)).method,
            Method::TextAsNumber { text: Side::New }
        );
        let other = between(&ValueType::Boolean, &text(false));
        assert_eq!((other.method, other.may_change), (Method::AsText, true));
        let padded = ValueType::Text {
            padded: true,
            folds: false,
            collation: None,
        };
        assert!(between(&text(false), &padded).may_change);
        assert!(!between(&padded, &text(false)).may_change);
    }
}
