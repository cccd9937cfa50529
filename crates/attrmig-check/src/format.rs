//! Findings as people and CI read them: `PATH:LINE: message` lines, or GitHub Actions
//! workflow commands (`::error file=PATH,line=N,title=...::message`) that GitHub turns
//! into annotations on the pull request's diff. JSON is the `Outcome` itself, serialized.

use crate::Finding;

/// One line per finding: `PATH:LINE: message`, or `PATH: message` without a line.
pub fn text(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| match f.line {
            Some(line) => format!("{}:{line}: {}", f.path, f.message),
            None => format!("{}: {}", f.path, f.message),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One `::error` workflow command per finding. `prefix` is where the project sits in its
/// repository (`services/api/`): GitHub wants paths from the repository's root.
pub fn github(findings: &[Finding], prefix: &str) -> String {
    findings
        .iter()
        .map(|f| {
            let mut props = format!("file={}", property(&format!("{prefix}{}", f.path)));
            if let Some(line) = f.line {
                props.push_str(&format!(",line={line}"));
            }
            props.push_str(&format!(
                ",title={}",
                property(&format!("attrmig check: {}", f.rule.name()))
            ));
            format!("::error {props}::{}", data(&f.message))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes a command's message, as GitHub's runner unescapes it: `%`, CR and LF.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value: as [`data`], plus `:` and `,`, which delimit properties.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rule;

    fn finding(path: &str, line: Option<usize>, message: &str) -> Finding {
        Finding {
            rule: Rule::OldReference,
            migration: Some("m".into()),
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    #[test]
    fn text_is_path_line_message() {
        let f = [
            finding("src/a.py", Some(3), "bad"),
            finding("tools/sync.py", None, "back"),
        ];
        assert_eq!(text(&f), "src/a.py:3: bad\ntools/sync.py: back");
    }

    #[test]
    fn github_escapes_what_the_runner_unescapes() {
        let f = [finding(
            "src/a,b:c%.py",
            Some(3),
            "100% sure\r\nreally: yes, really",
        )];
        assert_eq!(
            github(&f, "svc/"),
            "::error file=svc/src/a%2Cb%3Ac%25.py,line=3,title=attrmig check%3A old-reference::100%25 sure%0D%0Areally: yes, really"
        );
    }
}
