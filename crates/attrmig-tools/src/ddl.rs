//! The DDL of steps 1, 7 and 10, in each backend's dialect: printed for review, or
//! applied.
//!
//! - `prepare-storage` (1): create the new table, or add the new column.
//! - `prepare-old-stop` (7): make the old column nullable. SQLite has no
//!   `ALTER COLUMN`; there the table's stored `CREATE` statement is edited under
//!   `writable_schema`, the procedure SQLite documents for removing a NOT NULL constraint
//!   (no data is rewritten).
//! - `drop-old` (10): drop the old column; for JSON remove the key from every document;
//!   for EAV delete the attribute's rows.

use attrmig_core::Step;
use attrmig_core::facts::TableFact;
use attrmig_core::plan::OldStorage;
use attrmig_db::{AnyConnection, Backend, write_transaction};
use diesel::QueryableByName;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;

use crate::error::ToolError;
use crate::layout::Layout;
use crate::sql::{Bind, Sql};

/// One statement of a DDL step.
#[derive(Debug, Clone)]
pub enum Statement {
    /// Plain SQL.
    Sql(Sql),
    /// SQLite: `PRAGMA schema_version = <current + 1>`, read when applied.
    SqliteBumpSchemaVersion,
}

impl Statement {
    /// The statement as people read it, binds written as literals.
    pub fn display(&self) -> String {
        match self {
            Statement::Sql(sql) => sql.display(),
            Statement::SqliteBumpSchemaVersion => {
                "PRAGMA schema_version = <current + 1>".to_owned()
            }
        }
    }
}

/// The DDL of one step.
#[derive(Debug, Clone)]
pub struct Ddl {
    /// Which step it prepares.
    pub step: Step,
    /// What to run; empty when there is nothing to do.
    pub statements: Vec<Statement>,
    /// Why nothing (or something unusual) is done.
    pub note: Option<String>,
}

/// The DDL as printed and recorded.
#[derive(Debug, Clone, Serialize)]
pub struct DdlReport {
    /// Step id.
    pub step: &'static str,
    /// Statements as text.
    pub statements: Vec<String>,
    /// Note.
    pub note: Option<String>,
}

impl Ddl {
    /// For output and the audit log.
    pub fn report(&self) -> DdlReport {
        DdlReport {
            step: self.step.id(),
            statements: self.statements.iter().map(Statement::display).collect(),
            note: self.note.clone(),
        }
    }
}

/// The steps that have DDL.
pub const DDL_STEPS: [Step; 3] = [Step::PrepareStorage, Step::PrepareOldStop, Step::DropOld];

/// The DDL for `step`, given what the database looks like now.
pub fn plan(layout: &Layout, step: Step) -> Result<Ddl, ToolError> {
    match step {
        Step::PrepareStorage => prepare_storage(layout),
        Step::PrepareOldStop => prepare_old_stop(layout),
        Step::DropOld => drop_old(layout),
        other => Err(ToolError::Unexpected(format!(
            "{other} has no DDL; ddl is for 1 prepare-storage, 7 prepare-old-stop and 10 drop-old"
        ))),
    }
}

fn sql(layout: &Layout, text: String) -> Statement {
    let mut s = Sql::new(layout.backend());
    s.push(&text);
    Statement::Sql(s)
}

fn nothing(step: Step, note: String) -> Result<Ddl, ToolError> {
    Ok(Ddl {
        step,
        statements: Vec::new(),
        note: Some(note),
    })
}

/// The type the new column gets: the old value's own type where there is one.
fn new_value_type(layout: &Layout) -> String {
    let plan = layout.plan();
    let from_old = match &plan.old {
        OldStorage::Column { column, .. } => layout.old_table().column(column.as_str()),
        OldStorage::Eav { value_column, .. } => layout.old_table().column(value_column.as_str()),
        OldStorage::Json { .. } => None,
    };
    match from_old {
        Some(c) if !c.data_type.is_empty() => c.data_type.clone(),
        _ => "TEXT".to_owned(),
    }
}

