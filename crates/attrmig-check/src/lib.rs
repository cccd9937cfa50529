//! `attrmig check`: the plans, the state recorded in the store and the repository's code,
//! checked against each other, for CI. Every problem is a [`Finding`] tied to a file and,
//! where there is one, a line, so that CI can annotate the pull request at that spot.
//!
//! The rules, one module each:
//! - `plans`: every plan parses and validates; every migration the store
//!   records still has its plan; a plan's storage part still has the fingerprint
//!   recorded when step 1 was reached.
//! - `base`: with `--base GIT_REF`, a plan whose storage part changed between the base
//!   and the working tree while its migration is under way.
//! - `tools`: a hand-written tool listed in a plan that exists again after 8 delete-tools.
//! - `code`: after 9 stop-writing-old, a line of source naming the old attribute.
//! - `schema`: a SQL migration that drops old storage below 9, or new storage while the
//!   migration is under way.
//! - a migration whose audit log does not verify ([`Recorded::broken_chain`]).
//! - `readers`: from 6 on, a SQL migration that leaves a view, rule, policy, routine or
//!   trigger reading old storage.
//!
//! An abandoned migration is out of attrmig's hands: no rule applies to it, and its plan
//! may be deleted; only its audit log is still checked, because it is the evidence of
//! what happened. Nothing here prints; [`format`] renders findings for the CLI.

mod base;
mod code;
mod error;
mod finding;
pub mod format;
mod git;
mod plans;
mod readers;
mod schema;
mod sql;
mod tools;
mod tree;

use std::collections::BTreeSet;
use std::path::Path;

use attrmig_core::audit::ChainBreak;
use attrmig_core::{Position, Refusal};
use serde::Serialize;

pub use error::CheckError;
pub use finding::{Finding, Rule};
pub use git::repo_prefix;

/// What the store records of one migration, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Migration id.
    pub id: String,
    /// Where it stands.
    pub position: Position,
    /// The plan's storage fingerprint recorded when step 1 was reached.
    pub storage_fingerprint: Option<String>,
    /// Where its audit chain first goes wrong, if it does (the caller verifies it: that
    /// reads the store, and nothing here does).
    pub broken_chain: Option<ChainBreak>,
}

/// What to check.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The project root: paths in findings are relative to it, and tool paths and globs
    /// are resolved from it.
    pub root: &'a Path,
    /// The plans folder.
    pub plans_dir: &'a Path,
    /// Every migration the store records.
    pub recorded: &'a [Recorded],
    /// `--base`: a git revision to compare plans with.
    pub base: Option<&'a str>,
}

/// The result of a check that ran to the end.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Every finding, by file and line. Empty when all holds.
    pub findings: Vec<Finding>,
    /// Plan files read.
    pub plans: usize,
    /// Migrations recorded in the store.
    pub migrations: usize,
    /// Source and schema files the code rules read.
    pub files_scanned: usize,
}

/// Runs every rule.
pub fn check(inputs: &Inputs<'_>) -> Result<Outcome, CheckError> {
    let Inputs {
        root,
        plans_dir,
        recorded,
        base,
    } = *inputs;
    let plans = plans::load(root, plans_dir)?;
    let mut findings: Vec<Finding> = plans
        .iter()
        .flat_map(|p| p.problems.iter().cloned())
        .collect();
    findings.extend(plans::missing(root, plans_dir, &plans, recorded));
    let since_base = match base {
        Some(reference) => base::changed_since(reference, plans_dir, &plans, recorded)?,
        None => Vec::new(),
    };
    // A plan changed against --base is reported once, with the keys the change touched.
    let explained: BTreeSet<String> = since_base
        .iter()
        .filter_map(|f| f.migration.clone())
        .collect();
    findings.extend(since_base);
    findings.extend(plans::changed(&plans, recorded, &explained));
    findings.extend(tools::returned(root, &plans, recorded));
    findings.extend(broken_chains(root, plans_dir, recorded));

    let position = |id: &str| recorded.iter().find(|r| r.id == id).map(|r| r.position);
    let needs_tree = plans
        .iter()
        .filter_map(|p| p.plan.as_ref())
        .any(|p| !p.code.paths.is_empty() || !p.code.schema_paths.is_empty());
    let mut scanned = BTreeSet::new();
    if needs_tree {
        let tree = tree::FileTree::load(root)?;
        let plan_paths: BTreeSet<&str> = plans.iter().map(|p| p.path.as_str()).collect();
        for file in &plans {
            let Some(plan) = &file.plan else { continue };
            let at = position(&file.id);
            if matches!(at, Some(Position::Abandoned { .. })) {
                continue;
            }
            findings.extend(code::old_references(
                &tree,
                plan,
                at,
                &plan_paths,
                &mut scanned,
            )?);
            let mut schema_files = Vec::new();
            for schema_file in tree.matching(&tree::globset(&plan.code.schema_paths)) {
                scanned.insert(schema_file.to_owned());
                let Some(text) = tree.read(schema_file)? else {
                    continue;
                };
                findings.extend(schema::findings(schema_file, &text, plan, at));
                schema_files.push((schema_file.to_owned(), text));
            }
            findings.extend(readers::findings(&schema_files, plan, at));
        }
    }
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(Outcome {
        findings,
        plans: plans.len(),
        migrations: recorded.len(),
        files_scanned: scanned.len(),
    })
}

