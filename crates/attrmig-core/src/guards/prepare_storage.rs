//! Entering 1 prepare-storage: the plan is valid and the new storage exists, with a key
//! that joins to the old one; each key names one row (an EAV entity has one row of the
//! attribute).

use serde_json::json;

use super::{GuardCheck, passed};
use crate::Refusal;
use crate::collation::agree;
use crate::facts::{DuplicatesFact, Facts, TableFact};
use crate::plan::{OldStorage, Plan};
use crate::types::{TypeFamily, type_family};

pub(super) fn guards(plan: &Plan, facts: &Facts) -> Vec<GuardCheck> {
    let mut checks = vec![
        // A plan that fails validation never reaches the guards (the engine refuses first),
        // so this line only documents that it was checked.
        GuardCheck::pass(
            "plan-valid",
            format!("plans/{}.toml parsed and validated", plan.id),
            json!({ "storage_fingerprint": plan.storage_fingerprint() }),
        ),
        GuardCheck::from_result("new-storage-exists", new_storage_exists(plan, facts)),
        GuardCheck::from_result("keys-join", keys_join(plan, facts)),
    ];
    if let OldStorage::Eav { .. } = plan.old {
        checks.push(GuardCheck::from_result(
            "one-row-per-entity",
            one_row_per_entity(plan, facts),
        ));
    }
    checks
}

