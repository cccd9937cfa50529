//! A value as it reads in a table for people, where nothing may look like something else:
//! SQL NULL stands bare as `NULL`, every other value (as [`super::render`] made it text)
//! in double quotes, with `"`, `\` and every control character escaped (`\n`, `\t`,
//! `\u{1b}`). So an empty string is `""`, trailing spaces stay inside the quotes, the text
//! `NULL` is `"NULL"`, and no value can break a row or move the terminal's cursor. JSON
//! output keeps the exact values instead: JSON has its own `null` and string escapes.

/// `NULL`, or the value quoted and escaped.
pub fn quoted(value: Option<&str>) -> String {
    match value {
        None => "NULL".to_owned(),
        Some(text) => {
            let mut out = String::with_capacity(text.len() + 2);
            out.push('"');
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() || is_invisible_format(c) => {
                        out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

/// Characters that print as nothing or reorder what follows (zero-width spaces, the
/// bidirectional overrides): shown by number like control characters.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_looks_like_something_else() {
        assert_eq!(quoted(None), "NULL");
        assert_eq!(quoted(Some("NULL")), r#""NULL""#);
        assert_eq!(quoted(Some("")), r#""""#);
        assert_eq!(quoted(Some("a  ")), r#""a  ""#);
        assert_eq!(quoted(Some("a\nb\tc\r")), r#""a\nb\tc\r""#);
        assert_eq!(quoted(Some("\u{1b}[2J")), r#""\u{1b}[2J""#);
        assert_eq!(quoted(Some(r#"say "hi" \ bye"#)), r#""say \"hi\" \\ bye""#);
        assert_eq!(
            quoted(Some("x\u{200b}y\u{202e}")),
            r#""x\u{200b}y\u{202e}""#
        );
        assert_eq!(quoted(Some("Zoë")), r#""Zoë""#);
    }
}