fn prepare_storage(layout: &Layout) -> Result<Ddl, ToolError> {
    let plan = layout.plan();
    let b = layout.backend();
    let (table, key, column) = (&plan.new.table, &plan.new.key, &plan.new.column);
    let value_type = new_value_type(layout);
    let add_column = |l: &Layout| {
        sql(
            l,
            format!(
                "ALTER TABLE {} ADD COLUMN {} {value_type}",
                b.quote(table),
                b.quote(column)
            ),
        )
    };
    match layout.new_table() {
        TableFact::Present { .. } if layout.new_table().column(column.as_str()).is_some() => {
            nothing(
                Step::PrepareStorage,
                format!("{}.{column} already exists", table),
            )
        }
        TableFact::Present { .. }
            if layout.same_table() || layout.new_table().column(key.as_str()).is_some() =>
        {
            Ok(Ddl {
                step: Step::PrepareStorage,
                statements: vec![add_column(layout)],
                note: None,
            })
        }
        TableFact::Present { .. } => Err(ToolError::Unexpected(format!(
            "table {table} exists without the key column {key}; fix [new] in plans/{}.toml or the table by hand",
            plan.id
        ))),
        TableFact::Missing { .. } => {
            let key_type = layout
                .old_table()
                .column(plan.old.key().as_str())
                .map(|c| c.data_type.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "BIGINT".to_owned());
            Ok(Ddl {
                step: Step::PrepareStorage,
                statements: vec![sql(
                    layout,
                    format!(
                        "CREATE TABLE {} ({} {key_type} NOT NULL PRIMARY KEY, {} {value_type})",
                        b.quote(table),
                        b.quote(key),
                        b.quote(column)
                    ),
                )],
                note: None,
            })
        }
    }
}

fn prepare_old_stop(layout: &Layout) -> Result<Ddl, ToolError> {
    let plan = layout.plan();
    let OldStorage::Column { table, column, .. } = &plan.old else {
        return nothing(
            Step::PrepareOldStop,
            format!(
                "{} storage: a write can already leave the attribute out",
                plan.old.kind()
            ),
        );
    };
    let b = layout.backend();
    let Some(col) = layout.old_table().column(column.as_str()) else {
        return Err(ToolError::Unexpected(format!(
            "old column {table}.{column} does not exist"
        )));
    };
    if col.nullable {
        return nothing(
            Step::PrepareOldStop,
            format!("{table}.{column} is already nullable"),
        );
    }
    let statements = match b {
        Backend::Postgres => {
            vec![sql(
                layout,
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL",
                    b.quote(table),
                    b.quote(column)
                ),
            )]
        }
        Backend::Mysql => {
            // MODIFY restates the whole column, and whatever it leaves out is lost: its
            // definition is taken from SHOW CREATE TABLE (type, character set, collation,
            // default, ON UPDATE, comment, as the server itself writes them) with only
            // NOT NULL turned into NULL. LOCK=NONE: the table is rebuilt in place on both
            // MySQL 8 and MariaDB while writes go on; where the server can't do that it
            // refuses instead of blocking the application's writes for the whole rebuild.
            let create = layout
                .old_table_sql()
                .ok_or_else(|| ToolError::Unexpected(format!("no CREATE statement for {table}")))?;
            let definition = mysql_nullable_definition(create, column.as_str()).ok_or_else(|| {
                ToolError::Unexpected(format!(
                    "could not find a NOT NULL constraint on {column} in SHOW CREATE TABLE {table}; edit the table by hand"
                ))
            })?;
            vec![sql(
                layout,
                format!(
                    "ALTER TABLE {} MODIFY COLUMN {definition}, LOCK=NONE",
                    b.quote(table)
                ),
            )]
        }
        Backend::Sqlite => sqlite_drop_not_null(layout, table.as_str(), column.as_str())?,
    };
    Ok(Ddl {
        step: Step::PrepareOldStop,
        statements,
        note: None,
    })
}

