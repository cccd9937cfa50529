//! Passwords: where a database URL holds one, and how to keep it out of every message
//! attrmig prints, whatever a driver echoes.
//!
//! Drivers quote what they were given: libpq prints a URL it can't parse whole, and a
//! bad `%` escape in the password as the password itself. So three layers:
//!
//! - [`check_credentials`] refuses, before any driver sees it, a URL whose user name or
//!   password a driver would misread (an unencoded `/` or `@`, a bad `%` escape, an
//!   unclosed `[`), naming the problem but not the password;
//! - every URL parsed is [`remember`]ed: its password, raw and percent-decoded, and any
//!   `password=` parameter's;
//! - [`scrub`] replaces, in any text, every remembered password, the password part of
//!   anything shaped like a URL, and the value of every `password=`, with `***`. The error
//!   types of this crate scrub the driver's text, and the CLI scrubs everything it prints.
//!
//! The cost of the last layer: a password that is also an ordinary word is starred
//! wherever that word appears in what attrmig prints. A leaked password costs more.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// What replaces a password.
pub const MASK: &str = "***";

/// Every password seen in a URL by this process.
static KNOWN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The span of the password in `scheme://user:password@host/...`, if `url` has one.
///
/// Read as widely as it can be: from the first `:` to the **last** `@`. A password may
/// hold `@`, `/`, `?` or `:` unencoded, and where a driver thinks it ends differs (libpq
/// stops at the first `/` or `@` and takes the rest for a host or port), so the widest
/// reading is the one hidden. Hiding a little more of a URL that is refused anyway
/// ([`check_credentials`]) costs nothing.
fn password_span(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let at = rest.rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some(start + colon + 1..start + at)
}

/// The values of `password=` parameters (URL query or libpq keyword string), as spans.
fn parameter_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let lower = text.to_ascii_lowercase();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password=") {
        let start = from + i + "password=".len();
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | '`' | ';'))
            .map_or(text.len(), |e| start + e);
        if end > start {
            spans.push(start..end);
        }
        from = end.max(start);
    }
    spans
}

/// `%XX` decoded, or `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Remembers the passwords `url` holds, so that [`scrub`] hides them wherever they turn
/// up later, in whatever form a driver quotes them.
pub fn remember(url: &str) {
    let mut found: Vec<String> = Vec::new();
    for span in password_span(url).into_iter().chain(parameter_spans(url)) {
        let raw = &url[span];
        found.push(raw.to_owned());
        found.extend(percent_decode(raw));
    }
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    known.extend(found.into_iter().filter(|s| !s.is_empty()));
}

/// `text` with passwords hidden: every remembered one, the password of anything shaped
/// like `scheme://user:password@host`, and every `password=` value.
pub fn scrub(text: &str) -> String {
    let mut out = mask_urls(text);
    let spans = parameter_spans(&out);
    for span in spans.into_iter().rev() {
        out.replace_range(span, MASK);
    }
    let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    // Longest first, so a password is not half-replaced by a shorter one inside it.
    let mut secrets: Vec<&String> = known.iter().collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// Every `scheme://...` token in `text` with its password masked.
fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The token runs back over the scheme and forward to whitespace or a quote.
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |s| s + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
            .map_or(rest.len(), |e| i + e);
        out.push_str(&rest[..start]);
        out.push_str(&mask_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `url` with the password of its user information, and of its `password=` parameters,
/// replaced by [`MASK`].
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_owned();
    let mut spans: Vec<_> = password_span(url)
        .into_iter()
        .chain(parameter_spans(url))
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.start));
    for span in spans {
        out.replace_range(span, MASK);
    }
    out
}

