//! Escaping for the two outputs. Every string that comes from a plan, the store or a
//! person (ids are validated, but descriptions, notes, actors, keys, values and errors
//! are anything) goes through one of these before it is written into the page.

/// Text for HTML element content and attribute values (both quote styles).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text for a GitHub-flavoured Markdown table cell or paragraph: the characters that
/// would format, link or end a cell are backslash-escaped, HTML is neutralised (GitHub
/// renders inline HTML), and line breaks become spaces so a cell stays one row.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<script>alert("x & 'y'")</script>"#),
            "&lt;script&gt;alert(&quot;x &amp; &#39;y&#39;&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn markdown_keeps_a_cell_a_cell() {
        assert_eq!(
            md("a|b\nc *d* <img src=x> [l](u)"),
            r"a\|b c \*d\* &lt;img src=x&gt; \[l\](u)"
        );
    }
}