fn drop_old(layout: &Layout) -> Result<Ddl, ToolError> {
    let plan = layout.plan();
    let b = layout.backend();
    let statement = match &plan.old {
        OldStorage::Column { table, column, .. } => {
            if layout.old_table().column(column.as_str()).is_none() {
                return nothing(Step::DropOld, format!("{table}.{column} is already gone"));
            }
            sql(
                layout,
                format!(
                    "ALTER TABLE {} DROP COLUMN {}",
                    b.quote(table),
                    b.quote(column)
                ),
            )
        }
        OldStorage::Json {
            table,
            column,
            path,
            ..
        } => {
            let col = b.quote(column);
            let removed = b.json_remove(&col, path);
            // PostgreSQL computes in jsonb; write back in the column's own type.
            let removed = match (b, layout.old_table().column(column.as_str())) {
                (Backend::Postgres, Some(c)) => format!("CAST({removed} AS {})", c.data_type),
                _ => removed,
            };
            sql(
                layout,
                format!(
                    "UPDATE {} SET {col} = {removed} WHERE {}",
                    b.quote(table),
                    b.json_has_key(&col, path)
                ),
            )
        }
        OldStorage::Eav {
            table,
            name_column,
            name,
            ..
        } => {
            let mut s = Sql::new(b);
            s.push(&format!(
                "DELETE FROM {} WHERE {} = ",
                b.quote(table),
                b.quote(name_column)
            ))
            .bind(Bind::Text(name.clone()));
            Statement::Sql(s)
        }
    };
    Ok(Ddl {
        step: Step::DropOld,
        statements: vec![statement],
        note: None,
    })
}

/// Runs the statements: in one transaction where DDL is transactional (SQLite,
/// PostgreSQL), one by one on MySQL, where each commits implicitly.
pub fn apply(conn: &mut AnyConnection, ddl: &Ddl) -> Result<(), ToolError> {
    let run = |conn: &mut AnyConnection| -> Result<(), ToolError> {
        for statement in &ddl.statements {
            match statement {
                Statement::Sql(sql) => {
                    sql.execute(conn)
                        .map_err(|e| ToolError::query(format!("run `{}`", sql.display()), e))?;
                }
                Statement::SqliteBumpSchemaVersion => {
                    #[derive(QueryableByName)]
                    struct Version {
                        #[diesel(sql_type = BigInt)]
                        schema_version: i64,
                    }
                    let v: Vec<Version> = Sql::new(Backend::Sqlite)
                        .push("PRAGMA schema_version")
                        .load(conn)
                        .map_err(|e| ToolError::query("read the SQLite schema version", e))?;
                    let next = v.first().map_or(1, |v| v.schema_version + 1);
                    conn.batch_execute(&format!("PRAGMA schema_version = {next}"))
                        .map_err(|e| ToolError::query("bump the SQLite schema version", e))?;
                }
            }
        }
        Ok(())
    };
    match conn.backend() {
        Backend::Sqlite | Backend::Postgres => write_transaction(conn, run)?,
        Backend::Mysql => run(conn)?,
    }
    if conn.backend() == Backend::Sqlite
        && ddl.step == Step::PrepareOldStop
        && !ddl.statements.is_empty()
    {
        check_sqlite_schema(conn)?;
    }
    Ok(())
}

fn check_sqlite_schema(conn: &mut AnyConnection) -> Result<(), ToolError> {
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = Text)]
        quick_check: String,
    }
    let rows: Vec<Check> = Sql::new(Backend::Sqlite)
        .push("PRAGMA quick_check")
        .load(conn)
        .map_err(|e| ToolError::query("check the SQLite schema after editing it", e))?;
    match rows.first() {
        Some(c) if c.quick_check == "ok" => Ok(()),
        other => Err(ToolError::Unexpected(format!(
            "SQLite reports {:?} after the schema edit; restore from backup",
            other.map(|c| c.quick_check.as_str())
        ))),
    }
}

// --- SQLite: remove NOT NULL from one column's definition ----------------------------