/// Why a server URL's credentials or host would be misread by a driver, in words that
/// name neither the password nor any part of it; `None` when they are well formed.
///
/// A driver reads the user information up to the first `/`, `?`, `#` or `@`: a password
/// holding one of those would be split, and libpq prints the pieces as a host or a port.
/// So the only `@` allowed unencoded is the one that ends the user information, before
/// the host.
pub fn check_credentials(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let in_authority = authority.matches('@').count();
    if in_authority > 1 || rest.matches('@').count() > in_authority {
        return Some(
            "an `@` that does not end the user name and password: percent-encode `@` as %40, and `/`, `?`, `#` in a password as %2F, %3F, %23".into(),
        );
    }
    let (credentials, host) = match authority.rfind('@') {
        Some(at) => (&authority[..at], &authority[at + 1..]),
        None => ("", authority),
    };
    if percent_decode(credentials).is_none() {
        return Some(
            "the user name or password has a `%` that is not followed by two hex digits, or escapes that are not UTF-8: percent-encode a `%` itself as %25".into(),
        );
    }
    if parameter_spans(url)
        .into_iter()
        .any(|span| percent_decode(&url[span]).is_none())
    {
        return Some(
            "the password= parameter has a `%` that is not followed by two hex digits: percent-encode a `%` itself as %25".into(),
        );
    }
    if host.starts_with('[') && !host.contains(']') {
        return Some(format!(
            "the host `{host}` opens `[` without closing it: an IPv6 address is written in brackets, `[::1]:5432`"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_found_however_it_is_written() {
        let span = |u: &str| password_span(u).map(|r| u[r].to_owned());
        assert_eq!(span("postgres://app:pw@h/db").as_deref(), Some("pw"));
        assert_eq!(span("postgres://app:p/w@h/db").as_deref(), Some("p/w"));
        assert_eq!(span("postgres://app:p@w@h:5/db").as_deref(), Some("p@w"));
        assert_eq!(
            span("postgres://app:p:w@[::1]:5/db").as_deref(),
            Some("p:w")
        );
        assert_eq!(span("postgres://app@h/db"), None);
        assert_eq!(span("postgres://h/db?user=a@b"), None);
        assert_eq!(span("postgres://h/db"), None);
    }

    #[test]
    fn urls_and_parameters_are_masked_in_any_text() {
        assert_eq!(
            mask_url("postgres://app:s3cret@db:5432/prod"),
            "postgres://app:***@db:5432/prod"
        );
        assert_eq!(
            mask_url("postgres://app@db/prod?sslmode=require&password=x%ZZ"),
            "postgres://app@db/prod?sslmode=require&password=***"
        );
        assert_eq!(
            scrub("URI: \"postgres://app:Zq9@[::1:5432/db\" (was `mysql://r:Yq8@h/d`)"),
            "URI: \"postgres://app:***@[::1:5432/db\" (was `mysql://r:***@h/d`)"
        );
        assert_eq!(
            scrub("host=h password=Xq7 dbname=d"),
            "host=h password=*** dbname=d"
        );
        assert_eq!(
            scrub("no secrets here: https://example.com/x"),
            "no secrets here: https://example.com/x"
        );
    }

    #[test]
    fn remembered_passwords_are_hidden_in_any_form() {
        remember("postgres://app:Wq1%25Vq2@h/db");
        remember("postgres://h/db?password=Uq3");
        let said = "token: \"Wq1%25Vq2\"; decoded Wq1%Vq2; Uq3 echoed";
        let scrubbed = scrub(said);
        for secret in ["Wq1%25Vq2", "Wq1%Vq2", "Uq3"] {
            assert!(!scrubbed.contains(secret), "{scrubbed}");
        }
    }

    #[test]
    fn credentials_a_driver_would_misread_are_named_without_the_password() {
        for (url, says) in [
            ("postgres://app:Pq1@[::1:5432/db", "opens `[`"),
            ("postgres://app:Pq%ZZ1@h/db", "%25"),
            ("postgres://app:Pq/1@h/db", "%2F"),
            ("postgres://app:Pq?1@h/db", "%3F"),
            ("postgres://app:Pq@1@h/db", "%40"),
            ("postgres://h/db?user=a@b", "%40"),
            ("postgres://app@h/db?password=Pq%Z", "password= parameter"),
            ("mysql://app:Pq%C3@h/db", "UTF-8"),
        ] {
            let problem = check_credentials(url).unwrap_or_else(|| panic!("{url}"));
            assert!(problem.contains(says), "{url}: {problem}");
            assert!(!problem.contains("Pq"), "{problem}");
        }
        for fine in [
            "postgres://app:p%40ss%2Fw@[::1]:5432/db?sslmode=disable",
            "postgres://app@h/db",
            "mysql://root@127.0.0.1:3306/test",
            "postgres:///db?host=/run/postgresql",
        ] {
            assert_eq!(check_credentials(fine), None, "{fine}");
        }
    }
}
