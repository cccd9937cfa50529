//! Entering 1 prepare-storage: the plan is valid and the new storage exists, with a key
//! that joins to the old one.

use serde_json::json;

use super::{GuardCheck, passed};
use crate::Refusal;
use crate::facts::{Facts, TableFact};
use crate::plan::{OldStorage, Plan};
use crate::types::{TypeFamily, type_family};

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    vec![
        // A plan that fails validation never reaches the guards (the engine refuses first),
        // so this line only documents that it was checked.
        GuardCheck::pass(
            "plan-valid",
            format!("plans/{}.toml parsed and validated", plan.id),
            json!({ "storage_fingerprint": plan.storage_fingerprint() }),
        ),
        GuardCheck::from_result("new-storage-exists", new_storage_exists(plan, facts)),
        GuardCheck::from_result("keys-join", keys_join(plan, facts)),
    ]
}

fn ddl_hint(plan: &Plan) -> String {
    format!(
        "create it (`attrmig ddl {} prepare-storage` prints the statement)",
        plan.id
    )
}

fn new_storage_exists(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    let table = facts.new_storage.as_ref().ok_or(Refusal::NotObserved {
        what: "the new table",
    })?;
    let new = &plan.new;
    let TableFact::Present { .. } = table else {
        return Err(Refusal::TableMissing {
            role: "new",
            table: new.table.to_string(),
            todo: ddl_hint(plan),
        });
    };
    let key = table
        .column(new.key.as_str())
        .ok_or_else(|| Refusal::ColumnMissing {
            role: "new key",
            table: new.table.to_string(),
            column: new.key.to_string(),
            todo: ddl_hint(plan),
        })?;
    if !key.unique {
        return Err(Refusal::KeyNotUnique {
            table: new.table.to_string(),
            key: new.key.to_string(),
        });
    }
    let column = table
        .column(new.column.as_str())
        .ok_or_else(|| Refusal::ColumnMissing {
            role: "new",
            table: new.table.to_string(),
            column: new.column.to_string(),
            todo: ddl_hint(plan),
        })?;
    passed(
        format!(
            "{} exists: key {} ({}, unique), column {} ({}{})",
            new.table,
            key.name,
            key.data_type,
            column.name,
            column.data_type,
            if column.nullable {
                ", nullable"
            } else {
                ", not null"
            }
        ),
        json!({ "new_table": table }),
    )
}

fn keys_join(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    let old = facts.old_storage.as_ref().ok_or(Refusal::NotObserved {
        what: "the old table",
    })?;
    let table = plan.old.table();
    if !old.table.exists() {
        return Err(Refusal::TableMissing {
            role: "old",
            table: table.to_string(),
            todo: format!(
                "check [old] in plans/{}.toml and the --env you are using",
                plan.id
            ),
        });
    }
    let missing = |role, column: &str| Refusal::ColumnMissing {
        role,
        table: table.to_string(),
        column: column.to_owned(),
        todo: format!("check [old] in plans/{}.toml", plan.id),
    };
    let old_key = old
        .table
        .column(plan.old.key().as_str())
        .ok_or_else(|| missing("old key", plan.old.key().as_str()))?;
    // The columns that hold the old value must exist too, or nothing can be compared.
    let value_columns: Vec<&str> = match &plan.old {
        OldStorage::Column { column, .. } | OldStorage::Json { column, .. } => {
            vec![column.as_str()]
        }
        OldStorage::Eav {
            name_column,
            value_column,
            ..
        } => vec![name_column.as_str(), value_column.as_str()],
    };
    for column in value_columns {
        old.table
            .column(column)
            .ok_or_else(|| missing("old", column))?;
    }
    let Some(new_key) = facts
        .new_storage
        .as_ref()
        .and_then(|t| t.column(plan.new.key.as_str()))
    else {
        // Reported by new-storage-exists; nothing to join yet.
        return Err(Refusal::ColumnMissing {
            role: "new key",
            table: plan.new.table.to_string(),
            column: plan.new.key.to_string(),
            todo: ddl_hint(plan),
        });
    };
    let (old_family, new_family) = (
        type_family(&old_key.data_type),
        type_family(&new_key.data_type),
    );
    let comparable = old_family == new_family
        || old_family == TypeFamily::Unknown
        || new_family == TypeFamily::Unknown;
    if !comparable {
        return Err(Refusal::KeyTypesDiffer {
            old_key: format!("{table}.{}", old_key.name),
            old_type: format!("{} ({})", old_family.name(), old_key.data_type),
            new_key: format!("{}.{}", plan.new.table, new_key.name),
            new_type: format!("{} ({})", new_family.name(), new_key.data_type),
        });
    }
    passed(
        format!(
            "old key {table}.{} ({}) joins new key {}.{} ({})",
            old_key.name, old_key.data_type, plan.new.table, new_key.name, new_key.data_type
        ),
        json!({ "old_table": old.table }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::facts::{ColumnFact, OldStorageFact};

    fn col(name: &str, ty: &str, unique: bool) -> ColumnFact {
        ColumnFact {
            name: name.into(),
            data_type: ty.into(),
            nullable: !unique,
            default: None,
            unique,
        }
    }

    fn with_tables(new: TableFact) -> Facts {
        let mut f = facts(0);
        f.new_storage = Some(new);
        f.old_storage = Some(OldStorageFact {
            table: TableFact::Present {
                table: "users".into(),
                columns: vec![
                    col("id", "bigint", true),
                    col("full_name", "varchar(255)", false),
                ],
            },
            attribute_rows_present: None,
        });
        f
    }

    fn verdict(f: &Facts, name: &str) -> Result<super::super::Passed, Refusal> {
        guards(&plan(), f)
            .into_iter()
            .find(|c| c.name == name)
            .unwrap()
            .verdict
    }

    #[test]
    fn missing_table_column_or_unique_key_refused() {
        let f = with_tables(TableFact::Missing {
            table: "users_pii".into(),
        });
        let err = verdict(&f, "new-storage-exists").unwrap_err();
        assert!(
            err.to_string()
                .contains("attrmig ddl users-full-name prepare-storage"),
            "{err}"
        );

        let f = with_tables(TableFact::Present {
            table: "users_pii".into(),
            columns: vec![col("user_id", "bigint", true)],
        });
        assert!(matches!(
            verdict(&f, "new-storage-exists"),
            Err(Refusal::ColumnMissing { role: "new", .. })
        ));

        let f = with_tables(TableFact::Present {
            table: "users_pii".into(),
            columns: vec![
                col("user_id", "bigint", false),
                col("full_name", "text", false),
            ],
        });
        assert!(matches!(
            verdict(&f, "new-storage-exists"),
            Err(Refusal::KeyNotUnique { .. })
        ));
    }

    #[test]
    fn key_families_must_match() {
        let f = with_tables(TableFact::Present {
            table: "users_pii".into(),
            columns: vec![
                col("user_id", "text", true),
                col("full_name", "text", false),
            ],
        });
        assert!(verdict(&f, "new-storage-exists").is_ok());
        assert!(matches!(
            verdict(&f, "keys-join"),
            Err(Refusal::KeyTypesDiffer { .. })
        ));

        let f = with_tables(TableFact::Present {
            table: "users_pii".into(),
            columns: vec![
                col("user_id", "integer", true),
                col("full_name", "text", false),
            ],
        });
        assert!(verdict(&f, "keys-join").is_ok());
    }
}
