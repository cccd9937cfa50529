//! How much of what someone wrote a message may quote back. A plan with a 20 MB table
//! name was echoed whole by `validate`, `advance` and every command that read it: a
//! message quotes the beginning of a long value and says how much it left out.

use std::borrow::Cow;

/// Characters of one value a message quotes.
pub const KEPT: usize = 60;

/// A run of non-blank characters longer than this, in text attrmig did not write (a
/// parser's excerpt of a line), is cut by [`bounded`].
pub const LONGEST: usize = 200;

/// `value` quoted as Rust's `{:?}` does, or its first [`KEPT`] characters quoted and how
/// much is not shown: `"xxx…" (20971520 bytes, 20971460 not shown)`.
pub fn quoted(value: &str) -> String {
    match cut(value, KEPT) {
        None => format!("{value:?}"),
        Some((kept, rest)) => format!(
            "{:?} ({} bytes, {} not shown)",
            format!("{kept}…"),
            value.len(),
            rest
        ),
    }
}

/// `text` with every run of more than [`LONGEST`] non-blank characters cut to its first
/// [`KEPT`], saying how many bytes were not shown.
pub fn bounded(text: &str) -> Cow<'_, str> {
    let long = text
        .split(char::is_whitespace)
        .any(|word| word.chars().nth(LONGEST).is_some());
    if !long {
        return Cow::Borrowed(text);
    }
    fn flush(word: &mut String, out: &mut String) {
        match cut(word, KEPT).filter(|_| word.chars().nth(LONGEST).is_some()) {
            Some((kept, rest)) => {
                out.push_str(kept);
                out.push_str(&format!("… ({rest} bytes not shown)"));
            }
            None => out.push_str(word),
        }
        word.clear();
    }
    let mut out = String::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    Cow::Owned(out)
}

/// The first `n` characters of `s` and how many bytes follow them, if any do.
fn cut(s: &str, n: usize) -> Option<(&str, usize)> {
    let (end, _) = s.char_indices().nth(n)?;
    Some((&s[..end], s.len() - end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(quoted("users"), "\"users\"");
        assert_eq!(bounded("a short message"), "a short message");
    }

    #[test]
    fn long_values_say_how_much_is_cut() {
        let huge = "x".repeat(20 * 1024 * 1024);
        let q = quoted(&huge);
        assert!(q.len() < 120, "{q}");
        assert!(
            q.ends_with("…\" (20971520 bytes, 20971460 not shown)"),
            "{q}"
        );
        let text = format!("2 | kind = {huge}\n  |  ^ invalid");
        let b = bounded(&text);
        assert!(b.len() < 200, "{b}");
        assert!(b.contains("kind = xxx"), "{b}");
        assert!(
            b.contains("… (20971460 bytes not shown)\n  |  ^ invalid"),
            "{b}"
        );
        // Characters, not bytes: a cut never splits one.
        assert!(quoted(&"é".repeat(100)).contains("(200 bytes, 80 not shown)"));
    }
}
