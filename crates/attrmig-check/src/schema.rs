//! Schema rules over `[code] schema_paths` (SQL migration files):
//!
//! - a statement that drops old storage while the migration is below 9 stop-writing-old
//!   ("drop-old is refused until stop-writing-old is reached": the application still
//!   writes old storage, and before 6 still reads it);
//! - a statement that drops new storage while the migration is under way (from 1
//!   prepare-storage on, the application writes new storage; from 5b on, it reads it).
//!
//! "Drops old storage" follows what `attrmig ddl ID drop-old` itself emits for each kind:
//! the column (or its table); for JSON, the document column, its table, or an `UPDATE`
//! removing the key; for EAV, the table, one of its columns, or a `DELETE` of the
//! attribute's rows.

use attrmig_core::plan::{NewStorage, OldStorage};
use attrmig_core::{Plan, Position, Step};

use crate::sql::{Shape, Statement, Token};
use crate::{Finding, Rule};

/// What a statement does to the plan's old storage, as the start of a sentence, if it
/// removes it: `drops column users.full_name`.
fn drops_old(shape: &Shape<'_>, old: &OldStorage) -> Option<String> {
    let table = old.table().name.as_str();
    let attribute = old.describe();
    match shape {
        Shape::DropTables(tables) => tables
            .iter()
            .any(|t| t.names(table))
            .then(|| format!("drops table {table}, which holds {attribute}")),
        Shape::DropColumns { table: t, columns } if t.names(table) => {
            let storage_columns: Vec<&str> = match old {
                OldStorage::Column { column, .. } | OldStorage::Json { column, .. } => {
                    vec![column.as_str()]
                }
                OldStorage::Eav {
                    key,
                    name_column,
                    value_column,
                    ..
                } => {
                    let mut columns = key.names();
                    columns.extend([name_column.as_str(), value_column.as_str()]);
                    columns
                }
            };
            let dropped = columns
                .iter()
                .find(|c| storage_columns.iter().any(|s| c.names(s)))?;
            Some(match old {
                OldStorage::Column { .. } => format!("drops column {attribute}"),
                _ => format!(
                    "drops column {table}.{}, which holds {attribute}",
                    dropped.text()
                ),
            })
        }
        Shape::Update { table: t, rest } if t.names(table) => match old {
            OldStorage::Json { column, path, .. }
                if assigns(rest, column.as_str()) && removes_key(rest, path) =>
            {
                Some(format!("removes {attribute} from every document"))
            }
            _ => None,
        },
        Shape::Delete { table: t, rest } if t.names(table) => match old {
            OldStorage::Eav {
                name_column, name, ..
            } if rest.iter().any(|x| x.names(name_column.as_str()))
                && rest.iter().any(|x| matches!(x, Token::Str(s) if s == name)) =>
            {
                Some(format!("deletes the rows of {attribute}"))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `SET ... column = ...`: the statement writes `column`.
fn assigns(rest: &[Token], column: &str) -> bool {
    rest.windows(2)
        .any(|w| w[0].names(column) && w[1] == Token::Punct("=".into()))
}

/// The statement removes the JSON key `path`: a removal function or operator, and the
/// path spelled as one of the backends spell it.
fn removes_key(rest: &[Token], path: &attrmig_core::ident::JsonPath) -> bool {
    let remover = rest
        .iter()
        .any(|t| t.is("json_remove") || matches!(t, Token::Punct(p) if p == "#-" || p == "-"));
    let segments: Vec<&str> = path.segments().collect();
    let spellings = [
        path.to_dollar_path(),
        format!("$.{}", path.as_str()),
        format!("{{{}}}", segments.join(",")),
        path.as_str().to_owned(),
    ];
    let named = rest
        .iter()
        .any(|t| matches!(t, Token::Str(s) if spellings.contains(s)));
    remover && named
}

/// What a statement does to the plan's new storage, as the start of a sentence, if it
/// removes it.
fn drops_new(shape: &Shape<'_>, new: &NewStorage) -> Option<String> {
    let table = new.table.name.as_str();
    match shape {
        Shape::DropTables(tables) => tables
            .iter()
            .any(|t| t.names(table))
            .then(|| format!("drops table {table}, which holds {}", new.describe())),
        Shape::DropColumns { table: t, columns } if t.names(table) => columns
            .iter()
            .any(|c| c.names(new.column.as_str()))
            .then(|| format!("drops column {}", new.describe())),
        _ => None,
    }
}

/// The findings of one schema file for one plan whose migration is at `position`
/// (`None`: not registered, which is 0 planned).
pub(crate) fn findings(
    path: &str,
    text: &str,
    plan: &Plan,
    position: Option<Position>,
) -> Vec<Finding> {
    let step = match position {
        // An abandoned migration is out of attrmig's hands: its old storage is simply the
        // application's storage again, and its new storage is unused.
        Some(Position::Abandoned { .. }) => return Vec::new(),
        Some(Position::At(step)) => step,
        None => Step::Planned,
    };
    let at = Position::At(step);
    let id = plan.id.as_str();
    let mut out = Vec::new();
    for statement in crate::sql::statements(text) {
        let shape = crate::sql::shape(&statement);
        if step < Step::StopWritingOld
            && let Some(what) = drops_old(&shape, &plan.old)
        {
            out.push(finding(
                Rule::DropOldTooEarly,
                id,
                path,
                &statement,
                format!(
                    "{what}, the old storage of {id} (at {at}): drop-old is refused until stop-writing-old is reached (9); until then the application writes {}",
                    if step < Step::StopReadingOld { "and reads it" } else { "it" }
                ),
            ));
        }
        if step >= Step::PrepareStorage
            && let Some(what) = drops_new(&shape, &plan.new)
        {
            let why = if step >= Step::StopWritingOld {
                "it is the only copy of the attribute now".to_owned()
            } else {
                format!(
                    "the migration is under way and the application writes it; roll back to 0 planned or `attrmig abandon {id}` before removing it"
                )
            };
            out.push(finding(
                Rule::DropNewUnderWay,
                id,
                path,
                &statement,
                format!("{what}, the new storage of {id} (at {at}): {why}"),
            ));
        }
    }
    out
}

fn finding(rule: Rule, id: &str, path: &str, statement: &Statement, message: String) -> Finding {
    Finding {
        rule,
        migration: Some(id.to_owned()),
        path: path.to_owned(),
        line: Some(statement.line),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_plans::{eav_plan, json_plan, users_plan};

    fn rules(sql: &str, plan: &Plan, at: Option<Step>) -> Vec<(Rule, usize)> {
        findings("db/x.sql", sql, plan, at.map(Position::At))
            .into_iter()
            .map(|f| (f.rule, f.line.unwrap()))
            .collect()
    }

    #[test]
    fn drop_old_is_a_finding_below_nine_only() {
        let plan = users_plan();
        let sql = "CREATE INDEX i ON users (email);\nALTER TABLE users DROP COLUMN full_name;\n";
        assert_eq!(rules(sql, &plan, None), [(Rule::DropOldTooEarly, 2)]);
        assert_eq!(
            rules(sql, &plan, Some(Step::DeleteTools)),
            [(Rule::DropOldTooEarly, 2)]
        );
        assert_eq!(rules(sql, &plan, Some(Step::StopWritingOld)), []);
        assert_eq!(
            rules("DROP TABLE IF EXISTS users;", &plan, Some(Step::Sync)),
            [(Rule::DropOldTooEarly, 1)]
        );
        assert_eq!(
            rules("ALTER TABLE users DROP COLUMN nickname;", &plan, None),
            []
        );
        assert_eq!(
            rules("ALTER TABLE accounts DROP COLUMN full_name;", &plan, None),
            []
        );
        let abandoned = findings(
            "x.sql",
            sql,
            &plan,
            Some(Position::Abandoned { at: Step::Sync }),
        );
        assert!(abandoned.is_empty());
    }

    #[test]
    fn drop_new_is_a_finding_while_under_way() {
        let plan = users_plan();
        let sql = "DROP TABLE users_pii;\nALTER TABLE users_pii DROP full_name;";
        assert_eq!(rules(sql, &plan, None), []);
        assert_eq!(rules(sql, &plan, Some(Step::Planned)), []);
        assert_eq!(
            rules(sql, &plan, Some(Step::PrepareStorage)),
            [(Rule::DropNewUnderWay, 1), (Rule::DropNewUnderWay, 2)]
        );
        let late = findings("x.sql", sql, &plan, Some(Position::At(Step::DropOld)));
        assert!(late[0].message.contains("only copy"), "{}", late[0].message);
    }

    #[test]
    fn json_and_eav_drops_follow_what_attrmig_ddl_emits() {
        let json = json_plan();
        for sql in [
            r#"UPDATE "users" SET "attrs" = (CAST("attrs" AS jsonb) #- '{full_name}') WHERE "attrs" ? 'full_name'"#,
            r#"UPDATE `users` SET `attrs` = JSON_REMOVE(`attrs`, '$."full_name"')"#,
            "UPDATE users SET attrs = attrs - 'full_name'",
            "ALTER TABLE users DROP COLUMN attrs",
        ] {
            assert_eq!(
                rules(sql, &json, Some(Step::Sync)),
                [(Rule::DropOldTooEarly, 1)],
                "{sql}"
            );
        }
        assert_eq!(
            rules(
                "UPDATE users SET attrs = json_set(attrs, '$.nickname', 'x')",
                &json,
                None
            ),
            []
        );
        assert_eq!(
            rules("UPDATE users SET attrs = attrs - 'nickname'", &json, None),
            []
        );

        let eav = eav_plan();
        assert_eq!(
            rules(
                "DELETE FROM user_attributes WHERE name = 'full_name'",
                &eav,
                None
            ),
            [(Rule::DropOldTooEarly, 1)]
        );
        assert_eq!(
            rules(
                "DELETE FROM user_attributes WHERE name = 'nickname'",
                &eav,
                None
            ),
            []
        );
        assert_eq!(
            rules("ALTER TABLE user_attributes DROP COLUMN value", &eav, None),
            [(Rule::DropOldTooEarly, 1)]
        );
    }

    #[test]
    fn the_message_says_what_and_why() {
        let f = findings(
            "db/x.sql",
            "ALTER TABLE users DROP COLUMN full_name",
            &users_plan(),
            Some(Position::At(Step::Sync)),
        );
        assert_eq!(
            f[0].message,
            "drops column users.full_name, the old storage of users-full-name (at 4 sync): drop-old is refused until stop-writing-old is reached (9); until then the application writes and reads it"
        );
    }
}
