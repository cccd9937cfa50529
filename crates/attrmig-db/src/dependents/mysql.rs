//! MySQL/MariaDB: `information_schema` lists indexes (`STATISTICS`), foreign keys
//! (`KEY_COLUMN_USAGE`) and CHECK constraints; the text of views (`VIEWS`), triggers
//! (`TRIGGERS`), routines (`ROUTINES`), events (`EVENTS`) and generation expressions
//! (`COLUMNS`) is matched for the attribute. A dropped column breaks views and triggers
//! instead of being refused (ERROR 1356, "Unknown column in NEW").

use attrmig_core::dependents::{Access, Dependent, DependentKind, FoundBy, OnDrop, Scope};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::{Target, check, drop_constraint, quoted};
use crate::connection::AnyConnection;
use crate::error::DbError;
use crate::url::Backend;

/// A named object and its text.
#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    name: String,
    /// A trigger's table, a routine's type, a CHECK's level.
    #[diesel(sql_type = Nullable<Text>)]
    rel: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    definition: Option<String>,
}

fn texts(
    conn: &mut AnyConnection,
    sql: &str,
    bind: Option<&str>,
    what: &str,
) -> Result<Vec<TextRow>, DbError> {
    let query = diesel::sql_query(sql);
    let rows = match bind {
        Some(b) => query.bind::<Text, _>(b).load(conn),
        None => query.load(conn),
    };
    rows.map_err(|e| DbError::query(format!("read {what} from information_schema"), e))
}

pub(super) fn dependents(
    conn: &mut AnyConnection,
    target: &Target<'_>,
) -> Result<Vec<Dependent>, DbError> {
    let mut found = Vec::new();
    code(conn, target, &mut found)?;
    if target.column().is_some() {
        indexes(conn, target, &mut found)?;
        checks(conn, target, &mut found)?;
        generated(conn, target, &mut found)?;
    }
    if target.is_column_kind() {
        foreign_keys(conn, target, &mut found)?;
    }
    Ok(found)
}

/// Where views, triggers, routines and events keep their text; `rel` is a trigger's
/// table or a routine's type.
const CODE: &[(DependentKind, &str, &str)] = &[
    (
        DependentKind::View,
        "views",
        "SELECT TABLE_NAME AS name, CAST(NULL AS CHAR) AS rel, VIEW_DEFINITION AS definition \
         FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()",
    ),
    (
        DependentKind::Trigger,
        "triggers",
        "SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS rel, ACTION_STATEMENT AS definition \
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
    ),
    (
        DependentKind::Function,
        "routines",
        "SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS rel, ROUTINE_DEFINITION AS definition \
         FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
    ),
    (
        DependentKind::Event,
        "events",
        "SELECT EVENT_NAME AS name, CAST(NULL AS CHAR) AS rel, EVENT_DEFINITION AS definition \
         FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
    ),
];

