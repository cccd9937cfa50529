//! Entering 7 prepare-old-stop: old storage must accept writes that leave the attribute
//! out, or writers fail the moment they stop writing it. A column must be nullable or
//! defaulted (introspected); a JSON key or an EAV row can simply be absent. The
//! constraints and generated columns on the column must accept such a write too.

use serde_json::json;

use super::{GuardCheck, database, fleet, passed};
use crate::facts::Facts;
use crate::plan::{OldStorage, Plan};
use crate::{Refusal, Step};

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let mut checks = vec![
        GuardCheck::from_result("old-accepts-writes-without-attribute", check(plan, facts)),
        database::constraints_accept_absence(plan, facts),
    ];
    if plan.fleet.observed {
        checks.push(GuardCheck::from_result(
            "fleet-stopped-reading-old",
            nobody_reads_old(plan, facts),
        ));
    }
    checks
}

/// With an observed fleet: no live instance reads old storage any more (it would read
/// values writers are about to stop maintaining).
fn nobody_reads_old(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    let f = fleet::live_fleet(plan, facts)?;
    fleet::none_lagging(
        plan,
        f,
        Step::PrepareOldStop,
        "still read old storage",
        |m| !m.reads_old(),
    )?;
    let since = f.holds_since(|m| !m.reads_old());
    passed(
        format!(
            "no live instance reads old storage ({} live, {})",
            f.live().count(),
            fleet::since_words(since.as_ref())
        ),
        json!({ "fleet": fleet::fleet_evidence(f) }),
    )
}

fn check(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    let OldStorage::Column { table, column, .. } = &plan.old else {
        return passed(
            format!(
                "{} storage: a write can leave the attribute out",
                plan.old.kind()
            ),
            json!({ "kind": plan.old.kind() }),
        );
    };
    let old = facts.old_storage.as_ref().ok_or(Refusal::NotObserved {
        what: "the old table",
    })?;
    let col = old
        .table
        .column(column.as_str())
        .ok_or_else(|| Refusal::ColumnMissing {
            role: "old",
            table: table.to_string(),
            column: column.to_string(),
            todo: "old storage must stay until 10 drop-old; restore it".into(),
        })?;
    match (&col.default, col.nullable) {
        (_, true) => passed(
            format!("{table}.{column} is nullable"),
            json!({ "column": col }),
        ),
        (Some(default), false) => passed(
            format!("{table}.{column} is NOT NULL with default {default}"),
            json!({ "column": col }),
        ),
        (None, false) => Err(Refusal::OldNotOptional {
            id: plan.id.to_string(),
            table: table.to_string(),
            column: column.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::facts::{ColumnFact, OldStorageFact, TableFact};

    fn with_column(nullable: bool, default: Option<&str>) -> Facts {
        let mut f = facts(0);
        f.old_storage = Some(OldStorageFact {
            table: TableFact::present(
                "users",
                vec![ColumnFact {
                    name: "full_name".into(),
                    data_type: "varchar(255)".into(),
                    nullable,
                    default: default.map(Into::into),
                    unique: false,
                    collation: None,
                }],
            ),
            attribute_rows_present: None,
            duplicates: None,
        });
        f
    }

    #[test]
    fn nullable_or_defaulted() {
        assert!(guards(&plan(), &with_column(true, None))[0].passed());
        assert!(guards(&plan(), &with_column(false, Some("''")))[0].passed());
        let err = guards(&plan(), &with_column(false, None))[0]
            .verdict
            .clone()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("attrmig ddl users-full-name prepare-old-stop"),
            "{err}"
        );
    }
}