/// What to do about a key that does not name one row.
fn not_unique(
    role: &'static str,
    table: &TableFact,
    name: &str,
    key: &str,
    todo: String,
) -> Refusal {
    Refusal::NotUnique {
        role,
        table: name.to_owned(),
        key: key.to_owned(),
        real_key: table.primary_key().to_vec(),
        todo,
    }
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
    let mut keys = Vec::with_capacity(new.key.len());
    for name in new.key.columns() {
        keys.push(
            table
                .column(name.as_str())
                .ok_or_else(|| Refusal::ColumnMissing {
                    role: "new key",
                    table: new.table.to_string(),
                    column: name.to_string(),
                    todo: ddl_hint(plan),
                })?,
        );
    }
    // Unique as a whole: the sync upserts by the whole key, which one row must own.
    if let Err(nullable) = table.names_one_row(&new.key.names()) {
        return Err(not_unique(
            "new",
            table,
            &new.table.to_string(),
            &new.key.to_string(),
            if !nullable.is_empty() {
                make_not_null(&nullable)
            } else if new.key.is_composite() {
                format!(
                    "give `{}` a primary key or a unique index on {} (the sync upserts by it)",
                    new.table,
                    key_in_parens(&new.key)
                )
            } else {
                format!(
                    "give `{}.{}` a primary key or a unique index of its own (the sync upserts by it)",
                    new.table, new.key
                )
            },
        ));
    }
    let column = table
        .column(new.column.as_str())
        .ok_or_else(|| Refusal::ColumnMissing {
            role: "new",
            table: new.table.to_string(),
            column: new.column.to_string(),
            todo: ddl_hint(plan),
        })?;
    let key = match keys.as_slice() {
        [one] => format!("{} ({}, unique)", one.name, one.data_type),
        many => format!(
            "({}) (unique together)",
            many.iter()
                .map(|k| format!("{} {}", k.name, k.data_type))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    passed(
        format!(
            "{} exists: key {key}, column {} ({}{})",
            new.table,
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
    let mut old_keys = Vec::with_capacity(plan.old.key().len());
    for name in plan.old.key().columns() {
        old_keys.push(
            old.table
                .column(name.as_str())
                .ok_or_else(|| missing("old key", name.as_str()))?,
        );
    }
    // An EAV table holds one row per entity and attribute: its key repeats by design
    // (one-row-per-entity checks the attribute's rows).
    let eav = matches!(plan.old, OldStorage::Eav { .. });
    // Unique as a whole: `(tenant_id, id)` may repeat each column, never the pair.
    let one_row = if eav {
        Ok(())
    } else {
        old.table.names_one_row(&plan.old.key().names())
    };
    if let Err(nullable) = one_row {
        let real = old.table.primary_key();
        let todo = match real {
            _ if !nullable.is_empty() => make_not_null(&nullable),
            [] => "give the table a primary key or a unique index on the key".to_owned(),
            [one] => format!("plan `key = \"{one}\"`, the column that names one row"),
            many => format!(
                "plan `key = [{}]`, the columns that together name one row (and the same number of columns in [new])",
                many.iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(not_unique(
            "old",
            &old.table,
            &table.to_string(),
            &plan.old.key().to_string(),
            todo,
        ));
    }
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
    let mut joins = Vec::with_capacity(old_keys.len());
    // Old and new key columns pair up in order: the first with the first, and so on.
    for (old_key, new_name) in old_keys.iter().zip(plan.new.key.columns()) {
        let Some(new_key) = facts
            .new_storage
            .as_ref()
            .and_then(|t| t.column(new_name.as_str()))
        else {
            // Reported by new-storage-exists; nothing to join yet.
            return Err(Refusal::ColumnMissing {
                role: "new key",
                table: plan.new.table.to_string(),
                column: new_name.to_string(),
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
        // Paired keys must call the same values equal, or 'alice' and 'ALICE' can become
        // one key on one side and two on the other.
        if !agree(old_key.collation.as_ref(), new_key.collation.as_ref()) {
            let describe = |c: &Option<crate::collation::Collation>| {
                c.as_ref().map_or("(none)".to_owned(), |c| c.describe())
            };
            return Err(Refusal::KeyCollationsDiffer {
                old_key: format!("{table}.{}", old_key.name),
                old_collation: describe(&old_key.collation),
                new_key: format!("{}.{}", plan.new.table, new_key.name),
                new_collation: describe(&new_key.collation),
                todo: format!(
                    "Give the new key the old key's collation (`attrmig ddl {} prepare-storage` creates new storage that way), or plan a key whose collations agree",
                    plan.id
                ),
            });
        }
        joins.push((*old_key, new_key));
    }
    let detail = match joins.as_slice() {
        [(o, n)] => format!(
            "old key {table}.{} ({}) joins new key {}.{} ({})",
            o.name, o.data_type, plan.new.table, n.name, n.data_type
        ),
        many => format!(
            "old key {table}{} joins new key {}{}, column by column",
            tuple(
                many.iter()
                    .map(|(o, _)| format!("{} {}", o.name, o.data_type))
            ),
            plan.new.table,
            tuple(
                many.iter()
                    .map(|(_, n)| format!("{} {}", n.name, n.data_type))
            ),
        ),
    };
    passed(detail, json!({ "old_table": old.table }))
}

/// What to do about a unique key whose columns allow NULL.
fn make_not_null(columns: &[String]) -> String {
    format!(
        "make {} NOT NULL: a unique index lets rows with NULL in it repeat",
        columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `(a, b)` of the items.
fn tuple(items: impl Iterator<Item = String>) -> String {
    format!("({})", items.collect::<Vec<_>>().join(", "))
}

/// `(a, b)` of a key's columns (also for one: `(id)`).
fn key_in_parens(key: &crate::key::KeyColumns) -> String {
    format!("({})", key.names().join(", "))
}

/// EAV: every entity has at most one row of the attribute, ruled out by a unique key on
/// (key, name column) or counted in the data.
fn one_row_per_entity(plan: &Plan, facts: &Facts) -> Result<super::Passed, Refusal> {
    let OldStorage::Eav {
        table,
        key,
        name_column,
        name,
        ..
    } = &plan.old
    else {
        return passed("not an EAV table", json!(null));
    };
    let old = facts.old_storage.as_ref().ok_or(Refusal::NotObserved {
        what: "the old table",
    })?;
    // Nothing to count until the table and its columns exist (keys-join says which is
    // missing); the same refusal here, rather than an unobserved fact.
    for column in key.columns().iter().chain([name_column]) {
        if old.table.column(column.as_str()).is_none() {
            return Err(Refusal::ColumnMissing {
                role: "old",
                table: table.to_string(),
                column: column.to_string(),
                todo: format!("check [old] in plans/{}.toml", plan.id),
            });
        }
    }
    let duplicates = old.duplicates.as_ref().ok_or(Refusal::NotObserved {
        what: "duplicate attribute rows",
    })?;
    match duplicates {
        DuplicatesFact::RuledOutBy { key: columns } => passed(
            format!(
                "the key ({}) allows one `{name}` row per entity",
                columns.join(", ")
            ),
            json!({ "unique_key": columns }),
        ),
        DuplicatesFact::Counted { keys: 0, .. } => passed(
            format!("no entity has more than one `{name}` row (counted)"),
            json!({ "duplicate_keys": 0 }),
        ),
        DuplicatesFact::Counted { keys, first } => Err(Refusal::DuplicateAttributeRows {
            table: table.to_string(),
            name: name.clone(),
            columns: format!("{}, {name_column}", key.names().join(", ")),
            keys: *keys,
            first: first.clone(),
        }),
        DuplicatesFact::NotCounted => Err(Refusal::DuplicatesNotCounted {
            table: table.to_string(),
            name: name.clone(),
            columns: format!("{}, {name_column}", key.names().join(", ")),
        }),
    }
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
            collation: None,
        }
    }

    fn with_tables(new: TableFact) -> Facts {
        let mut f = facts(0);
        f.new_storage = Some(new);
        f.old_storage = Some(OldStorageFact {
            table: TableFact::present(
                "users",
                vec![
                    col("id", "bigint", true),
                    col("full_name", "varchar(255)", false),
                ],
            ),
            attribute_rows_present: None,
            duplicates: None,
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

        let f = with_tables(TableFact::present(
            "users_pii",
            vec![col("user_id", "bigint", true)],
        ));
        assert!(matches!(
            verdict(&f, "new-storage-exists"),
            Err(Refusal::ColumnMissing { role: "new", .. })
        ));

        let f = with_tables(TableFact::present(
            "users_pii",
            vec![
                col("user_id", "bigint", false),
                col("full_name", "text", false),
            ],
        ));
        assert!(matches!(
            verdict(&f, "new-storage-exists"),
            Err(Refusal::NotUnique { role: "new", .. })
        ));
    }

    #[test]
    fn key_families_must_match() {
        let f = with_tables(TableFact::present(
            "users_pii",
            vec![
                col("user_id", "text", true),
                col("full_name", "text", false),
            ],
        ));
        assert!(verdict(&f, "new-storage-exists").is_ok());
        assert!(matches!(
            verdict(&f, "keys-join"),
            Err(Refusal::KeyTypesDiffer { .. })
        ));

        let f = with_tables(TableFact::present(
            "users_pii",
            vec![
                col("user_id", "integer", true),
                col("full_name", "text", false),
            ],
        ));
        assert!(verdict(&f, "keys-join").is_ok());
    }

    #[test]
    fn keys_whose_collations_disagree_on_equality_are_refused() {
        let collated = |name: &str, collation: &str| ColumnFact {
            collation: Some(crate::collation::Collation {
                name: collation.into(),
                charset: Some("utf8mb4".into()),
                schema: None,
                deterministic: false,
            }),
            ..col(name, "varchar(64)", true)
        };
        let mut f = with_tables(TableFact::present(
            "users_pii",
            vec![
                collated("user_id", "utf8mb4_general_ci"),
                col("full_name", "text", false),
            ],
        ));
        f.old_storage.as_mut().unwrap().table = TableFact::present(
            "users",
            vec![
                collated("id", "utf8mb4_bin"),
                col("full_name", "text", false),
            ],
        );
        let err = verdict(&f, "keys-join").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "old key `users.id` is collated utf8mb4_bin (utf8mb4) but new key `users_pii.user_id` is collated utf8mb4_general_ci (utf8mb4)"
            ),
            "{err}"
        );
        assert!(
            err.contains("attrmig ddl users-full-name prepare-storage"),
            "{err}"
        );
        f.new_storage = Some(TableFact::present(
            "users_pii",
            vec![
                collated("user_id", "utf8mb4_bin"),
                col("full_name", "text", false),
            ],
        ));
        assert!(verdict(&f, "keys-join").is_ok());
    }

    #[test]
    fn an_old_key_that_is_not_unique_is_refused_with_the_real_key() {
        let new = TableFact::present(
            "users_pii",
            vec![
                col("user_id", "bigint", true),
                col("full_name", "text", false),
            ],
        );
        let mut f = with_tables(new);
        // film_actor planned by actor_id: its key is (actor_id, film_id).
        f.old_storage.as_mut().unwrap().table = TableFact::Present {
            table: "users".into(),
            columns: vec![
                col("id", "bigint", false),
                col("film_id", "bigint", false),
                col("full_name", "text", false),
            ],
            primary_key: vec!["id".into(), "film_id".into()],
            unique_keys: vec![vec!["id".into(), "film_id".into()]],
        };
        let err = verdict(&f, "keys-join").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "old key `users.id` is not unique: the table's key is (id, film_id); a key must name one row"
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains(
                r#"plan `key = ["id", "film_id"]`, the columns that together name one row"#
            ),
            "{err}"
        );
        // Planned with both columns, the key is unique as a whole and joins column by
        // column.
        let mut composite = plan();
        let two = |a: &str, b: &str| {
            crate::key::KeyColumns::new(vec![
                crate::ident::Ident::new(a).unwrap(),
                crate::ident::Ident::new(b).unwrap(),
            ])
            .unwrap()
        };
        if let OldStorage::Column { key, .. } = &mut composite.old {
            *key = two("id", "film_id");
        }
        composite.new.key = two("user_id", "film_id");
        f.new_storage = Some(TableFact::Present {
            table: "users_pii".into(),
            columns: vec![
                col("user_id", "bigint", false),
                col("film_id", "integer", false),
                col("full_name", "text", false),
            ],
            primary_key: vec!["user_id".into(), "film_id".into()],
            unique_keys: vec![vec!["user_id".into(), "film_id".into()]],
        });
        let checks = guards(&composite, &f);
        assert!(checks.iter().all(GuardCheck::passed), "{checks:?}");
        let join = checks.iter().find(|c| c.name == "keys-join").unwrap();
        assert_eq!(
            join.verdict.as_ref().unwrap().detail,
            "old key users(id bigint, film_id bigint) joins new key users_pii(user_id bigint, film_id integer), column by column"
        );
        // A new table unique on one of the two columns only is unique as a whole too (a
        // stricter key); one unique on neither is refused, naming the whole key.
        f.new_storage = Some(TableFact::present(
            "users_pii",
            vec![
                col("user_id", "bigint", false),
                col("film_id", "integer", false),
                col("full_name", "text", false),
            ],
        ));
        let err = guards(&composite, &f)
            .into_iter()
            .find(|c| c.name == "new-storage-exists")
            .unwrap()
            .verdict
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a primary key or a unique index on (user_id, film_id)"),
            "{err}"
        );
        // Two columns that are still not the key are refused by both, as a tuple.
        if let OldStorage::Column { key, .. } = &mut composite.old {
            *key = two("id", "full_name");
        }
        let err = guards(&composite, &f)
            .into_iter()
            .find(|c| c.name == "keys-join")
            .unwrap()
            .verdict
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "old key `users(id, full_name)` is not unique: the table's key is (id, film_id)"
            ),
            "{err}"
        );
        f.new_storage = with_tables(TableFact::present(
            "users_pii",
            vec![
                col("user_id", "bigint", true),
                col("full_name", "text", false),
            ],
        ))
        .new_storage;
        // No key at all.
        f.old_storage.as_mut().unwrap().table = TableFact::present(
            "users",
            vec![col("id", "bigint", false), col("full_name", "text", false)],
        );
        let err = verdict(&f, "keys-join").unwrap_err().to_string();
        assert!(err.contains("the table has no primary key"), "{err}");
        // An EAV key repeats by design: one-row-per-entity judges its rows.
        let eav = eav_plan();
        f.old_storage.as_mut().unwrap().table = eav_table();
        f.old_storage.as_mut().unwrap().duplicates = Some(DuplicatesFact::Counted {
            keys: 0,
            first: vec![],
        });
        let checks = guards(&eav, &f);
        assert!(checks.iter().all(GuardCheck::passed), "{checks:?}");
    }

    #[test]
    fn a_unique_index_over_a_column_that_allows_null_is_no_key() {
        // UNIQUE (tenant_id, id) with tenant_id nullable: rows with a NULL tenant repeat.
        let new = TableFact::present(
            "users_pii",
            vec![
                col("user_id", "bigint", true),
                col("full_name", "text", false),
            ],
        );
        let mut f = with_tables(new);
        let nullable = |name: &str| ColumnFact {
            nullable: true,
            ..col(name, "bigint", false)
        };
        f.old_storage.as_mut().unwrap().table = TableFact::Present {
            table: "users".into(),
            columns: vec![nullable("id"), col("full_name", "text", false)],
            primary_key: vec![],
            unique_keys: vec![vec!["id".into()]],
        };
        let err = verdict(&f, "keys-join").unwrap_err().to_string();
        assert!(
            err.contains("make `id` NOT NULL: a unique index lets rows with NULL in it repeat"),
            "{err}"
        );
        // The primary key's columns never hold NULL, whatever the catalogue says of
        // them (SQLite reports a non-INTEGER primary key column as nullable).
        f.old_storage.as_mut().unwrap().table = TableFact::Present {
            table: "users".into(),
            columns: vec![nullable("id"), col("full_name", "text", false)],
            primary_key: vec!["id".into()],
            unique_keys: vec![vec!["id".into()]],
        };
        assert!(verdict(&f, "keys-join").is_ok());
        // The new side alike.
        f.new_storage = Some(TableFact::Present {
            table: "users_pii".into(),
            columns: vec![nullable("user_id"), col("full_name", "text", false)],
            primary_key: vec![],
            unique_keys: vec![vec!["user_id".into()]],
        });
        let err = verdict(&f, "new-storage-exists").unwrap_err().to_string();
        assert!(err.contains("make `user_id` NOT NULL"), "{err}");
    }

    /// `users(id, name, value)` with no key: an EAV table whose duplicates must be counted.
    fn eav_table() -> TableFact {
        TableFact::present(
            "users",
            vec![
                col("id", "bigint", false),
                col("name", "text", false),
                col("value", "text", false),
            ],
        )
    }

    fn eav_plan() -> Plan {
        let mut plan = plan();
        plan.old = OldStorage::Eav {
            table: crate::ident::TableName::parse("users").unwrap(),
            key: crate::key::KeyColumns::one(crate::ident::Ident::new("id").unwrap()),
            name_column: crate::ident::Ident::new("name").unwrap(),
            name: "full_name".into(),
            value_column: crate::ident::Ident::new("value").unwrap(),
        };
        plan
    }

    #[test]
    fn eav_duplicates_are_refused_by_key_and_count() {
        let plan = eav_plan();
        let mut f = with_tables(TableFact::present(
            "users_pii",
            vec![
                col("user_id", "bigint", true),
                col("full_name", "text", false),
            ],
        ));
        let verdict = |f: &Facts| {
            guards(&plan, f)
                .into_iter()
                .find(|c| c.name == "one-row-per-entity")
                .unwrap()
                .verdict
        };
        assert!(
            matches!(verdict(&f), Err(Refusal::ColumnMissing { .. })),
            "the fixture has no `name` column"
        );
        f.old_storage.as_mut().unwrap().table = eav_table();
        assert!(matches!(verdict(&f), Err(Refusal::NotObserved { .. })));
        let set = |f: &mut Facts, d| f.old_storage.as_mut().unwrap().duplicates = Some(d);
        set(
            &mut f,
            DuplicatesFact::Counted {
                keys: 12,
                first: (1..=10).map(|k| k.to_string()).collect(),
            },
        );
        let err = verdict(&f).unwrap_err().to_string();
        assert!(
            err.starts_with("12 entities of `users` have more than one `full_name` row (keys 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …)"),
            "{err}"
        );
        assert!(err.contains("a unique key on (id, name)"), "{err}");
        set(
            &mut f,
            DuplicatesFact::Counted {
                keys: 1,
                first: vec!["7".into()],
            },
        );
        assert!(
            verdict(&f)
                .unwrap_err()
                .to_string()
                .starts_with("1 entity of `users` has more than one `full_name` row (key 7)")
        );
        set(&mut f, DuplicatesFact::NotCounted);
        assert!(
            verdict(&f)
                .unwrap_err()
                .to_string()
                .contains("not counted yet")
        );
        set(
            &mut f,
            DuplicatesFact::RuledOutBy {
                key: vec!["id".into(), "name".into()],
            },
        );
        assert_eq!(
            verdict(&f).unwrap().detail,
            "the key (id, name) allows one `full_name` row per entity"
        );
        // Other kinds have no such guard.
        assert!(
            guards(&super::super::test_support::plan(), &f)
                .iter()
                .all(|c| c.name != "one-row-per-entity")
        );
    }
}
