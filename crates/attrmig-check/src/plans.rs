//! The plans themselves, against the store: every plan parses and validates; every
//! migration the store records still has its plan; a plan's storage part (`[old]`,
//! `[new]`) still has the fingerprint recorded when step 1 was reached.

use std::collections::BTreeSet;
use std::path::Path;

use attrmig_core::{Plan, Position, Refusal};
use attrmig_plan::LoadError;

use crate::error::CheckError;
use crate::tree::relative;
use crate::{Finding, Recorded, Rule};

/// One file of the plans folder.
pub(crate) struct PlanFile {
    /// Its stem: the migration id.
    pub id: String,
    /// Relative to the project root.
    pub path: String,
    /// Its text (lossy if it was not UTF-8, in which case it is also invalid).
    pub text: String,
    /// The validated plan, or `None` when it is invalid.
    pub plan: Option<Plan>,
    /// Why it is invalid.
    pub problems: Vec<Finding>,
}

/// Reads and validates every plan of `plans_dir`.
pub(crate) fn load(root: &Path, plans_dir: &Path) -> Result<Vec<PlanFile>, CheckError> {
    let files = attrmig_plan::plan_files(plans_dir).map_err(|e| match e {
        LoadError::Io { path, source } => CheckError::Read { path, source },
        other => CheckError::Read {
            path: plans_dir.to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    })?;
    let mut plans = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|source| CheckError::Read {
            path: file.clone(),
            source,
        })?;
        let id = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = relative(root, &file);
        let invalid = |line: Option<usize>, message: String| Finding {
            rule: Rule::PlanInvalid,
            migration: Some(id.clone()),
            path: path.clone(),
            line,
            message,
        };
        let (text, plan, problems) = match String::from_utf8(bytes) {
            Err(e) => {
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                (
                    text,
                    None,
                    vec![invalid(
                        None,
                        "the plan is not UTF-8 text; save it as UTF-8".into(),
                    )],
                )
            }
            Ok(text) => match attrmig_plan::parse_plan(&id, Path::new(&path), &text) {
                Ok(plan) => (text, Some(plan), Vec::new()),
                Err(errors) => {
                    let problems = errors
                        .problems
                        .iter()
                        .map(|p| {
                            let message = if p.key.is_empty() {
                                p.message.clone()
                            } else {
                                format!("{}: {}", p.key, p.message)
                            };
                            invalid(Some(p.line), message)
                        })
                        .collect();
                    (text, None, problems)
                }
            },
        };
        plans.push(PlanFile {
            id: id.clone(),
            path,
            text,
            plan,
            problems,
        });
    }
    Ok(plans)
}

/// Migrations recorded in the store whose plan file is gone. An abandoned migration may
/// lose its plan: it can never move again, and no rule applies to it.
pub(crate) fn missing(
    root: &Path,
    plans_dir: &Path,
    plans: &[PlanFile],
    recorded: &[Recorded],
) -> Vec<Finding> {
    let present: BTreeSet<&str> = plans.iter().map(|p| p.id.as_str()).collect();
    recorded
        .iter()
        .filter(|r| matches!(r.position, Position::At(_)) && !present.contains(r.id.as_str()))
        .map(|r| Finding {
            rule: Rule::PlanMissing,
            migration: Some(r.id.clone()),
            path: relative(root, &plans_dir.join(format!("{}.toml", r.id))),
            line: None,
            message: Refusal::PlanMissing {
                id: r.id.clone(),
                at: r.position,
            }
            .to_string(),
        })
        .collect()
}

/// Valid plans whose storage part no longer has the fingerprint recorded at step 1,
/// except those in `explained` (already reported, more precisely, against `--base`).
pub(crate) fn changed(
    plans: &[PlanFile],
    recorded: &[Recorded],
    explained: &BTreeSet<String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for file in plans {
        let (Some(plan), Some(record)) = (&file.plan, recorded.iter().find(|r| r.id == file.id))
        else {
            continue;
        };
        let (Position::At(_), Some(fingerprint)) = (record.position, &record.storage_fingerprint)
        else {
            continue;
        };
        let current = plan.storage_fingerprint();
        if current == *fingerprint || explained.contains(&file.id) {
            continue;
        }
        out.push(Finding {
            rule: Rule::PlanChanged,
            migration: Some(file.id.clone()),
            path: file.path.clone(),
            line: line_of(&file.text, "old", None).or(Some(1)),
            message: format!(
                "{} (it is at {})",
                Refusal::PlanChanged {
                    id: file.id.clone(),
                    recorded: fingerprint.clone(),
                    current
                },
                record.position
            ),
        });
    }
    out
}

/// The line of `key` in `[table]` of a TOML text, or of the `[table]` header when `key` is
/// `None`. Plans are written as `[old]` tables with one key per line; other spellings
/// (inline tables, dotted keys) give `None`, and callers point at the file instead.
pub(crate) fn line_of(text: &str, table: &str, key: Option<&str>) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.split(']').next()) {
            current = header.trim().to_owned();
            if key.is_none() && current == table {
                return Some(i + 1);
            }
            continue;
        }
        if let Some(key) = key
            && current == table
            && trimmed
                .split('=')
                .next()
                .is_some_and(|k| k.trim().trim_matches('"') == key)
            && trimmed.contains('=')
        {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tables_and_keys() {
        let text = "description = \"x\"\n\n[old]\nkind = \"column\"\ntable = \"users\"\n\n[new]\ntable = \"users_pii\"\n\"column\" = \"full_name\"\n";
        assert_eq!(line_of(text, "old", None), Some(3));
        assert_eq!(line_of(text, "old", Some("table")), Some(5));
        assert_eq!(line_of(text, "new", Some("table")), Some(8));
        assert_eq!(line_of(text, "new", Some("column")), Some(9));
        assert_eq!(line_of(text, "new", Some("key")), None);
        assert_eq!(line_of(text, "sync", None), None);
    }
}
