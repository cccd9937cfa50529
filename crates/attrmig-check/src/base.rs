//! `--base GIT_REF`: a plan whose storage part (`[old]`, `[new]`) differs between the base
//! revision and the working tree, while its migration is under way (step 1 reached, not
//! abandoned), is a finding that names the keys this change touched.
//!
//! A plan that did not exist at the base is new, not changed; a plan that was invalid at
//! the base can't be compared, and its working-tree version is judged on its own.

use std::path::Path;

use attrmig_core::{Plan, Position};
use serde_json::Value;

use crate::error::CheckError;
use crate::git;
use crate::plans::{PlanFile, line_of};
use crate::{Finding, Recorded, Rule};

/// The plans whose storage part this change edits while their migration is under way.
pub(crate) fn changed_since(
    reference: &str,
    plans_dir: &Path,
    plans: &[PlanFile],
    recorded: &[Recorded],
) -> Result<Vec<Finding>, CheckError> {
    git::verify_commit(plans_dir, reference)?;
    let mut out = Vec::new();
    for file in plans {
        let Some(plan) = &file.plan else { continue };
        let Some(record) = recorded.iter().find(|r| r.id == file.id) else {
            continue;
        };
        // Under way: the fingerprint is recorded at 1 and forgotten by a rollback to 0.
        if !matches!(record.position, Position::At(_)) || record.storage_fingerprint.is_none() {
            continue;
        }
        let name = format!("{}.toml", file.id);
        let Some(base_text) = git::show(plans_dir, reference, &name)? else {
            continue;
        };
        let Ok(base) = attrmig_plan::parse_plan(&file.id, Path::new(&name), &base_text) else {
            continue;
        };
        if base.storage_fingerprint() == plan.storage_fingerprint() {
            continue;
        }
        let changes = storage_changes(&base, plan);
        let line = changes
            .first()
            .and_then(|c| {
                let (table, key) = c.key.split_once('.')?;
                line_of(&file.text, table, Some(key)).or_else(|| line_of(&file.text, table, None))
            })
            .or(Some(1));
        let listed: Vec<String> = changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.key, c.before, c.after))
            .collect();
        out.push(Finding {
            rule: Rule::PlanChangedSinceBase,
            migration: Some(file.id.clone()),
            path: file.path.clone(),
            line,
            message: format!(
                "this change edits the storage part of {} since {reference} ({}) while the migration is at {}: a plan change mid-migration is a new migration; revert it, or write a new plan under a new id",
                file.id,
                listed.join(", "),
                record.position
            ),
        });
    }
    Ok(out)
}

/// One key of `[old]` or `[new]` that differs.
struct Change {
    key: String,
    before: String,
    after: String,
}

/// The keys of the storage part that differ, in the plan's own key names (`new.column`).
fn storage_changes(base: &Plan, now: &Plan) -> Vec<Change> {
    let mut out = Vec::new();
    for (table, before, after) in [
        (
            "old",
            serde_json::to_value(&base.old),
            serde_json::to_value(&now.old),
        ),
        (
            "new",
            serde_json::to_value(&base.new),
            serde_json::to_value(&now.new),
        ),
    ] {
        let (Ok(Value::Object(before)), Ok(Value::Object(after))) = (before, after) else {
            continue;
        };
        let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
        keys.sort();
        keys.dedup();
        // `kind` first: when the kind changed, that is the change that explains the rest.
        keys.sort_by_key(|k| *k != "kind");
        for key in keys {
            let (b, a) = (before.get(key), after.get(key));
            if b != a {
                out.push(Change {
                    key: format!("{table}.{key}"),
                    before: show(b),
                    after: show(a),
                });
            }
        }
    }
    out
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_plans::{json_plan, users_plan};

    #[test]
    fn lists_the_keys_that_changed() {
        let base = users_plan();
        let mut now = users_plan();
        now.new.column = attrmig_core::ident::Ident::new("name").unwrap();
        let changes: Vec<String> = storage_changes(&base, &now)
            .iter()
            .map(|c| format!("{}: {} → {}", c.key, c.before, c.after))
            .collect();
        assert_eq!(changes, ["new.column: \"full_name\" → \"name\""]);

        let changes: Vec<String> = storage_changes(&base, &json_plan())
            .iter()
            .map(|c| c.key.clone())
            .collect();
        assert_eq!(changes, ["old.kind", "old.column", "old.path"]);
    }
}
