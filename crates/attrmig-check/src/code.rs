//! Code rules: after 9 stop-writing-old, nothing may read or write the old attribute, so a
//! line of source (`[code] paths`) matching one of the plan's `old_refs` is a finding.
//!
//! Lines are matched one at a time, so a regex can't span lines. The plans themselves and
//! the schema files (`schema_paths`) are not scanned: a plan has to name its old storage,
//! and the statement that drops it at step 10 has to as well; the schema rules judge those.

use std::collections::BTreeSet;

use attrmig_core::plan::CodeRef;
use attrmig_core::{Plan, Position, Step};
use regex::Regex;

use crate::error::CheckError;
use crate::tree::{FileTree, globset};
use crate::{Finding, Rule};

/// A compiled `old_refs` entry.
enum Matcher {
    Literal(String),
    Regex(Regex),
}

impl Matcher {
    /// The text this matcher finds in `line`, if any.
    fn find<'a>(&'a self, line: &'a str) -> Option<&'a str> {
        match self {
            Matcher::Literal(s) => line.contains(s.as_str()).then_some(s.as_str()),
            Matcher::Regex(r) => r.find(line).map(|m| m.as_str()),
        }
    }
}

/// References to the old attribute in the plan's source paths, if its migration reached
/// 9; the files read are added to `scanned`.
pub(crate) fn old_references(
    tree: &FileTree,
    plan: &Plan,
    position: Option<Position>,
    plan_files: &BTreeSet<&str>,
    scanned: &mut BTreeSet<String>,
) -> Result<Vec<Finding>, CheckError> {
    let Some(Position::At(step)) = position else {
        return Ok(Vec::new());
    };
    if step < Step::StopWritingOld || plan.code.old_refs.is_empty() {
        return Ok(Vec::new());
    }
    let matchers: Vec<Matcher> = plan
        .code
        .old_refs
        .iter()
        .filter_map(|r| match r {
            CodeRef::Literal(s) => Some(Matcher::Literal(s.clone())),
            // Validated when the plan was parsed, so it compiles.
            CodeRef::Regex(r) => Regex::new(r).ok().map(Matcher::Regex),
        })
        .collect();
    let sources = globset(&plan.code.paths);
    let schema = globset(&plan.code.schema_paths);
    let mut out = Vec::new();
    for file in tree.matching(&sources) {
        if plan_files.contains(file) || schema.is_match(file) {
            continue;
        }
        scanned.insert(file.to_owned());
        let Some(text) = tree.read(file)? else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let Some(found) = matchers.iter().find_map(|m| m.find(line)) else {
                continue;
            };
            out.push(Finding {
                rule: Rule::OldReference,
                migration: Some(plan.id.to_string()),
                path: file.to_owned(),
                line: Some(i + 1),
                message: format!(
                    "`{found}` refers to {}, the old storage of {}, which is at {}: after stop-writing-old nothing reads or writes it; use {}",
                    plan.old.describe(),
                    plan.id,
                    Position::At(step),
                    plan.new.describe()
                ),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_regexes_report_what_they_matched() {
        let lit = Matcher::Literal("users.full_name".into());
        assert_eq!(
            lit.find("SELECT users.full_name FROM users"),
            Some("users.full_name")
        );
        assert_eq!(lit.find("SELECT users_pii.full_name"), None);
        let re = Matcher::Regex(Regex::new(r"\buser\.full_name\b").unwrap());
        assert_eq!(re.find("print(user.full_name)"), Some("user.full_name"));
        assert_eq!(re.find("print(user.full_names)"), None);
    }
}
