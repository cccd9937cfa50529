//! The DDL of steps 1, 7 and 10, in each backend's dialect: printed for review, or
//! applied.
//!
//! - `prepare-storage` (1): create the new table, or add the new column, and an index on
//!   it for each index the old column has.
//! - `prepare-old-stop` (7): make the old column nullable. SQLite has no
//!   `ALTER COLUMN`; there the table's stored `CREATE` statement is edited under
//!   `writable_schema`, the procedure SQLite documents for removing a NOT NULL constraint
//!   (no data is rewritten).
//! - `drop-old` (10): drop the old column (never with CASCADE; on SQLite the indexes on
//!   it are dropped first, since SQLite refuses to drop an indexed column); for JSON remove
//!   the key from every document; for EAV delete the attribute's rows.
//!
//! Each step is planned with the old storage's dependents
//! ([`attrmig_core::dependents`]): what the statements take along, and what stands in
//! their way, is part of the plan and printed before anything runs.

use attrmig_core::Step;
use attrmig_core::collation::Collation;
use attrmig_core::dependents::{Dependent, DependentKind, FoundBy, OWN_PREFIX, OnDrop};
use attrmig_core::facts::TableFact;
use attrmig_core::guards::{absence_verdicts, taken_along};
use attrmig_core::ident::{Ident, MAX_IDENT_LEN};
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
    /// What the statements take along with old storage (indexes, constraints).
    pub takes_along: Vec<String>,
    /// What stands in the statements' way: the database refuses them, or it breaks
    /// after them.
    pub blocked_by: Vec<String>,
    /// For prepare-old-stop: what still refuses a write without the attribute after it.
    pub still_refused_by: Vec<String>,
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
    /// What the statements take along with old storage.
    pub takes_along: Vec<String>,
    /// What stands in their way.
    pub blocked_by: Vec<String>,
    /// What still refuses a write without the attribute after prepare-old-stop.
    pub still_refused_by: Vec<String>,
}

impl Ddl {
    fn new(step: Step, statements: Vec<Statement>) -> Ddl {
        Ddl {
            step,
            statements,
            note: None,
            takes_along: Vec::new(),
            blocked_by: Vec::new(),
            still_refused_by: Vec::new(),
        }
    }

    /// For output and the audit log.
    pub fn report(&self) -> DdlReport {
        DdlReport {
            step: self.step.id(),
            statements: self.statements.iter().map(Statement::display).collect(),
            note: self.note.clone(),
            takes_along: self.takes_along.clone(),
            blocked_by: self.blocked_by.clone(),
            still_refused_by: self.still_refused_by.clone(),
        }
    }
}

/// The steps that have DDL.
pub const DDL_STEPS: [Step; 3] = [Step::PrepareStorage, Step::PrepareOldStop, Step::DropOld];

