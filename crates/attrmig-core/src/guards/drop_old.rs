//! Entering 10 drop-old: old storage is gone (introspected), and nothing wrote it after
//! the point of no return. `attrmig ddl ID drop-old --apply` compares old storage with the
//! fingerprint taken at step 9 before dropping; storage dropped any other way needs a note
//! saying how late writes were ruled out.

use serde_json::json;

use super::{GuardCheck, fleet, passed};
use crate::facts::{Facts, LateWritesFact, OldStorageFact};
use crate::plan::{OldStorage, Plan};
use crate::{Refusal, Step};

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let mut checks = Vec::new();
    if plan.fleet.observed {
        checks.push(fleet_stopped_writing_old(plan, facts));
    }
    checks.push(GuardCheck::from_result(
        "no-late-writes",
        no_late_writes(plan, facts),
    ));
    checks.push(GuardCheck::from_result(
        "old-storage-gone",
        old_storage_gone(plan, facts),
    ));
    checks
}

/// With an observed fleet: every live instance applied 9 (nobody writes old). The moment
/// since which every instance, gone ones until their last report, writes new only is
/// "when the whole fleet applied 9": writes to old storage before it are expected
/// traffic, any after it a late write.
///
/// `no-late-writes` counts only the writes logged after that moment: the engine passes
/// it to the comparison (docs/tools.md, "Late writes").
pub(super) fn fleet_stopped_writing_old(plan: &Plan, facts: &Facts) -> GuardCheck {
    GuardCheck::from_result("fleet-stopped-writing-old", stopped(plan, facts))
}

fn stopped(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    let f = fleet::live_fleet(plan, facts)?;
    fleet::none_lagging(plan, f, Step::DropOld, "still write old storage", |m| {
        !m.write_old
    })?;
    let Some((since, last)) = f.holds_since(|m| !m.write_old) else {
        return Err(Refusal::NotObserved {
            what: "when the fleet stopped writing old storage",
        });
    };
    let after_9 = facts
        .history
        .reached
        .get(&Step::StopWritingOld)
        .map(|at| {
            format!(
                ", {} after 9 was reached",
                crate::human_duration((since - *at).to_std().unwrap_or_default())
            )
        })
        .unwrap_or_default();
    passed(
        format!(
            "the whole fleet writes new only since {} ({} was the last{after_9})",
            crate::refusal::ts(&since),
            last.id
        ),
        json!({ "fleet_applied_9_at": since, "last_instance": last.id, "fleet": fleet::fleet_evidence(f) }),
    )
}

fn no_late_writes(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    match facts.late_writes.clone().ok_or(Refusal::NotObserved {
        what: "late writes",
    })? {
        LateWritesFact::Compared(found) if found.is_clean() => passed(
            "old storage matches the fingerprint taken at 9 stop-writing-old",
            json!({ "late_writes": 0, "since": found.since }),
        ),
        LateWritesFact::Compared(found) => Err(Refusal::LateWrites {
            id: plan.id.to_string(),
            found: Box::new(found),
        }),
        LateWritesFact::NotCompared => Err(Refusal::LateWritesNotCompared),
        LateWritesFact::VerifiedByDrop => passed(
            "`attrmig ddl drop-old --apply` compared old storage with the step-9 fingerprint before dropping it",
            json!({ "verified_by": "ddl drop-old" }),
        ),
        LateWritesFact::Unverified => match facts.note.as_deref().map(str::trim) {
            Some(note) if !note.is_empty() => passed(
                format!("dropped outside attrmig; note: {note}"),
                json!({ "ruled_out_by_note": note }),
            ),
            _ => Err(Refusal::DroppedUnverified),
        },
    }
}

fn old_storage_gone(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    let OldStorageFact {
        table,
        attribute_rows_present,
        ..
    } = facts.old_storage.as_ref().ok_or(Refusal::NotObserved {
        what: "the old table",
    })?;
    let still_there = match &plan.old {
        OldStorage::Column { column, .. } => table.column(column.as_str()).is_some(),
        OldStorage::Json { .. } | OldStorage::Eav { .. } => {
            table.exists()
                && attribute_rows_present.ok_or(Refusal::NotObserved {
                    what: "old attribute rows",
                })?
        }
    };
    if still_there {
        return Err(Refusal::OldStorageStillExists {
            id: plan.id.to_string(),
            what: plan.old.describe(),
        });
    }
    passed(
        format!("{} is gone", plan.old.describe()),
        json!({ "old_table": table }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::facts::{ColumnFact, TableFact};

    fn old_table(with_column: bool) -> OldStorageFact {
        let mut columns = vec![ColumnFact {
            name: "id".into(),
            data_type: "bigint".into(),
            nullable: false,
            default: None,
            unique: true,
            collation: None,
        }];
        if with_column {
            columns.push(ColumnFact {
                name: "full_name".into(),
                data_type: "text".into(),
                nullable: true,
                default: None,
                unique: false,
                collation: None,
            });
        }
        OldStorageFact {
            table: TableFact::present("users", columns),
            attribute_rows_present: None,
            duplicates: None,
        }
    }

    #[test]
    fn late_writes_name_the_count() {
        let mut f = facts(0);
        f.old_storage = Some(old_table(true));
        f.late_writes = Some(LateWritesFact::Compared(crate::facts::LateWrites {
            changed: 3,
            keys: vec![crate::facts::LateWrite {
                key: "7".into(),
                at: None,
                by: Some("user cron".into()),
            }],
            token: "0123456789ab".into(),
            ..Default::default()
        }));
        let checks = guards(&plan(), &f);
        let text = checks[0].verdict.clone().unwrap_err().to_string();
        assert!(
            text.starts_with(
                "3 keys of old storage written since 9 stop-writing-old was reached: \"7\" (by user cron) and 2 more. "
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "then run `attrmig ddl users-full-name drop-old --apply --accept-late-writes 0123456789ab --note \"...\"`"
            ),
            "{text}"
        );
        assert!(matches!(
            checks[1].verdict,
            Err(Refusal::OldStorageStillExists { .. })
        ));
    }

    #[test]
    fn views_do_not_compare() {
        let mut f = facts(0);
        f.old_storage = Some(old_table(true));
        f.late_writes = Some(LateWritesFact::NotCompared);
        let err = no_late_writes(&plan(), &f).unwrap_err();
        assert!(
            err.to_string()
                .contains("drop-old --apply` compares before dropping"),
            "{err}"
        );
    }

    #[test]
    fn dropped_by_attrmig_or_explained() {
        let mut f = facts(0);
        f.old_storage = Some(old_table(false));
        f.late_writes = Some(LateWritesFact::VerifiedByDrop);
        assert!(guards(&plan(), &f).iter().all(GuardCheck::passed));
        f.late_writes = Some(LateWritesFact::Unverified);
        assert!(matches!(
            no_late_writes(&plan(), &f),
            Err(Refusal::DroppedUnverified)
        ));
        f.note = Some("writers audited in PR 812; old column had no grants since 9".into());
        assert!(guards(&plan(), &f).iter().all(GuardCheck::passed));
    }
}