/// Views, triggers, routines and events, by their text.
fn code(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    found: &mut Vec<Dependent>,
) -> Result<(), DbError> {
    for &(kind, what, sql) in CODE {
        for row in texts(conn, &target.in_schema(sql, "DATABASE()"), None, what)? {
            let on_old = row.rel.as_deref().is_some_and(|t| target.is_old_table(t));
            let (kind, name, scope) = match kind {
                DependentKind::Trigger if on_old => (kind, row.name, Scope::TriggerOnTable),
                DependentKind::Function if row.rel.as_deref() == Some("PROCEDURE") => (
                    DependentKind::Procedure,
                    format!("{}()", row.name),
                    Scope::Elsewhere,
                ),
                DependentKind::Function => (kind, format!("{}()", row.name), Scope::Elsewhere),
                _ => (kind, row.name, Scope::Elsewhere),
            };
            let Some(access) = row
                .definition
                .as_deref()
                .and_then(|t| target.mention(t, scope))
            else {
                continue;
            };
            let mut d = Dependent::new(kind, name, access, FoundBy::TextMatch, OnDrop::Breaks);
            if kind == DependentKind::Trigger {
                d.table = row.rel;
            }
            found.push(d);
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    non_unique: i64,
    #[diesel(sql_type = Nullable<Text>)]
    col: Option<String>,
}

/// Indexes holding the column. MySQL and MariaDB drop a one-column index with it and
/// take the column out of a longer one; a longer unique one refuses the drop (the rest
/// could hold duplicates).
fn indexes(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    found: &mut Vec<Dependent>,
) -> Result<(), DbError> {
    let Some(column) = target.column() else {
        return Ok(());
    };
    let rows: Vec<IndexRow> = diesel::sql_query(target.in_schema(
        "SELECT INDEX_NAME AS name, CAST(NON_UNIQUE AS SIGNED) AS non_unique, COLUMN_NAME AS col \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
         ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        "DATABASE()",
    ))
    .bind::<Text, _>(target.table_name())
    .load(conn)
    .map_err(|e| DbError::query("read indexes from information_schema", e))?;
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    for name in names {
        let parts: Vec<&IndexRow> = rows.iter().filter(|r| r.name == name).collect();
        let columns: Vec<String> = parts.iter().filter_map(|r| r.col.clone()).collect();
        if !columns.iter().any(|c| c.eq_ignore_ascii_case(column)) {
            continue;
        }
        let unique = parts[0].non_unique == 0;
        let kind = if name == "PRIMARY" {
            DependentKind::PrimaryKey
        } else {
            DependentKind::Index
        };
        let on_drop = match (parts.len(), unique) {
            (1, _) => OnDrop::DroppedWith,
            (_, true) => OnDrop::Blocks,
            (_, false) => OnDrop::Altered,
        };
        let access = target.refine(Access::Constrains, None, Scope::Row);
        let mut d = Dependent::new(kind, name, access, FoundBy::Catalogue, on_drop)
            .on(target.table_name())
            .columns(columns);
        d.unique = unique && kind == DependentKind::Index;
        d.drop_statement = quoted(Backend::Mysql, &target.qualified()).and_then(|t| {
            Some(match kind {
                DependentKind::PrimaryKey => format!("ALTER TABLE {t} DROP PRIMARY KEY"),
                _ => format!(
                    "ALTER TABLE {t} DROP INDEX {}",
                    quoted(Backend::Mysql, &d.name)?
                ),
            })
        });
        found.push(d);
    }
    Ok(())
}

/// CHECK constraints naming the column. MariaDB drops a column's own CHECK with it and
/// refuses the drop while a table-level one names it.
fn checks(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    found: &mut Vec<Dependent>,
) -> Result<(), DbError> {
    let mariadb = is_mariadb(conn)?;
    // MariaDB names a column's CHECK after the column and says so in LEVEL; MySQL 8 has
    // neither LEVEL nor a table name in CHECK_CONSTRAINTS, so the table comes from
    // TABLE_CONSTRAINTS.
    let sql = if mariadb {
        "SELECT CONSTRAINT_NAME AS name, LEVEL AS rel, CHECK_CLAUSE AS definition \
         FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ?"
    } else {
        "SELECT tc.CONSTRAINT_NAME AS name, CAST(NULL AS CHAR) AS rel, cc.CHECK_CLAUSE AS definition \
         FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.CHECK_CONSTRAINTS cc \
           ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME \
         WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.TABLE_NAME = ? AND tc.CONSTRAINT_TYPE = 'CHECK'"
    };
    let sql = target.in_schema(sql, "DATABASE()");
    for row in texts(conn, &sql, Some(target.table_name()), "CHECK constraints")? {
        let Some(expression) = row.definition.as_deref() else {
            continue;
        };
        let own = row.rel.as_deref() == Some("Column")
            && target
                .column()
                .is_some_and(|c| c.eq_ignore_ascii_case(&row.name));
        let Some(mut d) = check(conn, target, row.name.clone(), expression, own) else {
            continue;
        };
        d.drop_statement = drop_constraint(Backend::Mysql, &target.qualified(), &row.name, false);
        found.push(d);
    }
    Ok(())
}

/// Generated columns computed from the column: the drop is refused while they exist.
fn generated(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    found: &mut Vec<Dependent>,
) -> Result<(), DbError> {
    for row in texts(
        conn,
        &target.in_schema(
            "SELECT COLUMN_NAME AS name, CAST(NULL AS CHAR) AS rel, GENERATION_EXPRESSION AS definition \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
               AND GENERATION_EXPRESSION IS NOT NULL AND GENERATION_EXPRESSION <> ''",
            "DATABASE()",
        ),
        Some(target.table_name()),
        "generated columns",
    )? {
        if target
            .column()
            .is_some_and(|c| c.eq_ignore_ascii_case(&row.name))
        {
            continue;
        }
        if let Some(access) = row
            .definition
            .as_deref()
            .and_then(|e| target.mention(e, Scope::Row))
        {
            found.push(
                Dependent::new(
                    DependentKind::GeneratedColumn,
                    row.name,
                    access,
                    FoundBy::TextMatch,
                    OnDrop::Blocks,
                )
                .on(target.table_name()),
            );
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    rel: String,
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = Text)]
    other: String,
    #[diesel(sql_type = Text)]
    other_col: String,
}

/// Foreign keys from the column and to it: both refuse the drop.
fn foreign_keys(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    found: &mut Vec<Dependent>,
) -> Result<(), DbError> {
    let Some(column) = target.column() else {
        return Ok(());
    };
    let rows: Vec<KeyRow> = diesel::sql_query(target.in_schema(
        "SELECT CONSTRAINT_NAME AS name, TABLE_NAME AS rel, COLUMN_NAME AS col, \
                REFERENCED_TABLE_NAME AS other, REFERENCED_COLUMN_NAME AS other_col \
         FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
           AND ((TABLE_NAME = ? AND COLUMN_NAME = ?) \
                OR (REFERENCED_TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = ? AND REFERENCED_COLUMN_NAME = ?))",
        "DATABASE()",
    ))
    .bind::<Text, _>(target.table_name())
    .bind::<Text, _>(column)
    .bind::<Text, _>(target.table_name())
    .bind::<Text, _>(column)
    .load(conn)
    .map_err(|e| DbError::query("read foreign keys from information_schema", e))?;
    for row in rows {
        let from_old = target.is_old_table(&row.rel) && row.col.eq_ignore_ascii_case(column);
        let (kind, via) = if from_old {
            (
                DependentKind::ForeignKey,
                format!("{} ({})", row.other, row.other_col),
            )
        } else {
            (
                DependentKind::ReferencingForeignKey,
                format!("{} ({})", row.other, row.other_col),
            )
        };
        let mut d = Dependent::new(
            kind,
            &row.name,
            Access::Constrains,
            FoundBy::Catalogue,
            OnDrop::Blocks,
        )
        .on(&row.rel)
        .columns(vec![row.col.clone()])
        .via(via);
        d.drop_statement =
            drop_constraint(Backend::Mysql, &target.sibling(&row.rel), &row.name, true);
        found.push(d);
    }
    Ok(())
}

fn is_mariadb(conn: &mut AnyConnection) -> Result<bool, DbError> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let v: Vec<Version> = diesel::sql_query("SELECT VERSION() AS version")
        .load(conn)
        .map_err(|e| DbError::query("read the server version", e))?;
    Ok(v.first().is_some_and(|v| v.version.contains("MariaDB")))
}