/// One finding per migration whose audit log does not verify, on its plan file (which
/// may be gone: the finding still names where it belongs).
fn broken_chains(root: &Path, plans_dir: &Path, recorded: &[Recorded]) -> Vec<Finding> {
    recorded
        .iter()
        .filter_map(|r| {
            let chain = r.broken_chain.clone()?;
            Some(Finding {
                rule: Rule::AuditLogBroken,
                migration: Some(r.id.clone()),
                path: tree::relative(root, &plans_dir.join(format!("{}.toml", r.id))),
                line: None,
                message: Refusal::ChainBroken {
                    id: r.id.clone(),
                    chain,
                }
                .to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use attrmig_core::Step;

    use super::*;

    const PLAN: &str = r#"
[old]
kind = "column"
table = "users"
key = "id"
column = "full_name"

[new]
table = "users_pii"
key = "user_id"
column = "full_name"

[tools]
paths = ["scripts/backfill.py"]

[code]
old_refs = ["users.full_name", { regex = "\\buser\\.full_name\\b" }]
paths = ["src/**/*.py"]
schema_paths = ["db/*.sql"]
"#;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn recorded(id: &str, position: Position, plan_text: Option<&str>) -> Recorded {
        let storage_fingerprint = plan_text.map(|t| {
            attrmig_plan::parse_plan(id, Path::new("p.toml"), t)
                .unwrap()
                .storage_fingerprint()
        });
        Recorded {
            id: id.into(),
            position,
            storage_fingerprint,
            broken_chain: None,
        }
    }

    fn rules(root: &Path, recorded: &[Recorded]) -> Vec<(Rule, String, Option<usize>)> {
        let inputs = Inputs {
            root,
            plans_dir: &root.join("plans"),
            recorded,
            base: None,
        };
        check(&inputs)
            .unwrap()
            .findings
            .into_iter()
            .map(|f| (f.rule, f.path, f.line))
            .collect()
    }

    /// A project outside git: the file tree is walked.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "plans/users-full-name.toml", PLAN);
        write(
            root,
            "src/app/models.py",
            "name = user.full_name\nother = user.full_names\n",
        );
        write(
            root,
            "src/legacy.py",
            "# reads users_pii.full_name now\nq = 'SELECT users.full_name FROM users'\n",
        );
        write(
            root,
            "db/001.sql",
            "CREATE TABLE users_pii (user_id int, full_name text);\n",
        );
        write(
            root,
            "db/002.sql",
            "-- step 10\nALTER TABLE users\n  DROP COLUMN full_name;\n",
        );
        dir
    }

    #[test]
    fn every_rule_follows_the_recorded_step() {
        let dir = project();
        let root = dir.path();
        let at = |step| vec![recorded("users-full-name", Position::At(step), Some(PLAN))];

        // At 4 the drop of old storage is early; the code may still name old storage.
        assert_eq!(
            rules(root, &at(Step::Sync)),
            [(Rule::DropOldTooEarly, "db/002.sql".into(), Some(2))]
        );

        // At 9: references are findings, the drop is allowed, the tool must stay gone.
        write(root, "scripts/backfill.py", "print('sync')\n");
        assert_eq!(
            rules(root, &at(Step::StopWritingOld)),
            [
                (Rule::ToolReturned, "scripts/backfill.py".into(), None),
                (Rule::OldReference, "src/app/models.py".into(), Some(1)),
                (Rule::OldReference, "src/legacy.py".into(), Some(2)),
            ]
        );
        // Below 8 a present tool is what the guard of 8 will refuse, not a finding.
        assert!(
            rules(root, &at(Step::PrepareOldStop))
                .iter()
                .all(|(r, ..)| *r != Rule::ToolReturned)
        );
        std::fs::remove_file(root.join("scripts/backfill.py")).unwrap();

        // Abandoned: nothing applies, not even the missing plan.
        let abandoned = [recorded(
            "users-full-name",
            Position::Abandoned { at: Step::Sync },
            Some(PLAN),
        )];
        assert_eq!(rules(root, &abandoned), []);
        std::fs::remove_file(root.join("plans/users-full-name.toml")).unwrap();
        assert_eq!(rules(root, &abandoned), []);
        // Except the audit log, the evidence of what happened.
        let tampered = [Recorded {
            broken_chain: Some(ChainBreak::Altered { version: 2 }),
            ..abandoned[0].clone()
        }];
        assert_eq!(
            rules(root, &tampered),
            [(
                Rule::AuditLogBroken,
                "plans/users-full-name.toml".into(),
                None
            )]
        );
        assert_eq!(
            rules(root, &at(Step::Sync)),
            [(Rule::PlanMissing, "plans/users-full-name.toml".into(), None)]
        );
    }

    #[test]
    fn a_changed_or_invalid_plan_is_a_finding() {
        let dir = project();
        let root = dir.path();
        std::fs::remove_file(root.join("db/002.sql")).unwrap();
        let recorded = [recorded(
            "users-full-name",
            Position::At(Step::CrossCheck),
            Some(PLAN),
        )];
        assert_eq!(rules(root, &recorded), []);
        write(
            root,
            "plans/users-full-name.toml",
            &PLAN.replace(
                "column = \"full_name\"\n\n[tools]",
                "column = \"name\"\n\n[tools]",
            ),
        );
        assert_eq!(
            rules(root, &recorded),
            [(
                Rule::PlanChanged,
                "plans/users-full-name.toml".into(),
                Some(2)
            )]
        );
        write(
            root,
            "plans/users-full-name.toml",
            "[old]\nkind = \"column\"\ntabel = \"users\"\n",
        );
        assert_eq!(
            rules(root, &recorded),
            [(
                Rule::PlanInvalid,
                "plans/users-full-name.toml".into(),
                Some(3)
            )]
        );
    }
}

#[cfg(test)]
pub(crate) mod test_plans {
    //! Plans for unit tests, parsed from TOML like real ones.

    use std::path::Path;

    use attrmig_core::Plan;

    fn parse(id: &str, text: &str) -> Plan {
        attrmig_plan::parse_plan(id, Path::new("plans/x.toml"), text).unwrap()
    }

    const NEW: &str = "[new]\ntable = \"users_pii\"\nkey = \"user_id\"\ncolumn = \"full_name\"\n";

    /// DESIGN.md's example: `users.full_name` to `users_pii.full_name`.
    pub fn users_plan() -> Plan {
        parse(
            "users-full-name",
            &format!(
                "[old]\nkind = \"column\"\ntable = \"users\"\nkey = \"id\"\ncolumn = \"full_name\"\n{NEW}"
            ),
        )
    }

    /// The attribute as a key of `users.attrs`.
    pub fn json_plan() -> Plan {
        parse(
            "users-full-name",
            &format!(
                "[old]\nkind = \"json\"\ntable = \"users\"\nkey = \"id\"\ncolumn = \"attrs\"\npath = \"full_name\"\n{NEW}"
            ),
        )
    }

    /// The attribute as rows of `user_attributes`.
    pub fn eav_plan() -> Plan {
        parse(
            "users-full-name",
            &format!(
                "[old]\nkind = \"eav\"\ntable = \"user_attributes\"\nkey = \"user_id\"\nname_column = \"name\"\nname = \"full_name\"\nvalue_column = \"value\"\n{NEW}"
            ),
        )
    }
}