fn sqlite_drop_not_null(
    layout: &Layout,
    table: &str,
    column: &str,
) -> Result<Vec<Statement>, ToolError> {
    let create = layout
        .old_table_sql()
        .ok_or_else(|| ToolError::Unexpected(format!("no CREATE statement stored for {table}")))?;
    let edited = drop_not_null(create, column).ok_or_else(|| {
        ToolError::Unexpected(format!(
            "could not find a NOT NULL constraint on {column} in the CREATE statement of {table}; edit the table by hand"
        ))
    })?;
    let mut update = Sql::new(Backend::Sqlite);
    update
        .push("UPDATE sqlite_master SET sql = ")
        .bind(Bind::Text(edited))
        .push(" WHERE type = 'table' AND name = ")
        .bind(Bind::Text(table.to_owned()));
    let pragma = |text: &str| {
        let mut s = Sql::new(Backend::Sqlite);
        s.push(text);
        Statement::Sql(s)
    };
    Ok(vec![
        pragma("PRAGMA writable_schema = ON"),
        Statement::Sql(update),
        Statement::SqliteBumpSchemaVersion,
        pragma("PRAGMA writable_schema = OFF"),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Token {
    start: usize,
    end: usize,
}

/// Splits SQL into tokens: words, quoted names and strings, parenthesised groups (one
/// token each), and single punctuation characters.
fn tokens(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        match c {
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == close {
                        // A doubled quote is an escaped quote inside the token.
                        if close != b']' && bytes.get(i + 1) == Some(&close) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
            }
            b'(' => {
                let mut depth = 0;
                while i < bytes.len() {
                    match bytes[i] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        q @ (b'\'' | b'"' | b'`') => {
                            i += 1;
                            while i < bytes.len() && bytes[i] != q {
                                i += 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        out.push(Token {
            start,
            end: i.min(bytes.len()),
        });
    }
    out
}

fn unquote(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() >= 2
        && matches!(
            (b[0], b[b.len() - 1]),
            (b'"', b'"') | (b'`', b'`') | (b'[', b']') | (b'\'', b'\'')
        )
    {
        &name[1..name.len() - 1]
    } else {
        name
    }
}

/// The definition of `column` in a MySQL `SHOW CREATE TABLE`, from its name on, with its
/// `NOT NULL` replaced by `NULL`; `None` when the column or the constraint is not found.
fn mysql_nullable_definition(create: &str, column: &str) -> Option<String> {
    let (start, end) = column_definition(create, column)?;
    let def = &create[start..end];
    let dt = tokens(def);
    let word = |i: usize, w: &str| {
        dt.get(i)
            .is_some_and(|t| def[t.start..t.end].eq_ignore_ascii_case(w))
    };
    let at = (1..dt.len()).find(|&i| word(i, "NOT") && word(i + 1, "NULL"))?;
    Some(format!(
        "{}{}",
        &def[..dt[at].start],
        def[dt[at + 1].start..].trim_end()
    ))
}

/// Where `column`'s definition lies in a CREATE TABLE statement: byte range, from the
/// column's name to the comma or parenthesis that ends it.
fn column_definition(create: &str, column: &str) -> Option<(usize, usize)> {
    let top = tokens(create);
    let list = top.iter().find(|t| create.as_bytes()[t.start] == b'(')?;
    let inner_start = list.start + 1;
    let inner = &create[inner_start..list.end - 1];
    let toks = tokens(inner);
    let mut def_start = 0;
    let mut bounds = Vec::new();
    for t in &toks {
        if &inner[t.start..t.end] == "," {
            bounds.push((def_start, t.start));
            def_start = t.end;
        }
    }
    bounds.push((def_start, inner.len()));
    bounds.into_iter().find_map(|(ds, de)| {
        let def = &inner[ds..de];
        let first = tokens(def).into_iter().next()?;
        unquote(&def[first.start..first.end])
            .eq_ignore_ascii_case(column)
            .then(|| (inner_start + ds + first.start, inner_start + de))
    })
}

/// The CREATE TABLE statement with every NOT NULL constraint (with its optional
/// `CONSTRAINT name` and `ON CONFLICT ...`) removed from `column`'s definition; `None`
/// when the column or the constraint is not found.
fn drop_not_null(create: &str, column: &str) -> Option<String> {
    let top = tokens(create);
    let list = top.iter().find(|t| create.as_bytes()[t.start] == b'(')?;
    let inner_start = list.start + 1;
    let inner = &create[inner_start..list.end - 1];
    // Column definitions are separated by top-level commas.
    let toks = tokens(inner);
    let mut defs: Vec<(usize, usize)> = Vec::new();
    let mut def_start = 0;
    for t in &toks {
        if &inner[t.start..t.end] == "," {
            defs.push((def_start, t.start));
            def_start = t.end;
        }
    }
    defs.push((def_start, inner.len()));
    for (ds, de) in defs {
        let def = &inner[ds..de];
        let dt = tokens(def);
        let Some(first) = dt.first() else { continue };
        if !unquote(&def[first.start..first.end]).eq_ignore_ascii_case(column) {
            continue;
        }
        let word = |i: usize, w: &str| {
            dt.get(i)
                .is_some_and(|t| def[t.start..t.end].eq_ignore_ascii_case(w))
        };
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        let mut i = 1;
        while i + 1 < dt.len() {
            if word(i, "NOT") && word(i + 1, "NULL") {
                let mut from = i;
                if i >= 3 && word(i - 2, "CONSTRAINT") {
                    from = i - 2;
                }
                let mut to = i + 1;
                if word(to + 1, "ON") && word(to + 2, "CONFLICT") && to + 3 < dt.len() {
                    to += 3;
                }
                cuts.push((dt[from].start, dt[to].end));
                i = to + 1;
            } else {
                i += 1;
            }
        }
        if cuts.is_empty() {
            return None;
        }
        let mut new_def = def.to_owned();
        for (s, e) in cuts.into_iter().rev() {
            new_def.replace_range(s..e, "");
        }
        let new_def = new_def.split_whitespace().collect::<Vec<_>>().join(" ");
        let leading = &def[..def.len() - def.trim_start().len()];
        let trailing = &def[def.trim_end().len()..];
        let mut out = String::with_capacity(create.len());
        out.push_str(&create[..inner_start + ds]);
        out.push_str(leading);
        out.push_str(&new_def);
        out.push_str(trailing);
        out.push_str(&create[inner_start + de..]);
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_not_null_from_one_column_only() {
        let create = "CREATE TABLE \"users\" (id INTEGER PRIMARY KEY NOT NULL, full_name VARCHAR(255) NOT NULL DEFAULT 'a, NOT NULL', email TEXT NOT NULL)";
        assert_eq!(
            drop_not_null(create, "full_name").unwrap(),
            "CREATE TABLE \"users\" (id INTEGER PRIMARY KEY NOT NULL, full_name VARCHAR(255) DEFAULT 'a, NOT NULL', email TEXT NOT NULL)"
        );
        assert_eq!(
            drop_not_null("CREATE TABLE t (\n  \"Full Name\" text CONSTRAINT nn NOT NULL ON CONFLICT ABORT CHECK (length(\"Full Name\") > 0)\n)", "full name").unwrap(),
            "CREATE TABLE t (\n  \"Full Name\" text CHECK (length(\"Full Name\") > 0)\n)"
        );
        assert_eq!(drop_not_null("CREATE TABLE t (a text, b text)", "a"), None);
        assert_eq!(drop_not_null("CREATE TABLE t (a text NOT NULL)", "c"), None);
    }

    #[test]
    fn mysql_definition_keeps_everything_but_not_null() {
        let create = "CREATE TABLE `users` (\n  `id` bigint(20) NOT NULL,\n  `full_name` varchar(255) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT 'a, NOT NULL' COMMENT 'legal name',\n  `email` text NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
        assert_eq!(
            mysql_nullable_definition(create, "full_name").unwrap(),
            "`full_name` varchar(255) CHARACTER SET latin1 COLLATE latin1_bin NULL DEFAULT 'a, NOT NULL' COMMENT 'legal name'"
        );
        assert_eq!(
            mysql_nullable_definition(create, "email").unwrap(),
            "`email` text NULL"
        );
        assert_eq!(
            mysql_nullable_definition("CREATE TABLE `t` (\n  `a` text DEFAULT NULL\n)", "a"),
            None
        );
        assert_eq!(mysql_nullable_definition(create, "nope"), None);
    }
}
