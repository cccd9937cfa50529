//! The canonical form of a number: its value in scientific notation with no redundant
//! digit (`1.5e0` for `1.50`, `1e2` for `100`, `0e0` for zero and minus zero), the form
//! Rust's `{:e}` gives a double, so an exact number and a float of the same value read
//! alike. `NaN`, `inf` and `-inf` stand for themselves.

/// The canonical form of a number written in decimal (`-12.50`, `1e-3`, `+7`, ` 42 `,
/// `NaN`, `Infinity`), exactly, at any precision; `None` when `text` is no number.
pub fn canonical_number(text: &str) -> Option<String> {
    let t = text.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    match body.to_ascii_lowercase().as_str() {
        "nan" => return Some("NaN".into()),
        "inf" | "infinity" => return Some(if negative { "-inf" } else { "inf" }.into()),
        _ => {}
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = digits × 10^(exponent − len(frac))
    let digits = format!("{int}{frac}");
    let leading = digits.len() - digits.trim_start_matches('0').len();
    let digits = &digits[leading..];
    if digits.is_empty() {
        return Some("0e0".into());
    }
    let significant = digits.trim_end_matches('0');
    let trailing = digits.len() - significant.len();
    let unit = exponent
        .checked_sub(i64::try_from(frac.len()).ok()?)?
        .checked_add(i64::try_from(trailing).ok()?)?;
    let scientific = unit.checked_add(i64::try_from(significant.len()).ok()? - 1)?;
    let (first, rest) = significant.split_at(1);
    let sign = if negative { "-" } else { "" };
    Some(if rest.is_empty() {
        format!("{sign}{first}e{scientific}")
    } else {
        format!("{sign}{first}.{rest}e{scientific}")
    })
}

/// The canonical form of a double: its exact value, in the shortest digits that name it.
pub fn canonical_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.into()
    } else if value == 0.0 {
        "0e0".into()
    } else {
        format!("{value:e}")
    }
}

/// A number written in decimal, as the double nearest to it.
pub(super) fn nearest_double(text: &str) -> Option<f64> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    canonical_number(t)?;
    match t.to_ascii_lowercase().as_str() {
        "infinity" => Some(f64::INFINITY),
        "-infinity" => Some(f64::NEG_INFINITY),
        _ => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_by_value() {
        for (text, canonical) in [
            ("1.50", "1.5e0"),
            ("1.5000", "1.5e0"),
            ("+1.5", "1.5e0"),
            (" 1.5 ", "1.5e0"),
            ("15e-1", "1.5e0"),
            ("10", "1e1"),
            ("10.00", "1e1"),
            ("0", "0e0"),
            ("-0.000", "0e0"),
            ("007", "7e0"),
            ("-0.25", "-2.5e-1"),
            ("12345678901234567890", "1.234567890123456789e19"),
            ("12345678901234567891", "1.2345678901234567891e19"),
            (".5", "5e-1"),
            ("5.", "5e0"),
            ("1E+300", "1e300"),
            ("NaN", "NaN"),
            ("-Infinity", "-inf"),
        ] {
            assert_eq!(canonical_number(text).as_deref(), Some(canonical), "{text}");
        }
        for not_a_number in ["", "abc", "1.2.3", "1e", "--1", ".", "1,5", "0x10"] {
            assert_eq!(canonical_number(not_a_number), None, "{not_a_number}");
        }
    }

    #[test]
    fn doubles_by_their_exact_value() {
        assert_eq!(canonical_float(1.5), "1.5e0");
        assert_eq!(canonical_float(100.0), "1e2");
        assert_eq!(canonical_float(-0.0), "0e0");
        assert_eq!(canonical_float(0.1 + 0.2), "3.0000000000000004e-1");
        assert_ne!(canonical_float(0.1 + 0.2), canonical_float(0.3));
        assert_eq!(canonical_float(f64::from(0.1f32)), "1.0000000149011612e-1");
        assert_eq!(
            canonical_float(1.5),
            canonical_number("1.50").unwrap(),
            "a float and an exact number of one value read alike"
        );
        assert_eq!(nearest_double("0.1"), Some(0.1));
        assert_eq!(nearest_double("abc"), None);
    }
}
