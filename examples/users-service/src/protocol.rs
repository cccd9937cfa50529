//! The service's line protocol over TCP: one request per line, one response line each.
//! Easy to drive from a test, or by hand with `nc`:
//!
//! | request | response |
//! |---|---|
//! | `PUT <id> <name>` | `OK`, or `ERR <why>` |
//! | `GET <id>` | `VALUE <name>`, `NONE`, or `ERR <why>` |
//! | `STATUS` | `STATUS {"instance": …, "step": …, "pinned": …, "stale": …, …}` |
//! | `SHUTDOWN` | `BYE`; the instance writes its last report and the process exits |
//!
//! A name is the rest of the line (spaces included). Anything else is answered
//! `ERR usage: …` and the connection stays open.

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Set a user's name.
    Put {
        /// User id.
        id: i64,
        /// The new name.
        name: String,
    },
    /// Read a user's name.
    Get {
        /// User id.
        id: i64,
    },
    /// What the instance applies, and whether it can read the state database.
    Status,
    /// Stop serving.
    Shutdown,
}

/// What to send back for a line that is not a request.
pub const USAGE: &str = "usage: PUT <id> <name> | GET <id> | STATUS | SHUTDOWN";

fn id(text: &str) -> Result<i64, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a user id (an integer); {USAGE}"))
}

/// Parses one line (without its newline).
pub fn parse(line: &str) -> Result<Request, String> {
    let line = line.trim_end_matches('\r');
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    match (verb.to_ascii_uppercase().as_str(), rest) {
        ("PUT", rest) => match rest.split_once(' ') {
            Some((i, name)) if !name.is_empty() => Ok(Request::Put {
                id: id(i)?,
                name: name.to_owned(),
            }),
            _ => Err(format!("PUT needs an id and a name; {USAGE}")),
        },
        ("GET", i) if !i.is_empty() => Ok(Request::Get { id: id(i.trim())? }),
        ("STATUS", "") => Ok(Request::Status),
        ("SHUTDOWN", "") => Ok(Request::Shutdown),
        _ => Err(USAGE.to_owned()),
    }
}

/// A response line: the text on one line (a newline in an error would end it early).
pub fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_names_keep_their_spaces() {
        assert_eq!(
            parse("PUT 42 Ada  Lovelace"),
            Ok(Request::Put {
                id: 42,
                name: "Ada  Lovelace".into()
            })
        );
        assert_eq!(parse("get 7\r"), Ok(Request::Get { id: 7 }));
        assert_eq!(parse("STATUS"), Ok(Request::Status));
        assert_eq!(parse("SHUTDOWN"), Ok(Request::Shutdown));
    }

    #[test]
    fn bad_lines_say_what_is_expected() {
        assert_eq!(
            parse("PUT x Ada").unwrap_err(),
            format!("`x` is not a user id (an integer); {USAGE}")
        );
        assert!(
            parse("PUT 42")
                .unwrap_err()
                .starts_with("PUT needs an id and a name")
        );
        assert_eq!(parse("DELETE 4").unwrap_err(), USAGE);
        assert_eq!(parse("").unwrap_err(), USAGE);
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }
}