/// The DDL for `step`, given what the database looks like now and what depends on old
/// storage (`attrmig_db::dependents::of`).
pub fn plan(layout: &Layout, step: Step, dependents: &[Dependent]) -> Result<Ddl, ToolError> {
    match step {
        Step::PrepareStorage => prepare_storage(layout, dependents),
        Step::PrepareOldStop => prepare_old_stop(layout, dependents),
        Step::DropOld => drop_old(layout, dependents),
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
    let mut ddl = Ddl::new(step, Vec::new());
    ddl.note = Some(note);
    Ok(ddl)
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

fn prepare_storage(layout: &Layout, dependents: &[Dependent]) -> Result<Ddl, ToolError> {
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
            if layout.same_table()
                || key
                    .columns()
                    .iter()
                    .all(|k| layout.new_table().column(k.as_str()).is_some()) =>
        {
            let mut statements = vec![add_column(layout)];
            statements.extend(new_indexes(layout, dependents));
            Ok(Ddl::new(Step::PrepareStorage, statements))
        }
        TableFact::Present { .. } => Err(ToolError::Unexpected(format!(
            "table {table} exists without the key column {key}; fix [new] in plans/{}.toml or the table by hand",
            plan.id
        ))),
        TableFact::Missing { .. } => {
            // Each new key column takes its old counterpart's type (they pair up in order),
            // and its character set and collation too: the new key calls the same keys
            // equal as the old one, or 'alice' and 'ALICE' could become one key.
            let key_type = |old: &Ident| -> Result<String, ToolError> {
                let column = layout.old_table().column(old.as_str());
                let data_type = column
                    .map(|c| c.data_type.clone())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "BIGINT".to_owned());
                Ok(format!(
                    "{data_type}{}",
                    collate_clause(b, column.and_then(|c| c.collation.as_ref()))?
                ))
            };
            let create = match key.columns() {
                [one] => format!(
                    "CREATE TABLE {} ({} {} NOT NULL PRIMARY KEY, {} {value_type})",
                    b.quote(table),
                    b.quote(one),
                    key_type(&plan.old.key().columns()[0])?,
                    b.quote(column)
                ),
                // A key of several columns is the table's primary key as a whole.
                _ => {
                    let mut columns = Vec::with_capacity(key.len());
                    for (new, old) in key.columns().iter().zip(plan.old.key().columns()) {
                        columns.push(format!("{} {} NOT NULL", b.quote(new), key_type(old)?));
                    }
                    format!(
                        "CREATE TABLE {} ({}, {} {value_type}, PRIMARY KEY ({}))",
                        b.quote(table),
                        columns.join(", "),
                        b.quote(column),
                        key.columns()
                            .iter()
                            .map(|c| b.quote(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            };
            let mut statements = vec![sql(layout, create)];
            statements.extend(new_indexes(layout, dependents));
            Ok(Ddl::new(Step::PrepareStorage, statements))
        }
    }
}

/// ` CHARACTER SET cs COLLATE name` (MySQL/MariaDB), ` COLLATE "name"` (PostgreSQL),
/// ` COLLATE NAME` (SQLite): a column declared this way has `collation`. Empty where the
/// backend's default is meant (PostgreSQL's `default`, SQLite's `BINARY`).
pub(crate) fn collate_clause(
    b: Backend,
    collation: Option<&Collation>,
) -> Result<String, ToolError> {
    let Some(c) = collation else {
        return Ok(String::new());
    };
    // Names come from the catalogue; one that isn't a plain word is refused rather than
    // spliced into DDL (and rather than dropped, which would change the key's equality).
    let word = |s: &str| {
        if !s.is_empty() && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            Ok(s.to_owned())
        } else {
            Err(ToolError::Unexpected(format!(
                "the old key's collation {s:?} is not a plain name; write the new table's DDL by hand with the old key's collation"
            )))
        }
    };
    Ok(match b {
        Backend::Mysql => match &c.charset {
            Some(cs) => format!(" CHARACTER SET {} COLLATE {}", word(cs)?, word(&c.name)?),
            None => format!(" COLLATE {}", word(&c.name)?),
        },
        Backend::Postgres if c.name == "default" => String::new(),
        // PostgreSQL collation names such as `en-US-x-icu` need quotes; a quoted name
        // can't break out of them once `"` is doubled. A user's collation is named with
        // its schema, which the search path need not hold.
        Backend::Postgres => {
            let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            match &c.schema {
                Some(schema) => format!(" COLLATE {}.{}", quoted(schema), quoted(&c.name)),
                None => format!(" COLLATE {}", quoted(&c.name)),
            }
        }
        Backend::Sqlite if c.name.eq_ignore_ascii_case("binary") => String::new(),
        Backend::Sqlite => format!(" COLLATE {}", word(&c.name)?),
    })
}

/// An index on new storage for each index on the old column whose columns all have a
/// counterpart there (the old column is the new column, the old key the new key; other
/// columns only when new storage is the old table). Expression and partial indexes are
/// left to a person: their text is the old column's.
fn new_indexes(layout: &Layout, dependents: &[Dependent]) -> Vec<Statement> {
    let plan = layout.plan();
    let OldStorage::Column { column, key, .. } = &plan.old else {
        return Vec::new();
    };
    let b = layout.backend();
    let new = &plan.new;
    dependents
        .iter()
        .filter(|d| matches!(d.kind, DependentKind::Index | DependentKind::Unique))
        .filter(|d| {
            d.found_by == FoundBy::Catalogue && d.columns.iter().any(|c| c == column.as_str())
        })
        .filter_map(|d| {
            let columns: Vec<Ident> = d
                .columns
                .iter()
                .map(|c| {
                    if c == column.as_str() {
                        Some(new.column.clone())
                    } else if let Some(i) = key.columns().iter().position(|k| k.as_str() == c) {
                        // The old key column's counterpart, in the same position.
                        new.key.columns().get(i).cloned()
                    } else if layout.same_table() {
                        Ident::new(c).ok()
                    } else {
                        None
                    }
                })
                .collect::<Option<_>>()?;
            let unique = d.unique || d.kind == DependentKind::Unique;
            let name = own_name(&format!(
                "{}_{}",
                new.table.name,
                columns
                    .iter()
                    .map(Ident::as_str)
                    .collect::<Vec<_>>()
                    .join("_")
            ));
            Some(sql(
                layout,
                format!(
                    "CREATE {}INDEX {} ON {} ({})",
                    if unique { "UNIQUE " } else { "" },
                    b.quote(&name),
                    b.quote(&new.table),
                    columns
                        .iter()
                        .map(|c| b.quote(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        })
        .collect()
}

/// `attrmig_<what>`: the name of an object attrmig creates, so that it is never taken
/// for a dependent; shortened with a digest to fit every backend's limit.
fn own_name(what: &str) -> Ident {
    use sha2::{Digest, Sha256};
    let full = format!("{OWN_PREFIX}{what}");
    let name = if full.len() <= MAX_IDENT_LEN {
        full
    } else {
        let digest = Sha256::digest(full.as_bytes());
        let tag: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("{}_{tag}", &full[..MAX_IDENT_LEN - tag.len() - 1])
    };
    Ident::new(&name).expect("built from identifiers")
}

fn prepare_old_stop(layout: &Layout, dependents: &[Dependent]) -> Result<Ddl, ToolError> {
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
    let verdicts = absence_verdicts(dependents, col.default.as_deref(), None);
    let mut still_refused_by: Vec<String> = verdicts
        .refused
        .iter()
        .map(|(d, why)| format!("{} ({why})", d.describe()))
        .collect();
    still_refused_by.extend(
        verdicts
            .unjudged
            .iter()
            .map(|d| format!("{} (attrmig can't tell)", d.describe())),
    );
    let blocked_by: Vec<String> = dependents
        .iter()
        .filter(|d| d.kind == DependentKind::PrimaryKey)
        .map(|d| format!("{}: a key column can't be made optional", d.describe()))
        .collect();
    if col.nullable {
        let mut ddl = nothing(
            Step::PrepareOldStop,
            format!("{table}.{column} is already nullable"),
        )?;
        ddl.still_refused_by = still_refused_by;
        return Ok(ddl);
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
        Backend::Sqlite => sqlite_drop_not_null(layout, table.name.as_str(), column.as_str())?,
    };
    let mut ddl = Ddl::new(Step::PrepareOldStop, statements);
    ddl.blocked_by = blocked_by;
    ddl.still_refused_by = still_refused_by;
    Ok(ddl)
}

fn drop_old(layout: &Layout, dependents: &[Dependent]) -> Result<Ddl, ToolError> {
    let plan = layout.plan();
    let b = layout.backend();
    let mut first = Vec::new();
    let statement = match &plan.old {
        OldStorage::Column { table, column, .. } => {
            if layout.old_table().column(column.as_str()).is_none() {
                return nothing(Step::DropOld, format!("{table}.{column} is already gone"));
            }
            if b == Backend::Sqlite {
                // SQLite refuses to drop an indexed column; the indexes CREATE INDEX made
                // go first, as PostgreSQL and MySQL drop them with the column.
                first = dependents
                    .iter()
                    .filter(|d| d.kind == DependentKind::Index && d.on_drop == OnDrop::DroppedWith)
                    .filter_map(|d| d.drop_statement.clone())
                    .map(|text| sql(layout, text))
                    .collect();
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
    first.push(statement);
    // The late-write trigger installed at 9 goes first: it is attrmig's own, it would
    // log the drop's own writes, and PostgreSQL and SQLite refuse to drop a column a
    // trigger names.
    let mut statements: Vec<Statement> = crate::late_log::remove_statements(layout)
        .into_iter()
        .map(Statement::Sql)
        .collect();
    statements.extend(first);
    let mut ddl = Ddl::new(Step::DropOld, statements);
    if matches!(plan.old, OldStorage::Column { .. }) {
        ddl.takes_along = taken_along(dependents);
    } else {
        ddl.note = Some(format!(
            "--apply runs the last statement in keyset batches of {} keys (the plan's [sync] batch_size and max_rows_per_second), one transaction each; a run that is killed goes on from its checkpoint when run again",
            plan.sync.batch_size
        ));
    }
    ddl.blocked_by = dependents
        .iter()
        .filter(|d| d.stands_in_the_way())
        .map(Dependent::describe_with_evidence)
        .collect();
    Ok(ddl)
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
